# Used by features_shard (acoustic and visual).
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.extraction import extract_shard
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
settings = dict(snakemake.params.settings)
if settings.get("backend") == "pyfeat":
    settings["device"] = snakemake.resources.device  # where py-feat runs; not a setting of the result
run_step(extract_shard, snakemake.input.manifest, snakemake.output.features, snakemake.output.report,
         modality=snakemake.wildcards.modality, dataset=snakemake.wildcards.dataset, settings=settings,
         shard=int(snakemake.wildcards.shard), n_shards=int(snakemake.wildcards.n_shards),
         compression_level=snakemake.params.compression_level)
