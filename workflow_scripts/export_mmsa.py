# Used by export_mmsa.
import sys

sys.path.insert(0, snakemake.scriptdir + "/..")  # the mfon of this checkout, the code the rule lists as input

from mfon.data import FeatureSources
from mfon.exporters.mmsa import export_mmsa_pickle
from mfon.logutil import run_step, setup_logging

setup_logging(snakemake.log[0])
run_step(export_mmsa_pickle, FeatureSources.from_files(snakemake.input),
         snakemake.output.pickle, family=snakemake.params.family, text_model=snakemake.params.text_model)
