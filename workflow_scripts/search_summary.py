import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.logutil import run_step, setup_logging
from mfon.search import summarize_search

setup_logging(snakemake.log[0])
run_step(summarize_search, list(snakemake.input.trials), snakemake.params.overrides, snakemake.output.table,
         snakemake.output.best, metric=snakemake.params.metric)
