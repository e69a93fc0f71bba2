import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.logutil import run_step, setup_logging
from mfon.manifest import ingest_to_files

setup_logging(snakemake.log.main)
opts = snakemake.params.ingest
run_step(ingest_to_files, snakemake.input.labels, snakemake.params.root, snakemake.output.manifest,
         snakemake.output.rejected, snakemake.log.rejected, label_range=snakemake.params.label_range,
         splits=snakemake.params.splits, on_bad_clip=opts["on_bad_clip"], require_video=opts["require_video"],
         require_audio=opts["require_audio"], media_extension=opts["media_extension"], threads=snakemake.threads)
