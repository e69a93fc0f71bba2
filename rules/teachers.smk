# Unimodal teachers (intra-modal distillation sources): one run per dataset, modality and seed, on the clips
# usable in that modality (qc/<modality>_clip_status.tsv), so that nothing of another modality reaches them.
# The teachers in the dataset's folder are the default experiment's, trained with its settings; a named experiment
# whose teacher settings differ trains its own in its folder (teacher_home in rules/common.smk).


rule train_teacher:
    input:
        unpack(lambda w: training_inputs(w.dataset, [w.modality])),
        code=code("train_teacher.py"),
    output:
        **layout.run_outputs(layout.teacher_dir("{dataset}", "{modality}", "{seed}")),
    params:
        run=lambda w: teacher_params(DEFAULT_DATASETS[w.dataset], w.modality)["run"],
        seed=lambda w: int(w.seed),
        metrics=lambda w: teacher_params(DEFAULT_DATASETS[w.dataset], w.modality)["metrics"],
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "teachers", "{modality}_seed{seed}"),
    threads: training_threads
    resources:
        **training_resources("teacher"),
    script:
        "../workflow_scripts/train_teacher.py"


rule teacher_targets:
    input:
        unpack(lambda w: training_inputs(w.dataset, [w.modality])),
        checkpoint=layout.run_outputs(layout.teacher_dir("{dataset}", "{modality}", "{seed}"))["checkpoint"],
        code=code("teacher_targets.py"),
    output:
        targets=layout.teacher_targets("{dataset}", "{modality}", "{seed}"),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "teachers", "{modality}_seed{seed}_targets"),
    threads: training_threads
    resources:
        **training_resources("teacher"),
    script:
        "../workflow_scripts/teacher_targets.py"


if EXPERIMENT is not None:

    use rule train_teacher as train_experiment_teacher with:
        output:
            **layout.run_outputs(layout.teacher_dir("{dataset}", "{modality}", "{seed}", EXPERIMENT)),
        params:
            run=lambda w: teacher_params(settings(w), w.modality)["run"],
            seed=lambda w: int(w.seed),
            metrics=lambda w: teacher_params(settings(w), w.modality)["metrics"],
        log:
            layout.experiment_log("{dataset}", EXPERIMENT, "teachers", "{modality}_seed{seed}"),

    use rule teacher_targets as experiment_teacher_targets with:
        input:
            unpack(lambda w: training_inputs(w.dataset, [w.modality])),
            checkpoint=layout.run_outputs(layout.teacher_dir("{dataset}", "{modality}", "{seed}", EXPERIMENT))[
                "checkpoint"],
            code=code("teacher_targets.py"),
        output:
            targets=layout.teacher_targets("{dataset}", "{modality}", "{seed}", EXPERIMENT),
        log:
            layout.experiment_log("{dataset}", EXPERIMENT, "teachers", "{modality}_seed{seed}_targets"),
