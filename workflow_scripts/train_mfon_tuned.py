import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

import json
from pathlib import Path

from mfon.data import FeatureSources
from mfon.experiment import tuned_settings
from mfon.logutil import run_step, setup_logging
from mfon.training import teacher_inputs, train_mfon

setup_logging(snakemake.log[0])
best = json.loads(Path(snakemake.input.best).read_text())
run = run_step(tuned_settings, snakemake.params.settings, best["overrides"])
teachers, targets = teacher_inputs(snakemake.input.teachers)
run_step(train_mfon, FeatureSources.for_dataset("results", snakemake.wildcards.dataset), teachers,
         model=run["model"], training=run["training"], loss=run["loss"], runtime=run["runtime"],
         seed=snakemake.params.seed, out_dir=Path(snakemake.output.checkpoint).parent,
         metric_family=snakemake.params.metrics, variant="mfon", threads=snakemake.threads,
         teacher_targets=targets)
