import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.figures.tsne import plot_tsne
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(plot_tsne, dict(zip(snakemake.params.variants, snakemake.input.representations)), snakemake.output.figure,
         title=snakemake.params.title, family=snakemake.params.family, seed=snakemake.params.seed)
