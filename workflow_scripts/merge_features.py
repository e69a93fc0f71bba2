import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.extraction import merge_shards
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(merge_shards, snakemake.input.manifest, list(snakemake.input.shards), list(snakemake.input.reports),
         snakemake.output.features, snakemake.output.report, compression_level=snakemake.params.compression_level)
