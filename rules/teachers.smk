# Unimodal teachers (intra-modal distillation sources): one run per dataset, modality and seed, on the clips
# usable in that modality (qc/<modality>_clip_status.tsv), so that nothing of another modality reaches them.


rule train_teacher:
    input:
        unpack(lambda w: training_inputs(w.dataset, [w.modality])),
        code=code("train_teacher.py"),
    output:
        **layout.run_outputs(layout.teacher_dir("{dataset}", "{modality}", "{seed}")),
    params:
        run=lambda w: teacher_settings(settings(w), w.modality),
        seed=lambda w: int(w.seed),
        metrics=lambda w: settings(w)["experiment"]["metrics"],
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
