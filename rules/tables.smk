# Metric tables: one row per variant, mean and population std over seeds, the paper's numbers beside ours.
# {table}: `table` or `ablation`, rows from experiment.variants or experiment.ablation_variants.


rule table:
    input:
        unpack(table_inputs),
        clip_status=layout.clip_status("{dataset}"),
        code=code("make_table.py"),
    output:
        table=report(layout.table("{dataset}", "{table}"), caption="../report/tables.rst", category="{dataset}",
                     subcategory="Tables", labels={"table": "{table}", "form": "CSV"}),
    params:
        variants=table_variants,
        paper=lambda w: settings(w).get("paper"),
    wildcard_constraints:
        table=one_of(TABLE_VARIANTS),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "{table}"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_table.py"
