# Used by merged_predictions.
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.analysis import merge_predictions
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
n = len(snakemake.params.runs)
train = list(snakemake.input.train) or [None] * n
runs = [{"variant": v, "seed": s, "files": [f for f in (train_file, valid_test) if f]}
        for (v, s), valid_test, train_file in zip(snakemake.params.runs, snakemake.input.predictions, train)]
run_step(merge_predictions, runs, snakemake.input.manifest, snakemake.output.predictions)
