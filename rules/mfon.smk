# MFON and its ablation variants: one run per dataset, variant and seed, distilling from that seed's teachers.
# A run reads only the modalities its variant uses (text_only reads no frame features). Only this command's
# experiment's runs are made here (EXPERIMENT, rules/common.smk): another experiment's runs are never touched.


rule train_mfon:
    input:
        unpack(variant_inputs),
        code=code("train_mfon.py"),
    output:
        **layout.run_outputs(layout.run_dir("{dataset}", "{variant}", "{seed}", experiment=EXPERIMENT)),
    params:
        run=lambda w: variant_settings(settings(w), w.variant),
        seed=lambda w: int(w.seed),
        metrics=lambda w: settings(w)["experiment"]["metrics"],
        variant=lambda w: w.variant,
        eval_splits=["valid", "test"],
    conda:
        "../envs/mfon.yaml"
    log:
        layout.experiment_log("{dataset}", EXPERIMENT, "mfon", "{variant}_seed{seed}"),
    threads: training_threads
    resources:
        **training_resources("train"),
    script:
        "../workflow_scripts/train_mfon.py"
