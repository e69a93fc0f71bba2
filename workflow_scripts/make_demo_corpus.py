import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from pathlib import Path

from mfon.demo import generate_demo_corpus
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(generate_demo_corpus, Path(snakemake.output.labels).parent, **snakemake.params.demo)
