# MMSA's processed features (the benchmarks' standard COVAREP/FACET/BERT pickles) imported into the same
# manifest and HDF5 files that raw-video extraction writes, so that training is one code path.


rule import_mmsa:
    input:
        pickle=mmsa_pickle,
        code=code("importers/__init__.py", "importers/mmsa.py", "features/__init__.py", "features/text.py", "h5store.py",
                  "atomic.py"),
    output:
        manifest="results/{dataset}/manifest.tsv",
        rejected="results/{dataset}/qc/rejected.tsv",
        clip_status="results/{dataset}/qc/clip_status.tsv",
        text="results/{dataset}/features/text_features.h5",
        visual="results/{dataset}/features/visual_features.h5",
        acoustic="results/{dataset}/features/acoustic_features.h5",
    params:
        source=lambda w: settings(w)["source"],
        text=lambda w: settings(w)["text"],
        label_range=lambda w: settings(w)["label_range"],
        compression_level=lambda w: settings(w)["extraction"]["compression_level"],
    wildcard_constraints:
        dataset=one_of(IMPORTED_DATASETS),
    conda:
        "../envs/mfon.yaml"
    log:
        "logs/{dataset}/import_mmsa.log",
    threads: 1
    resources:
        mem_mb=16000,
        runtime=120,
    script:
        "../workflow_scripts/import_mmsa.py"
