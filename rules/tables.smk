# The metric table of a dataset: one row per variant, mean and population std over seeds.


rule table:
    input:
        runs=table_runs,
        clip_status="results/{dataset}/qc/clip_status.tsv",
        code=code("tables.py", "metrics.py", "atomic.py"),
    output:
        table="results/{dataset}_table.csv",
    params:
        variants=lambda w: settings(w)["experiment"]["variants"],
        seeds=lambda w: settings(w)["experiment"]["seeds"],
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/table.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_table.py"
