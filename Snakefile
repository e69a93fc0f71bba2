# MFON pipeline: raw clip videos -> manifest -> acoustic, visual and text HDF5 features -> unimodal teachers
# -> MFON runs (variants x seeds) -> metric tables; MMSA's baselines on the same features (rules/baselines.smk).
# The stages, their inputs, outputs and knobs are all in rules/*.smk; the logic lives in the mfon package.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/demo.smk"
include: "rules/ingest.smk"
include: "rules/features.smk"
include: "rules/import.smk"
include: "rules/teachers.smk"
include: "rules/mfon.smk"
include: "rules/search.smk"
include: "rules/tables.smk"
include: "rules/baselines.smk"
include: "rules/report.smk"


rule all:
    input:
        [final_targets(name) for name in config["targets"]],
        [report_targets(name) for name in config["targets"]],
    default_target: True
