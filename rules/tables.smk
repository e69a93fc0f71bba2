# Metric tables: one row per variant, mean and population std over seeds, the paper's numbers beside ours.
# {table}: `table` or `ablation`, rows from experiment.variants or experiment.ablation_variants; a named
# experiment's tables lie in its folder.


rule table:
    input:
        unpack(table_inputs),
        clip_status=layout.clip_status("{dataset}"),
        code=code("make_table.py"),
    output:
        table=report(layout.table("{dataset}", "{table}", experiment=EXPERIMENT), caption="../report/tables.rst",
                     category="{dataset}", subcategory="Tables", labels={"table": "{table}", "form": "CSV"}),
    params:
        variants=table_variants,
        paper=lambda w: settings(w).get("paper"),
    wildcard_constraints:
        table=one_of(TABLE_VARIANTS),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.experiment_log("{dataset}", EXPERIMENT, "{table}"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_table.py"


# Every experiment's runs side by side, one row per experiment and variant (README "Experiments side by side").
rule experiments_table:
    input:
        unpack(experiments_table_inputs),
        code=code("experiments_table.py"),
    output:
        table=report(layout.table("{dataset}", "experiments"), caption="../report/experiments.rst",
                     category="{dataset}", subcategory="Tables", labels={"table": "experiments", "form": "CSV"}),
        markdown=layout.table("{dataset}", "experiments", ext="md"),
    params:
        # (experiment, variant) of each group of inputs g<i>_*, in order; "default" names the unnamed one.
        groups=lambda w: [[experiment or layout.DEFAULT_EXPERIMENT, variant]
                          for experiment, variant, _ in experiment_groups(w.dataset)],
        title=lambda w: f"{w.dataset}: experiments side by side",
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "experiments_table"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/experiments_table.py"
