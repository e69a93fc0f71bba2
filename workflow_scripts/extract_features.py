# Used by acoustic_features_shard and visual_features_shard: the rule's name says the modality.
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.extraction import extract_shard
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
modality = snakemake.rule.split("_")[0]
section = snakemake.params[modality]
run_step(extract_shard, snakemake.input.manifest, snakemake.output.features, snakemake.output.report,
         modality=modality, dataset=snakemake.wildcards.dataset, settings=section,
         shard=int(snakemake.wildcards.shard), n_shards=int(snakemake.wildcards.n_shards),
         compression_level=snakemake.params.compression_level, no_face_policy=section.get("no_face_policy", "keep"))
