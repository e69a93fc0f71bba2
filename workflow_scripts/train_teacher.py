import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.data import FeatureSources
from mfon.experiment import job_runtime
from mfon.logutil import run_step, setup_logging
from mfon.teacher_training import train_teacher

setup_logging(snakemake.log[0])
run = snakemake.params.run
modality = snakemake.wildcards.modality
sources = FeatureSources.from_files(snakemake.input)
run_step(train_teacher, sources, modality, model=run["model"], training=run["training"],
         runtime=job_runtime(snakemake.resources), threads=snakemake.threads, seed=snakemake.params.seed,
         outputs=snakemake.output, metric_family=snakemake.params.metrics)
