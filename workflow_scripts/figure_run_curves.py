import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.figures.curves import plot_run_curves
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(plot_run_curves, snakemake.input.history, snakemake.input.metrics, snakemake.output.figure,
         title=snakemake.params.title)
