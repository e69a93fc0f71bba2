# Random hyperparameter search (experiment.search): trials scored on the validation split only, the winner
# retrained over every seed as the `mfon` row of the tables.


rule search_trial:
    input:
        unpack(lambda w: feature_files(w.dataset)),
        teachers=lambda w: teacher_inputs(w.dataset, "mfon", search_seed(w.dataset)),
        code=code(*TRAINING_CODE, "search.py"),
    output:
        checkpoint="results/{dataset}/search/trial{trial}/checkpoint.pt",
        metrics="results/{dataset}/search/trial{trial}/metrics.json",
        predictions="results/{dataset}/search/trial{trial}/predictions.tsv",
        history="results/{dataset}/search/trial{trial}/history.tsv",
    params:
        run=lambda w: search_trial_settings(settings(w), int(w.trial)),
        seed=lambda w: search_seed(w.dataset),
        metrics=lambda w: settings(w)["experiment"]["metrics"],
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/search/trial{trial}.log",
    threads: lambda w: settings(w)["runtime"]["threads"]
    resources:
        gpu=lambda w: settings(w)["runtime"]["gpus"],
        mem_mb=8000,
        runtime=480,
    script:
        "../workflow_scripts/train_mfon.py"


rule search_summary:
    input:
        trials=search_trials,
        code=code("search.py", "atomic.py"),
    output:
        table="results/{dataset}_search.csv",
        best="results/{dataset}/search/best.json",
    params:
        overrides=lambda w: [search_trial_settings(settings(w), t)["overrides"]
                             for t in range(settings(w)["experiment"]["search"]["trials"])],
        metric=lambda w: settings(w)["experiment"]["search"]["metric"],
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/search_summary.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/search_summary.py"


rule train_mfon_tuned:
    input:
        unpack(lambda w: feature_files(w.dataset)),
        teachers=lambda w: teacher_inputs(w.dataset, "mfon", w.seed),
        best="results/{dataset}/search/best.json",
        code=code(*TRAINING_CODE, "search.py"),
    output:
        checkpoint="results/{dataset}/mfon_tuned/seed{seed}/checkpoint.pt",
        metrics="results/{dataset}/mfon_tuned/seed{seed}/metrics.json",
        predictions="results/{dataset}/mfon_tuned/seed{seed}/predictions.tsv",
        history="results/{dataset}/mfon_tuned/seed{seed}/history.tsv",
    params:
        settings=lambda w: {k: settings(w)[k] for k in ("model", "loss", "training", "runtime", "text")},
        seed=lambda w: int(w.seed),
        metrics=lambda w: settings(w)["experiment"]["metrics"],
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/mfon_tuned_seed{seed}.log",
    threads: lambda w: settings(w)["runtime"]["threads"]
    resources:
        gpu=lambda w: settings(w)["runtime"]["gpus"],
        mem_mb=8000,
        runtime=480,
    script:
        "../workflow_scripts/train_mfon_tuned.py"
