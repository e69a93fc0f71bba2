# Used by train_mfon (a variant and seed) and search_trial (validation split only: test labels never read).
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from pathlib import Path

from mfon.data import FeatureSources
from mfon.logutil import run_step, setup_logging
from mfon.training import teacher_inputs, train_mfon

setup_logging(snakemake.log[0])
run = snakemake.params.run
is_trial = snakemake.rule == "search_trial"
teachers, targets = teacher_inputs(snakemake.input.teachers)
run_step(train_mfon, FeatureSources.for_dataset("results", snakemake.wildcards.dataset), teachers,
         model=run["model"], training=run["training"], loss=run["loss"], runtime=run["runtime"],
         seed=snakemake.params.seed, out_dir=Path(snakemake.output.checkpoint).parent,
         metric_family=snakemake.params.metrics,
         variant="mfon" if is_trial else snakemake.wildcards.variant,
         eval_splits=("valid",) if is_trial else ("valid", "test"), threads=snakemake.threads,
         teacher_targets=targets)
