# The embedded demo corpus, generated deterministically for datasets whose config has a `demo:` section.


rule demo_corpus:
    output:
        labels="{demo_root}/label.csv",
        media=directory("{demo_root}/Raw"),
    input:
        code=code("make_demo_corpus.py"),
    params:
        demo=lambda w: DEMO_ROOTS[w.demo_root]["demo"],
    wildcard_constraints:
        demo_root=one_of(DEMO_ROOTS),
    conda:
        "../envs/mfon.yaml"
    log:
        layout.log("demo_corpus", "{demo_root}"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow_scripts/make_demo_corpus.py"
