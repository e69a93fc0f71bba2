# Used by experiments_table.
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon import layout
from mfon.logutil import run_step, setup_logging
from mfon.tables import experiments_table

setup_logging(snakemake.log[0])
runs = layout.table_runs(snakemake.input, [f"g{i}" for i in range(len(snakemake.params.groups))])
run_step(experiments_table, [(experiment, variant, runs[f"g{i}"])
                             for i, (experiment, variant) in enumerate(snakemake.params.groups)],
         snakemake.output.table, snakemake.output.markdown, dataset=snakemake.wildcards.dataset,
         title=snakemake.params.title)
