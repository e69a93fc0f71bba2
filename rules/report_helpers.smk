# What the report rules (rules/report.smk) draw, for which runs, and what `rule all` asks of them.

ANALYSIS = config["analysis"]


def run_variants(dataset):
    """The variants a dataset trains: the table's rows, then the ablation table's."""
    experiment = DATASETS[dataset]["experiment"]
    return list(dict.fromkeys(experiment["variants"] + experiment["ablation_variants"]))


def report_run_path(dataset, variant, seed):
    """A run the dataset's figures and analysis files draw on: the default experiment's; a command of a named
    experiment stops here rather than redraw the default's figures from its own runs."""
    if EXPERIMENT is not None:
        raise WorkflowError(f"experiment {EXPERIMENT!r}: the figures and analysis files of {dataset!r} are drawn "
                            "for the default experiment only; compare experiments in "
                            f"{layout.table(dataset, 'experiments')} (README \"Experiments side by side\")")
    return run_path(dataset, variant, seed)


def dataset_runs(dataset):
    """(variant, seed, run folder) of every MFON run of the dataset's tables."""
    return [(v, s, report_run_path(dataset, v, s))
            for v in run_variants(dataset) for s in DATASETS[dataset]["experiment"]["seeds"]]


def run_files(name):
    """``name`` (layout.RUN_ANALYSIS_FILES, or a training output) of every run of the wildcards' dataset."""
    made_by_training = name in layout.RUN_FILES
    return lambda w: [layout.run_outputs(folder)[name] if made_by_training else layout.run_analysis_file(folder, name)
                      for _, _, folder in dataset_runs(w.dataset)]


def run_variant(w):
    """The variant of the run a job with layout.RUN_DIR_PATTERN's wildcards is about."""
    return layout.parse_run_dir(layout.RUN_DIR_PATTERN.format(dataset=w.dataset, run_folder=w.run_folder,
                                                              seed=w.seed))["variant"]


def run_inputs(w):
    """What rerunning a run's checkpoint reads: the features of the modalities its variant uses."""
    return training_inputs(w.dataset, variant_settings(settings(w), run_variant(w))["modalities"])


def tsne_runs(dataset):
    seed = DATASETS[dataset]["experiment"]["seeds"][0]
    return {v: layout.run_analysis_file(report_run_path(dataset, v, seed), "representations")
            for v in ANALYSIS["tsne_variants"]}


def table_names(dataset):
    return ["table"] + (["ablation"] if DATASETS[dataset]["experiment"]["ablation_variants"] else [])


def report_targets(dataset):
    """What `rule all` builds for the report besides the tables (none when analysis.outputs is false, or for a
    named experiment)."""
    if not ANALYSIS["outputs"] or EXPERIMENT is not None:
        return []
    teachers = teacher_runs(dataset, run_variants(dataset))
    targets = [layout.plot(dataset, "training_overview"), layout.plot(dataset, "qc"),
               layout.merged_predictions(dataset), layout.table(dataset, "per_seed"),
               layout.worst_clips(dataset, ext="html"),
               *[layout.run_analysis_file(folder, "curves") for _, _, folder in dataset_runs(dataset)],
               *[layout.run_analysis_file(folder, "curves") for _, _, folder in teachers],
               *[layout.plot(dataset, f"predictions_{v}") for v in run_variants(dataset)],
               *[layout.plot(dataset, f"predictions_{m}") for m in baseline_models(dataset)],
               *[layout.table(dataset, t, ext="md") for t in table_names(dataset)],
               *[layout.plot(dataset, f"{t}_chart") for t in table_names(dataset)]]
    if set(ANALYSIS["tsne_variants"]) <= set(run_variants(dataset)):
        targets.append(layout.plot(dataset, "tsne_visual"))
    if dataset in RAW_DATASETS:
        targets.append(layout.mmsa_export(dataset))
    return targets


def title(dataset, what):
    return f"{dataset}: {what}"
