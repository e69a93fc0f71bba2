# Used by table, ablation_table and baseline_table (its rows: baselines.models).
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from pathlib import Path

from mfon.logutil import run_step, setup_logging
from mfon.tables import build_table

setup_logging(snakemake.log[0])
runs = {variant: [Path(p) for p in snakemake.input[variant]] for variant in snakemake.params.variants}
run_step(build_table, runs, snakemake.output.table, dataset=snakemake.wildcards.dataset,
         paper=snakemake.params.paper)
