# Feature extraction. Acoustic and visual features are extracted in `extraction.shards` independent jobs
# per dataset (the unit of parallelism locally and on SLURM), then merged into one HDF5 file per modality;
# the shards are temporary (kept with --notemp). Text is tokenized in one job. Each file records how it was
# made (docs/feature_files.md).


rule features_shard:
    input:
        manifest=layout.manifest("{dataset}"),
        code=extraction_code,
    output:
        features=temp(layout.feature_shard("{dataset}", "{modality}", "{shard}", "{n_shards}")),
        report=temp(layout.feature_shard("{dataset}", "{modality}", "{shard}", "{n_shards}", "tsv")),
    params:
        settings=extraction_params,
        compression_level=lambda w: settings(w)["extraction"]["compression_level"],
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "{modality}_features_{shard}of{n_shards}"),
    threads: 1
    resources:
        mem_mb=lambda w: {"acoustic": 2000, "visual": 3000}[w.modality],
        runtime=lambda w: {"acoustic": 240, "visual": 480}[w.modality],
        # Only the pyfeat backend uses a device (openSMILE, MediaPipe: the CPU); on CUDA it asks for a GPU.
        device=lambda w: settings(w)[w.modality].get("device", "cpu"),
        gpu=lambda w: int(
            settings(w)[w.modality].get("backend") == "pyfeat"
            and settings(w)[w.modality]["device"].startswith("cuda")
        ),
    script:
        "../workflow_scripts/extract_features.py"


rule merge_features:
    input:
        manifest=layout.manifest("{dataset}"),
        shards=shard_files("h5"),
        reports=shard_files("tsv"),
        code=code("merge_features.py", skip=extractor_modules()),  # runs no extractor
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
        code=code("modality_clip_status.py"),
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
        "../workflow_scripts/modality_clip_status.py"


# The dataset's feature files in MMSA's pickle layout, for MMSA's own models (docs/mmsa_export.md).
rule export_mmsa:
    input:
        unpack(lambda w: training_inputs(w.dataset, layout.MODALITIES)),
        code=code("export_mmsa.py"),
    output:
        pickle=layout.mmsa_export("{dataset}"),
        made=layout.mmsa_export("{dataset}", ext="json"),
    params:
        family=lambda w: settings(w)["experiment"]["metrics"],
        text_model=lambda w: settings(w)["text"]["model"],  # its frozen states are the pickle's `text`
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("{dataset}", "export_mmsa"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow_scripts/export_mmsa.py"
