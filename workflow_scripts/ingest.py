import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.logutil import run_step, setup_logging
from mfon.manifest import ingest, write_ingest

setup_logging(snakemake.log[0])
opts = snakemake.params.ingest
result = run_step(ingest, snakemake.input.labels, snakemake.params.root, label_range=snakemake.params.label_range,
                  splits=snakemake.params.splits, on_bad_clip=opts["on_bad_clip"],
                  require_video=opts["require_video"], require_audio=opts["require_audio"],
                  media_extension=opts["media_extension"], threads=snakemake.threads)
write_ingest(result, snakemake.output.manifest, snakemake.output.rejected)
