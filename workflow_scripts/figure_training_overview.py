import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.figures.curves import plot_curves_overview
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
runs = [{"variant": v, "seed": s, "history": h, "metrics": m}
        for (v, s), h, m in zip(snakemake.params.runs, snakemake.input.histories, snakemake.input.metrics)]
run_step(plot_curves_overview, runs, snakemake.output.figure, title=snakemake.params.title)
