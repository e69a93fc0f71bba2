import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.analysis import worst_clips
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(worst_clips, snakemake.input.predictions, snakemake.input.manifest, snakemake.output.table,
         snakemake.output.page, n=snakemake.params.n, title=snakemake.params.title)
