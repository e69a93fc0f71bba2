# Looking at results: figures, merged predictions, paper-style tables and the MMSA export, each made from files
# the pipeline already wrote; the figures and tables are marked for `snakemake --report` (captions in report/).


report: "../report/workflow.rst"


include: "report_helpers.smk"


RUN = layout.RUN_DIR_PATTERN  # any run folder: wildcards dataset, run_folder, seed


rule run_curves:
    input:
        history=layout.run_outputs(RUN)["history"],
        metrics=layout.run_outputs(RUN)["metrics"],
        code=code("figure_run_curves.py"),
    output:
        figure=report(layout.run_analysis_file(RUN, "curves"), caption="../report/run_curves.rst",
                      category="{dataset}", subcategory="Training curves per run",
                      labels={"run": "{run_folder}", "seed": "{seed}"}),
    params:
        title=lambda w: title(w.dataset, f"{run_variant(w)}, seed {w.seed}"),
    wildcard_constraints:
        run_folder=layout.RUN_FOLDER_REGEX,
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "{run_folder}_seed{seed}_curves"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/figure_run_curves.py"


# A unimodal teacher's curves: the same figure, from the teacher's run folder.
use rule run_curves as teacher_curves with:
    input:
        history=layout.run_outputs(layout.teacher_dir("{dataset}", "{modality}", "{seed}"))["history"],
        metrics=layout.run_outputs(layout.teacher_dir("{dataset}", "{modality}", "{seed}"))["metrics"],
        code=code("figure_run_curves.py"),
    output:
        figure=report(layout.run_analysis_file(layout.teacher_dir("{dataset}", "{modality}", "{seed}"), "curves"),
                      caption="../report/run_curves.rst", category="{dataset}",
                      subcategory="Training curves per run", labels={"run": "teacher {modality}", "seed": "{seed}"}),
    params:
        title=lambda w: title(w.dataset, f"{w.modality} teacher, seed {w.seed}"),
    wildcard_constraints:
        modality="|".join(layout.FRAME_MODALITIES),
    log:
        layout.log("{dataset}", "report", "teacher_{modality}_seed{seed}_curves"),


rule training_overview:
    input:
        histories=run_files("history"),
        metrics=run_files("metrics"),
        code=code("figure_training_overview.py"),
    output:
        figure=report(layout.plot("{dataset}", "training_overview"), caption="../report/training_overview.rst",
                      category="{dataset}", subcategory="Training curves", labels={"figure": "all runs"}),
    params:
        runs=lambda w: [[v, s] for v, s, _ in dataset_runs(w.dataset)],
        title=lambda w: title(w.dataset, "training curves of every variant and seed"),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "training_overview"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/figure_training_overview.py"


rule prediction_figure:
    input:
        predictions=lambda w: [layout.run_outputs(report_run_path(w.dataset, w.variant, s))["predictions"]
                               for s in settings(w)["experiment"]["seeds"]],
        code=code("figure_predictions.py"),
    output:
        figure=report(layout.plot("{dataset}", "predictions_{variant}"), caption="../report/predictions.rst",
                      category="{dataset}", subcategory="Predictions (test split)",
                      labels={"variant": "{variant}"}),
    params:
        family=lambda w: settings(w)["experiment"]["metrics"],
        seeds=lambda w: settings(w)["experiment"]["seeds"],
        title=lambda w: title(w.dataset, f"{w.variant}, test split"),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "predictions_{variant}"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/figure_predictions.py"


rule table_chart:
    input:
        table=layout.table("{dataset}", "{table}"),
        baselines=baseline_table,
        code=code("figure_table_chart.py"),
    output:
        figure=report(layout.plot("{dataset}", "{table}_chart"), caption="../report/table_chart.rst",
                      category="{dataset}", subcategory="Tables", labels={"table": "{table}", "form": "chart"}),
    params:
        title=lambda w: title(w.dataset, f"{w.table} (test split)"),
    wildcard_constraints:
        table="table|ablation",
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "{table}_chart"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/figure_table_chart.py"


rule qc_figure:
    input:
        clip_status=layout.clip_status("{dataset}"),
        **{m: layout.features("{dataset}", m) for m in layout.FRAME_MODALITIES},
        code=code("figure_qc.py"),
    output:
        figure=report(layout.plot("{dataset}", "qc"), caption="../report/qc.rst", category="{dataset}",
                      subcategory="Quality control", labels={"figure": "clips and frames"}),
    params:
        title=lambda w: title(w.dataset, "quality control"),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "qc"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../workflow_scripts/figure_qc.py"


