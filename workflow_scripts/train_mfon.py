# Used by train_mfon (a variant and seed) and search_trial (validation split only: test labels never read).
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.data import FeatureSources
from mfon.experiment import job_runtime
from mfon.logutil import run_step, setup_logging
from mfon.mfon_training import split_teacher_files, train_mfon

setup_logging(snakemake.log[0])
run = snakemake.params.run
checkpoints, stored = split_teacher_files({m: snakemake.input[f"teacher_{m}"] for m in run["teachers"]})
run_step(train_mfon, FeatureSources.from_files(snakemake.input), checkpoints, model=run["model"],
         training=run["training"], loss=run["loss"], runtime=job_runtime(snakemake.resources),
         threads=snakemake.threads, teacher_targets=stored, seed=snakemake.params.seed,
         outputs=snakemake.output, metric_family=snakemake.params.metrics,
         variant=snakemake.params.variant, eval_splits=tuple(snakemake.params.eval_splits))
