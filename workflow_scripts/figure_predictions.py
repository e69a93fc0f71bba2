import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.figures.predictions import plot_predictions
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(plot_predictions, list(snakemake.input.predictions), snakemake.output.figure, title=snakemake.params.title,
         family=snakemake.params.family, seeds=snakemake.params.seeds)