rule tsne_figure:
    input:
        representations=lambda w: list(tsne_runs(w.dataset).values()),
        code=code("figure_tsne.py"),
    output:
        figure=report(layout.plot("{dataset}", "tsne_visual"), caption="../report/tsne.rst",
                      category="{dataset}", subcategory="Representations (Fig. 4)",
                      labels={"figure": "t-SNE of Z_v"}),
    params:
        variants=lambda w: list(tsne_runs(w.dataset)),
        family=lambda w: settings(w)["experiment"]["metrics"],
        seed=ANALYSIS["tsne_seed"],
        title=lambda w: title(w.dataset, "t-SNE of the pooled visual representation Z_v, test split"),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "tsne_visual"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../workflow_scripts/figure_tsne.py"


# A finished run's checkpoint rerun over one split: the test split's pooled visual vectors (for the t-SNE), or
# the train split's predictions (training writes valid and test only).
rule representations:
    input:
        unpack(run_inputs),
        checkpoint=layout.run_outputs(RUN)["checkpoint"],
        code=code("representations.py"),
    output:
        vectors=layout.run_analysis_file(RUN, "representations"),
    wildcard_constraints:
        run_folder=layout.RUN_FOLDER_REGEX,
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "{run_folder}_seed{seed}_representations"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow_scripts/representations.py"


rule train_predictions:
    input:
        unpack(run_inputs),
        checkpoint=layout.run_outputs(RUN)["checkpoint"],
        code=code("train_predictions.py"),
    output:
        predictions=layout.run_analysis_file(RUN, "train_predictions"),
    wildcard_constraints:
        run_folder=layout.RUN_FOLDER_REGEX,
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "{run_folder}_seed{seed}_train_predictions"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow_scripts/train_predictions.py"


rule merged_predictions:
    input:
        manifest=layout.manifest("{dataset}"),
        predictions=run_files("predictions"),
        train=lambda w: run_files("train_predictions")(w) if ANALYSIS["train_predictions"] else [],
        code=code("merge_predictions.py"),
    output:
        predictions=layout.merged_predictions("{dataset}"),
    params:
        runs=lambda w: [[v, s] for v, s, _ in dataset_runs(w.dataset)],
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "merged_predictions"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/merge_predictions.py"


rule paper_table:
    input:
        table=layout.table("{dataset}", "{table}"),
        baselines=baseline_table,
        code=code("paper_table.py"),
    output:
        markdown=layout.table("{dataset}", "{table}", ext="md"),
        page=report(layout.plot("{dataset}", "{table}", ext="html"), caption="../report/paper_table.rst",
                    category="{dataset}", subcategory="Tables", labels={"table": "{table}", "form": "table"}),
    params:
        title=lambda w: title(w.dataset, "MFON variants" if w.table == "table" else "ablation"),
    wildcard_constraints:
        table="table|ablation",
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "{table}_md"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/paper_table.py"


rule per_seed_table:
    input:
        metrics=run_files("metrics"),
        teachers=lambda w: [layout.run_outputs(folder)["metrics"]
                            for _, _, folder in teacher_runs(w.dataset, run_variants(w.dataset))],
        code=code("per_seed_table.py"),
    output:
        table=report(layout.table("{dataset}", "per_seed"), caption="../report/per_seed.rst", category="{dataset}",
                     subcategory="Tables", labels={"table": "per seed", "form": "table"}),
    params:
        # One (model, seed) per metrics file, in the order of the inputs: the runs, then the teachers.
        runs=lambda w: [[v, s] for v, s, _ in dataset_runs(w.dataset)]
                       + [[f"teacher {m}", s] for m, s, _ in teacher_runs(w.dataset, run_variants(w.dataset))],
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "per_seed_table"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/per_seed_table.py"


rule worst_clips:
    input:
        predictions=layout.merged_predictions("{dataset}"),
        manifest=layout.manifest("{dataset}"),
        code=code("worst_clips.py"),
    output:
        table=layout.worst_clips("{dataset}"),
        page=report(layout.worst_clips("{dataset}", ext="html"), caption="../report/worst_clips.rst",
                    category="{dataset}", subcategory="Predictions (test split)", labels={"variant": "worst clips"}),
    params:
        n=ANALYSIS["worst_clips"],
        title=lambda w: title(w.dataset, "worst-predicted test clips per variant"),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "report", "worst_clips"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/worst_clips.py"

