# Random hyperparameter search (experiment.search): trials scored on the validation split only, the winner
# retrained over every seed as the `mfon` row of the tables. Trial checkpoints are temporary (--notemp keeps
# them): the search keeps each trial's metrics, and the winner is retrained.


rule search_trial:
    input:
        unpack(lambda w: full_model_inputs(w.dataset, search_seed(w.dataset))),
        code=code("train_mfon.py"),
    output:
        **{name: temp(path) if name == "checkpoint" else path
           for name, path in layout.run_outputs(layout.trial_dir("{dataset}", "{trial}", EXPERIMENT)).items()},
    params:
        run=lambda w: search_trial_settings(settings(w), int(w.trial)),
        seed=lambda w: search_seed(w.dataset),
        metrics=lambda w: settings(w)["experiment"]["metrics"],
        variant="mfon",
        # The test split is never read by a trial (its labels included).
        eval_splits=["valid"],
    conda:
        "../envs/mfon.yaml"
    log:
        layout.experiment_log("{dataset}", EXPERIMENT, "search", "trial{trial}"),
    threads: training_threads
    resources:
        **training_resources("train"),
    script:
        "../workflow_scripts/train_mfon.py"


rule search_summary:
    input:
        trials=search_trials,
        code=code("search_summary.py"),
    output:
        table=layout.table("{dataset}", "search", experiment=EXPERIMENT),
        best=layout.search_best("{dataset}", EXPERIMENT),
    params:
        overrides=lambda w: [search_trial_settings(settings(w), t)["overrides"]
                             for t in range(settings(w)["experiment"]["search"]["trials"])],
        metric=lambda w: settings(w)["experiment"]["search"]["metric"],
    conda:
        "../envs/mfon.yaml"
    log:
        layout.experiment_log("{dataset}", EXPERIMENT, "search_summary"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/search_summary.py"


rule train_mfon_tuned:
    input:
        unpack(lambda w: full_model_inputs(w.dataset, w.seed)),
        best=layout.search_best("{dataset}", EXPERIMENT),
        code=code("train_mfon_tuned.py"),
    output:
        **layout.run_outputs(layout.run_dir("{dataset}", "mfon", "{seed}", tuned=True, experiment=EXPERIMENT)),
    params:
        settings=lambda w: {k: settings(w)[k] for k in ("model", "loss", "training", "text")},
        seed=lambda w: int(w.seed),
        metrics=lambda w: settings(w)["experiment"]["metrics"],
    conda:
        "../envs/mfon.yaml"
    log:
        layout.experiment_log("{dataset}", EXPERIMENT, "mfon_tuned_seed{seed}"),
    threads: training_threads
    resources:
        **training_resources("train"),
    script:
        "../workflow_scripts/train_mfon_tuned.py"
