import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from pathlib import Path

from mfon.data import FeatureSources
from mfon.logutil import run_step, setup_logging
from mfon.training import train_teacher

setup_logging(snakemake.log[0])
run = snakemake.params.run
run_step(train_teacher, FeatureSources.for_dataset("results", snakemake.wildcards.dataset),
         snakemake.wildcards.modality, model=run["model"], training=run["training"], runtime=run["runtime"],
         seed=snakemake.params.seed, out_dir=Path(snakemake.output.checkpoint).parent,
         metric_family=snakemake.params.metrics, threads=snakemake.threads)
