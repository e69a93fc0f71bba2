import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.analysis import per_seed_table
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
runs = [{"model": model, "seed": seed, "metrics": path}
        for (model, seed), path in zip(snakemake.params.runs, [*snakemake.input.metrics, *snakemake.input.teachers])]
run_step(per_seed_table, runs, snakemake.output.table)
