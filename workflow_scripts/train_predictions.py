# Used by train_predictions.
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.data import FeatureSources
from mfon.logutil import run_step, setup_logging
from mfon.representations import save_split_predictions

setup_logging(snakemake.log[0])
run_step(save_split_predictions, snakemake.input.checkpoint, FeatureSources.from_files(snakemake.input),
         snakemake.output.predictions, split="train")
