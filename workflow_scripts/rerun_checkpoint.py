# Used by representations (test split: pooled visual vectors) and train_predictions (train split predictions).
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.analysis import save_representations, save_split_predictions
from mfon.data import FeatureSources
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
sources = FeatureSources.for_dataset("results", snakemake.wildcards.dataset)
if snakemake.rule == "representations":
    run_step(save_representations, snakemake.input.checkpoint, sources, snakemake.output.vectors, split="test")
else:
    run_step(save_split_predictions, snakemake.input.checkpoint, sources, snakemake.output.predictions, split="train")
