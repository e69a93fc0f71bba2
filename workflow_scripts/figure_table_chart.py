import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.figures.table_chart import plot_table_chart
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(plot_table_chart, [*snakemake.input.baselines, snakemake.input.table], snakemake.output.figure, title=snakemake.params.title)
