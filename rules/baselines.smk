# MMSA's models beside MFON: one run per dataset, model (baselines.models) and seed (experiment.seeds), trained on
# the dataset's MMSA export through MMSA_run with MMSA's settings for the dataset, tabulated like the MFON table.
# The logic is in mfon/baselines (docs/baselines.md); a model that cannot run is refused here, while planning.
include: "baseline_helpers.smk"


localrules:
    baseline_table,
    baseline_prediction_figure,


rule train_baseline:
    input:
        pickle=layout.mmsa_export("{dataset}"),
        made=layout.mmsa_export("{dataset}", ext="json"),
        clip_status=layout.clip_status("{dataset}"),
        code=code("train_baseline.py"),
    output:
        **layout.run_outputs(layout.baseline_dir("{dataset}", "{model}", "{seed}")),
    params:
        run=lambda w: planned_baseline(w.dataset, w.model),
        seed=lambda w: int(w.seed),
        metrics=lambda w: settings(w)["experiment"]["metrics"],
    wildcard_constraints:
        model=one_of(TEXT_INPUT),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "baselines", "{model}_seed{seed}"),
    threads: training_threads
    resources:
        **training_resources("baseline"),
    script:
        "../workflow_scripts/train_baseline.py"


rule baseline_table:
    input:
        unpack(baseline_table_inputs),
        clip_status=layout.clip_status("{dataset}"),
        code=code("make_table.py"),
    output:
        table=report(layout.table("{dataset}", "baselines"), caption="../report/tables.rst", category="{dataset}",
                     subcategory="Tables", labels={"table": "baselines", "form": "CSV"}),
    params:
        variants=lambda w: baseline_models(w.dataset),
        paper=lambda w: settings(w).get("paper"),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "baseline_table"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_table.py"


rule baseline_prediction_figure:
    input:
        predictions=lambda w: [layout.run_outputs(layout.baseline_dir(w.dataset, w.model, s))["predictions"]
                               for s in settings(w)["experiment"]["seeds"]],
        code=code("figure_predictions.py"),
    output:
        figure=report(layout.plot("{dataset}", "predictions_{model}"), caption="../report/predictions.rst",
                      category="{dataset}", subcategory="Predictions (test split)", labels={"variant": "{model}"}),
    params:
        family=lambda w: settings(w)["experiment"]["metrics"],
        seeds=lambda w: settings(w)["experiment"]["seeds"],
        title=lambda w: title(w.dataset, f"{w.model} (MMSA baseline), test split"),
    wildcard_constraints:
        model=one_of(TEXT_INPUT),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "predictions_{model}"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/figure_predictions.py"
