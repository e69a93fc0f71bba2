import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from pathlib import Path

from mfon.logutil import run_step, setup_logging
from mfon.tables import build_table

setup_logging(snakemake.log[0])
runs = {v: [Path(p) for p in snakemake.input.runs if Path(p).parts[-3] == v] for v in snakemake.params.variants}
run_step(build_table, runs, snakemake.output.table, dataset=snakemake.wildcards.dataset)
