# A target under results/ of a dataset that is not configured: answer with the configured names and the closest
# one, instead of Snakemake's bare "no rule to produce" (the pattern never matches a configured dataset's files).


rule unknown_dataset:
    output:
        layout.under_results("{unknown_target}"),
    wildcard_constraints:
        unknown_target=rf"(?!(?:{one_of(DATASETS)})[_/]|{re.escape(layout.CODE_DIR)}/).+",
    input:
        raise_unknown_dataset,
