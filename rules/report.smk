# Looking at results: figures, merged predictions, paper-style tables and the MMSA export, each made from files
# the pipeline already wrote; the figures and tables are marked for `snakemake --report` (captions in report/).


report: "../report/workflow.rst"


include: "report_helpers.smk"


rule run_curves:
    input:
        history="results/{dataset}/{folder}/seed{seed}/history.tsv",
        metrics="results/{dataset}/{folder}/seed{seed}/metrics.json",
        code=code(*PLOT_CODE),
    output:
        figure=report("results/{dataset}/{folder}/seed{seed}/curves.png", caption="../report/run_curves.rst",
                      category="{dataset}", subcategory="Training curves per run",
                      labels={"run": "{folder}", "seed": "{seed}"}),
    params:
        title=lambda w: title(w, f"{folder_variant(w.folder)}, seed {w.seed}"),
    wildcard_constraints:
        folder=one_of(RUN_FOLDERS),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/report/{folder}_seed{seed}_curves.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_figure.py"


rule training_overview:
    input:
        histories=lambda w: [f"{folder}/history.tsv" for _, _, folder in dataset_runs(w.dataset)],
        metrics=lambda w: [f"{folder}/metrics.json" for _, _, folder in dataset_runs(w.dataset)],
        code=code(*PLOT_CODE),
    output:
        figure=report("results/{dataset}/plots/training_overview.png", caption="../report/training_overview.rst",
                      category="{dataset}", subcategory="Training curves", labels={"figure": "all runs"}),
    params:
        runs=lambda w: [[v, s] for v, s, _ in dataset_runs(w.dataset)],
        title=lambda w: title(w, "training curves of every variant and seed"),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/report/training_overview.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_figure.py"


rule prediction_figure:
    input:
        predictions=lambda w: [f"{run_folder(w.dataset, w.variant)}/seed{s}/predictions.tsv"
                               for s in settings(w)["experiment"]["seeds"]],
        code=code(*PLOT_CODE),
    output:
        figure=report("results/{dataset}/plots/predictions_{variant}.png", caption="../report/predictions.rst",
                      category="{dataset}", subcategory="Predictions (test split)",
                      labels={"variant": "{variant}"}),
    params:
        family=lambda w: settings(w)["experiment"]["metrics"],
        title=lambda w: title(w, f"{w.variant}, test split, seeds pooled"),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/report/predictions_{variant}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_figure.py"


rule table_chart:
    input:
        table="results/{dataset}_{table}.csv",
        code=code(*PLOT_CODE),
    output:
        figure=report("results/{dataset}/plots/{table}_chart.png", caption="../report/table_chart.rst",
                      category="{dataset}", subcategory="Tables", labels={"table": "{table}", "form": "chart"}),
    params:
        title=lambda w: title(w, f"{w.table} (test split)"),
    wildcard_constraints:
        table="table|ablation",
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/report/{table}_chart.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/make_figure.py"


rule qc_figure:
    input:
        clip_status="results/{dataset}/qc/clip_status.tsv",
        acoustic="results/{dataset}/features/acoustic_features.h5",
        visual="results/{dataset}/features/visual_features.h5",
        code=code(*PLOT_CODE),
    output:
        figure=report("results/{dataset}/plots/qc.png", caption="../report/qc.rst", category="{dataset}",
                      subcategory="Quality control", labels={"figure": "clips and frames"}),
    params:
        title=lambda w: title(w, "quality control"),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/report/qc.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow_scripts/make_figure.py"


rule tsne_figure:
    input:
        representations=lambda w: list(tsne_runs(w.dataset).values()),
        code=code(*PLOT_CODE),
    output:
        figure=report("results/{dataset}/plots/tsne_visual.png", caption="../report/tsne.rst",
                      category="{dataset}", subcategory="Representations (Fig. 4)",
                      labels={"figure": "t-SNE of Z_v"}),
    params:
        variants=lambda w: list(tsne_runs(w.dataset)),
        family=lambda w: settings(w)["experiment"]["metrics"],
        seed=ANALYSIS["tsne_seed"],
        title=lambda w: title(w, "t-SNE of the pooled visual representation Z_v, test split"),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/report/tsne_visual.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../workflow_scripts/make_figure.py"


# A finished run's checkpoint rerun over one split: the test split's pooled visual vectors (for the t-SNE), or
# the train split's predictions (training writes valid and test only).
rule representations:
    input:
        unpack(lambda w: feature_files(w.dataset)),
        checkpoint="results/{dataset}/{folder}/seed{seed}/checkpoint.pt",
        code=code(*TRAINING_CODE, "analysis.py", "provenance.py"),
    output:
        vectors="results/{dataset}/{folder}/seed{seed}/representations.npz",
    wildcard_constraints:
        folder=one_of(RUN_FOLDERS),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/report/{folder}_seed{seed}_representations.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow_scripts/rerun_checkpoint.py"


use rule representations as train_predictions with:
    output:
        predictions="results/{dataset}/{folder}/seed{seed}/train_predictions.tsv",
    log:
        "logs/{dataset}/report/{folder}_seed{seed}_train_predictions.log",


rule merged_predictions:
    input:
        manifest="results/{dataset}/manifest.tsv",
        predictions=lambda w: [f"{folder}/predictions.tsv" for _, _, folder in dataset_runs(w.dataset)],
        train=lambda w: [f"{folder}/train_predictions.tsv" for _, _, folder in dataset_runs(w.dataset)]
                        if ANALYSIS["train_predictions"] else [],
        code=code("analysis.py", "atomic.py"),
    output:
        predictions="results/{dataset}_predictions.tsv",
    params:
        runs=lambda w: [[v, s] for v, s, _ in dataset_runs(w.dataset)],
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/report/merged_predictions.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/merge_predictions.py"


rule paper_table:
    input:
        table="results/{dataset}_{table}.csv",
        code=code("analysis.py", "paper.py", "atomic.py"),
    output:
        markdown="results/{dataset}_{table}.md",
        page=report("results/{dataset}/plots/{table}.html", caption="../report/paper_table.rst",
                    category="{dataset}", subcategory="Tables", labels={"table": "{table}", "form": "table"}),
    params:
        title=lambda w: title(w, "MFON variants" if w.table == "table" else "ablation"),
    wildcard_constraints:
        table="table|ablation",
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/report/{table}_md.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/paper_table.py"


rule export_mmsa:
    input:
        unpack(lambda w: feature_files(w.dataset)),
        code=code("exporters/mmsa.py", "analysis.py", "h5store.py", "atomic.py", "provenance.py"),
    output:
        pickle="results/{dataset}/mmsa/unaligned.pkl",
        made="results/{dataset}/mmsa/unaligned.json",
    params:
        family=lambda w: settings(w)["experiment"]["metrics"],
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/export_mmsa.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow_scripts/export_mmsa.py"
