# MFON and its ablation variants: one run per dataset, variant and seed, distilling from that seed's teachers.


rule train_mfon:
    input:
        unpack(lambda w: feature_files(w.dataset)),
        teachers=lambda w: teacher_inputs(w.dataset, w.variant, w.seed),
        code=code(*TRAINING_CODE),
    output:
        checkpoint="results/{dataset}/mfon/{variant}/seed{seed}/checkpoint.pt",
        metrics="results/{dataset}/mfon/{variant}/seed{seed}/metrics.json",
        predictions="results/{dataset}/mfon/{variant}/seed{seed}/predictions.tsv",
        history="results/{dataset}/mfon/{variant}/seed{seed}/history.tsv",
    params:
        run=lambda w: variant_settings(settings(w), w.variant),
        seed=lambda w: int(w.seed),
        metrics=lambda w: settings(w)["experiment"]["metrics"],
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/mfon/{variant}_seed{seed}.log",
    threads: lambda w: settings(w)["runtime"]["threads"]
    resources:
        gpu=lambda w: settings(w)["runtime"]["gpus"],
        mem_mb=8000,
        runtime=480,
    script:
        "../workflow_scripts/train_mfon.py"
