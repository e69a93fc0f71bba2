# Used by paper_table.
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.analysis import paper_table
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
# The baselines' rows (when the dataset has any) above MFON's, as in the paper's Tables 2-3.
run_step(paper_table, [*snakemake.input.baselines, snakemake.input.table], snakemake.output.markdown,
         snakemake.output.page, title=snakemake.params.title)
