# Feature extraction. Acoustic and visual features are extracted in `extraction.shards` independent jobs
# per dataset (the unit of parallelism locally and on SLURM), then merged into one HDF5 file per modality;
# the shards are temporary (kept with --notemp). Text is tokenized in one job. Each file records how it was
# made (docs/feature_files.md).


rule acoustic_features_shard:
    input:
        manifest=layout.manifest("{dataset}"),
        code=extraction_code("acoustic"),
    output:
        features=temp(layout.feature_shard("{dataset}", "acoustic", "{shard}", "{n_shards}")),
        report=temp(layout.feature_shard("{dataset}", "acoustic", "{shard}", "{n_shards}", "tsv")),
    params:
        modality="acoustic",
        settings=extraction_params("acoustic"),
        compression_level=lambda w: settings(w)["extraction"]["compression_level"],
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "acoustic_features_{shard}of{n_shards}"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=240,
    script:
        "../workflow_scripts/extract_features.py"


rule visual_features_shard:
    input:
        manifest=layout.manifest("{dataset}"),
        code=extraction_code("visual"),
    output:
        features=temp(layout.feature_shard("{dataset}", "visual", "{shard}", "{n_shards}")),
        report=temp(layout.feature_shard("{dataset}", "visual", "{shard}", "{n_shards}", "tsv")),
    params:
        modality="visual",
        settings=extraction_params("visual"),
        compression_level=lambda w: settings(w)["extraction"]["compression_level"],
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "visual_features_{shard}of{n_shards}"),
    threads: 1
    resources:
        mem_mb=3000,
        runtime=480,
        # Only the pyfeat backend uses a device (MediaPipe runs on the CPU); on CUDA it asks for a GPU.
        device=lambda w: settings(w)["visual"]["device"],
        gpu=lambda w: int(
            settings(w)["visual"]["backend"] == "pyfeat"
            and settings(w)["visual"]["device"].startswith("cuda")
        ),
    script:
        "../workflow_scripts/extract_features.py"


rule merge_features:
    input:
        manifest=layout.manifest("{dataset}"),
        shards=shard_files("h5"),
        reports=shard_files("tsv"),
        code=extraction_code(),
    output:
        features=layout.features("{dataset}", "{modality}"),
        report=layout.modality_report("{dataset}", "{modality}"),
    params:
        compression_level=lambda w: settings(w)["extraction"]["compression_level"],
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "merge_{modality}_features"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    script:
        "../workflow_scripts/merge_features.py"


rule text_features:
    input:
        manifest=layout.manifest("{dataset}"),
        code=code("tokenize_text.py"),
    output:
        features=layout.features("{dataset}", "text"),
    params:
        settings=lambda w: settings(w)["text"],
        compression_level=lambda w: settings(w)["extraction"]["compression_level"],
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "text_features"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow_scripts/tokenize_text.py"


# Usability of every clip: in all modalities (what multimodal runs train and test on) and per modality (what
# a teacher or a single-modality run uses), so that a change to one modality's features reaches only the
# runs that read that modality.
rule clip_status:
    input:
        rejected=layout.rejected("{dataset}"),
        manifest=layout.manifest("{dataset}"),
        acoustic=layout.modality_report("{dataset}", "acoustic"),
        visual=layout.modality_report("{dataset}", "visual"),
        text=layout.features("{dataset}", "text"),
        code=code("clip_status.py"),
    output:
        status=layout.clip_status("{dataset}"),
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "clip_status"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/clip_status.py"


rule modality_clip_status:
    input:
        unpack(modality_status_inputs),
        code=code("clip_status.py"),
    output:
        status=layout.clip_status("{dataset}", "{single_modality}"),
    wildcard_constraints:
        single_modality=one_of(layout.MODALITIES),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "{single_modality}_clip_status"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/clip_status.py"
