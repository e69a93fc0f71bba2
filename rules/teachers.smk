# Unimodal teachers (intra-modal distillation sources): one run per dataset, modality and seed.


rule train_teacher:
    input:
        unpack(lambda w: feature_files(w.dataset, (w.modality,))),
        code=code(*TRAINING_CODE),
    output:
        checkpoint="results/{dataset}/teachers/{modality}/seed{seed}/checkpoint.pt",
        metrics="results/{dataset}/teachers/{modality}/seed{seed}/metrics.json",
        predictions="results/{dataset}/teachers/{modality}/seed{seed}/predictions.tsv",
        history="results/{dataset}/teachers/{modality}/seed{seed}/history.tsv",
    params:
        run=lambda w: teacher_settings(settings(w), w.modality),
        seed=lambda w: int(w.seed),
        metrics=lambda w: settings(w)["experiment"]["metrics"],
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/teachers/{modality}_seed{seed}.log",
    threads: lambda w: settings(w)["runtime"]["threads"]
    resources:
        gpu=lambda w: settings(w)["runtime"]["gpus"],
        mem_mb=4000,
        runtime=120,
    script:
        "../workflow_scripts/train_teacher.py"


rule teacher_targets:
    input:
        unpack(lambda w: feature_files(w.dataset, (w.modality,))),
        checkpoint="results/{dataset}/teachers/{modality}/seed{seed}/checkpoint.pt",
        code=code(*TRAINING_CODE),
    output:
        targets="results/{dataset}/teachers/{modality}/seed{seed}/targets.h5",
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/teachers/{modality}_seed{seed}_targets.log",
    threads: lambda w: settings(w)["runtime"]["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../workflow_scripts/teacher_targets.py"
