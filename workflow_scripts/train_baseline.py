# Used by train_baseline: one MMSA model and seed on the dataset's MMSA export (mfon.baselines.runner).
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.baselines.runner import train_baseline
from mfon.experiment import job_runtime
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(train_baseline, snakemake.input.pickle, snakemake.input.made, snakemake.input.clip_status,
         dict(snakemake.output.items()), run=snakemake.params.run, seed=snakemake.params.seed,
         metric_family=snakemake.params.metrics, runtime=job_runtime(snakemake.resources), threads=snakemake.threads)
