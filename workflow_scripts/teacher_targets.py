import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from pathlib import Path

from mfon.data import FeatureSources
from mfon.logutil import run_step, setup_logging
from mfon.teacher_targets import write_teacher_targets

setup_logging(snakemake.log[0])
run_step(write_teacher_targets, Path(snakemake.input.checkpoint),
         FeatureSources.from_files(snakemake.input), Path(snakemake.output.targets),
         threads=snakemake.threads)
