import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.logutil import run_step, setup_logging
from mfon.qc import clip_status

setup_logging(snakemake.log[0])
run_step(clip_status, snakemake.input.rejected, snakemake.input.manifest, snakemake.input.acoustic,
         snakemake.input.visual, snakemake.input.text, snakemake.output.status)
