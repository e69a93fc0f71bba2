# MMSA's processed features (the benchmarks' standard COVAREP/FACET/BERT pickles) imported into the same
# manifest and HDF5 files that raw-video extraction writes, so that training is one code path.


rule import_mmsa:
    input:
        pickle=mmsa_pickle,
        code=code("import_mmsa.py"),
    output:
        manifest=layout.manifest("{dataset}"),
        rejected=layout.rejected("{dataset}"),
        clip_status=layout.clip_status("{dataset}"),
        text=layout.features("{dataset}", "text"),
        visual=layout.features("{dataset}", "visual"),
        acoustic=layout.features("{dataset}", "acoustic"),
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
        layout.log("{dataset}", "import_mmsa"),
    threads: 1
    resources:
        mem_mb=16000,
        runtime=120,
    script:
        "../workflow_scripts/import_mmsa.py"
