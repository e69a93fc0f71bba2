# Used by representations (test split: pooled visual vectors) and train_predictions (train split predictions).
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.data import FeatureSources
from mfon.logutil import run_step, setup_logging
from mfon.representations import save_representations, save_split_predictions

setup_logging(snakemake.log[0])
sources = FeatureSources.from_files(snakemake.input)
if snakemake.rule == "representations":
    run_step(save_representations, snakemake.input.checkpoint, sources, snakemake.output.vectors, split="test")
else:
    run_step(save_split_predictions, snakemake.input.checkpoint, sources, snakemake.output.predictions,
             split="train")
