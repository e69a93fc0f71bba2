import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.figures.qc import plot_qc
from mfon.layout import FRAME_MODALITIES
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(plot_qc, snakemake.input.clip_status, {m: snakemake.input[m] for m in FRAME_MODALITIES},
         snakemake.output.figure, title=snakemake.params.title)
