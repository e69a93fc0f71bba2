# Metric tables: one row per variant, mean and population std over seeds, the paper's numbers beside ours.


rule table:
    input:
        runs=table_runs("variants"),
        clip_status="results/{dataset}/qc/clip_status.tsv",
        code=code("tables.py", "metrics.py", "paper.py", "atomic.py"),
    output:
        table=report("results/{dataset}_table.csv", caption="../report/tables.rst", category="{dataset}",
                     subcategory="Tables", labels={"table": "table", "form": "CSV"}),
    params:
        folders=lambda w: {v: run_folder(w.dataset, v) for v in settings(w)["experiment"]["variants"]},
        paper=lambda w: settings(w).get("paper"),
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


rule ablation_table:
    input:
        runs=table_runs("ablation_variants"),
        clip_status="results/{dataset}/qc/clip_status.tsv",
        code=code("tables.py", "metrics.py", "paper.py", "atomic.py"),
    output:
        table=report("results/{dataset}_ablation.csv", caption="../report/tables.rst", category="{dataset}",
                     subcategory="Tables", labels={"table": "ablation", "form": "CSV"}),
    params:
        folders=lambda w: {v: run_folder(w.dataset, v) for v in settings(w)["experiment"]["ablation_variants"]},
        paper=lambda w: settings(w).get("paper"),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/ablation_table.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_table.py"
