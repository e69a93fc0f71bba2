# Feature extraction. Acoustic and visual features are extracted in `extraction.shards` independent jobs
# per dataset (the unit of parallelism locally and on SLURM), then merged into one HDF5 file per modality.
# Text is tokenized in one job. Each file records how it was made (docs/feature_files.md).

rule acoustic_features_shard:
    input:
        manifest="results/{dataset}/manifest.tsv",
        code=code(*EXTRACTION_CODE, "features/acoustic.py"),
    output:
        features="results/{dataset}/features/shards/acoustic_{shard}of{n_shards}.h5",
        report="results/{dataset}/features/shards/acoustic_{shard}of{n_shards}.tsv",
    params:
        acoustic=lambda w: settings(w)["acoustic"],
        compression_level=lambda w: settings(w)["extraction"]["compression_level"],
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/acoustic_features_{shard}of{n_shards}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=240,
    script:
        "../workflow_scripts/extract_features.py"


rule visual_features_shard:
    input:
        manifest="results/{dataset}/manifest.tsv",
        code=code(*EXTRACTION_CODE, "features/visual.py", "importers/facial_csv.py"),
    output:
        features="results/{dataset}/features/shards/visual_{shard}of{n_shards}.h5",
        report="results/{dataset}/features/shards/visual_{shard}of{n_shards}.tsv",
    params:
        visual=lambda w: settings(w)["visual"],
        compression_level=lambda w: settings(w)["extraction"]["compression_level"],
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/visual_features_{shard}of{n_shards}.log",
    threads: 1
    resources:
        mem_mb=3000,
        runtime=480,
        # The pyfeat backend on CUDA asks the scheduler for a GPU; MediaPipe runs on the CPU.
        gpu=lambda w: int(
            settings(w)["visual"]["backend"] == "pyfeat"
            and settings(w)["visual"]["device"].startswith("cuda")
        ),
    script:
        "../workflow_scripts/extract_features.py"


rule merge_features:
    input:
        manifest="results/{dataset}/manifest.tsv",
        shards=shard_files("features"),
        reports=shard_files("reports"),
        code=code("extraction.py", "h5store.py", "atomic.py"),
    output:
        features="results/{dataset}/features/{modality}_features.h5",
        report="results/{dataset}/qc/{modality}_report.tsv",
    params:
        compression_level=lambda w: settings(w)["extraction"]["compression_level"],
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/merge_{modality}_features.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    script:
        "../workflow_scripts/merge_features.py"


rule text_features:
    input:
        manifest="results/{dataset}/manifest.tsv",
        code=code("features/text.py", "h5store.py", "atomic.py", "config.py"),
    output:
        features="results/{dataset}/features/text_features.h5",
    params:
        text=lambda w: settings(w)["text"],
        compression_level=lambda w: settings(w)["extraction"]["compression_level"],
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/text_features.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow_scripts/tokenize_text.py"


rule clip_status:
    input:
        rejected="results/{dataset}/qc/rejected.tsv",
        manifest="results/{dataset}/manifest.tsv",
        acoustic="results/{dataset}/qc/acoustic_report.tsv",
        visual="results/{dataset}/qc/visual_report.tsv",
        text="results/{dataset}/features/text_features.h5",
        code=code("qc.py", "atomic.py"),
    output:
        status="results/{dataset}/qc/clip_status.tsv",
    wildcard_constraints:
        dataset=one_of(RAW_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/clip_status.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../workflow_scripts/clip_status.py"
