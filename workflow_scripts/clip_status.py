# Used by clip_status (every modality) and modality_clip_status (one modality, or an imported dataset's copy).
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.logutil import run_step, setup_logging
from mfon.qc import clip_status, copy_status, modality_status

setup_logging(snakemake.log[0])
inputs, out = snakemake.input, snakemake.output.status
if snakemake.rule == "clip_status":
    run_step(clip_status, inputs.rejected, inputs.manifest, inputs.acoustic, inputs.visual, inputs.text, out)
elif "status" in inputs.keys():
    run_step(copy_status, inputs.status, out)
else:
    modality = snakemake.wildcards.single_modality
    run_step(modality_status, inputs.rejected, inputs.manifest, inputs[modality], modality, out)
