# Metric tables: one row per variant, mean and population std over seeds, the paper's numbers beside ours.


rule table:
    input:
        unpack(table_inputs("variants")),
        clip_status=layout.clip_status("{dataset}"),
        code=code("make_table.py"),
    output:
        table=report(layout.table("{dataset}"), caption="../report/tables.rst", category="{dataset}",
                     subcategory="Tables", labels={"table": "table", "form": "CSV"}),
    params:
        variants=lambda w: settings(w)["experiment"]["variants"],
        paper=lambda w: settings(w).get("paper"),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "table"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_table.py"


rule ablation_table:
    input:
        unpack(table_inputs("ablation_variants")),
        clip_status=layout.clip_status("{dataset}"),
        code=code("make_table.py"),
    output:
        table=report(layout.table("{dataset}", "ablation"), caption="../report/tables.rst", category="{dataset}",
                     subcategory="Tables", labels={"table": "ablation", "form": "CSV"}),
    params:
        variants=lambda w: settings(w)["experiment"]["ablation_variants"],
        paper=lambda w: settings(w).get("paper"),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "ablation_table"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_table.py"
