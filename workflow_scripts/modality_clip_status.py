# Used by modality_clip_status: one modality's status of a raw dataset, or an imported dataset's copy of its
# status (common.smk's modality_status_inputs gives the one or the other).
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.logutil import run_step, setup_logging
from mfon.qc import copy_status, modality_status

setup_logging(snakemake.log[0])
inputs, out = snakemake.input, snakemake.output.status
if "status" in inputs.keys():
    run_step(copy_status, inputs.status, out)
else:
    modality = snakemake.wildcards.single_modality
    run_step(modality_status, inputs.rejected, inputs.manifest, inputs[modality], modality, out)
