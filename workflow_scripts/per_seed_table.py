import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.analysis import per_seed_table
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
runs = [{"model": m, "seed": s, "metrics": f}
        for m, s, f in zip(snakemake.params.models, snakemake.params.seeds,
                           [*snakemake.input.metrics, *snakemake.input.teachers])]
run_step(per_seed_table, runs, snakemake.output.table)
