# Used by table, ablation_table and baseline_table (its rows: baselines.models).
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon import layout
from mfon.logutil import run_step, setup_logging
from mfon.tables import build_table

setup_logging(snakemake.log[0])
run_step(build_table, layout.table_runs(snakemake.input, snakemake.params.variants), snakemake.output.table,
         dataset=snakemake.wildcards.dataset, paper=snakemake.params.paper)
