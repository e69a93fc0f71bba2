import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.importers.mmsa import import_mmsa_pickle
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
out = snakemake.output
source = snakemake.params.source
run_step(import_mmsa_pickle, snakemake.input.pickle, dataset=snakemake.wildcards.dataset,
         out_manifest=out.manifest, out_rejected=out.rejected, out_clip_status=out.clip_status, out_text=out.text,
         out_visual=out.visual, out_acoustic=out.acoustic, text_settings=snakemake.params.text,
         text_mode=source["text_mode"], label_range=snakemake.params.label_range,
         allow_unknown_sha=source["allow_unknown_sha"], compression_level=snakemake.params.compression_level)
