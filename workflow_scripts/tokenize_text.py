import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.features.text import tokenize_manifest
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(tokenize_manifest, snakemake.input.manifest, snakemake.output.features, dataset=snakemake.wildcards.dataset,
         settings=snakemake.params.settings, compression_level=snakemake.params.compression_level)
