# Used by clip_status (every modality).
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.logutil import run_step, setup_logging
from mfon.qc import clip_status

setup_logging(snakemake.log[0])
inputs = snakemake.input
run_step(clip_status, inputs.rejected, inputs.manifest, inputs.acoustic, inputs.visual, inputs.text,
         snakemake.output.status)
