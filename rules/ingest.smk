# Validate label.csv, probe every clip -> manifest.tsv and qc/rejected.tsv (every clip left out, with its reason).
from mfon.manifest import ingest_mem_mb


rule ingest:
    input:
        labels=lambda w: f"{settings(w)['root']}/label.csv",
        code=code("ingest.py"),
    output:
        manifest=layout.manifest("{dataset}"),
        rejected=layout.rejected("{dataset}"),
    params:
        root=lambda w: settings(w)["root"],
        label_range=lambda w: settings(w)["label_range"],
        splits=lambda w: settings(w)["splits"],
        ingest=lambda w: settings(w)["ingest"],
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        main=layout.log("{dataset}", "ingest"),
        # Every rejected clip with its reason when ingest stops (a failed job's outputs are removed; logs stay).
        rejected=layout.log("{dataset}", "ingest_rejected", ext="tsv"),
    threads: 2
    resources:
        # Grows with the sheet: about 1.4 GB for a million rows (benchmarks/ingest_scale.py).
        mem_mb=lambda w, input: ingest_mem_mb(input.labels),
        runtime=60,
    script:
        "../workflow_scripts/ingest.py"
