# What the report rules (rules/report.smk) draw, for which runs, and what `rule all` asks of them.

ANALYSIS = config["analysis"]
# Modules every figure rule runs (plots imports analysis for the sentiment classes and saved vectors).
PLOT_CODE = ("plots.py", "analysis.py", "atomic.py", "h5store.py", "metrics.py", "paper.py", "provenance.py")
# A run folder below results/<dataset>/: a variant's runs, or the retrained search winner.
RUN_FOLDERS = [f"mfon/{v}" for v in VARIANTS] + ["mfon_tuned"]


def run_variants(dataset):
    """The variants a dataset trains: the table's rows, then the ablation table's."""
    experiment = DATASETS[dataset]["experiment"]
    return list(dict.fromkeys(experiment["variants"] + experiment["ablation_variants"]))


def dataset_runs(dataset):
    """(variant, seed, run folder) of every MFON run of the dataset's tables."""
    return [(v, s, f"{run_folder(dataset, v)}/seed{s}")
            for v in run_variants(dataset) for s in DATASETS[dataset]["experiment"]["seeds"]]


def folder_variant(folder):
    return "mfon" if folder == "mfon_tuned" else folder.split("/", 1)[1]


def tsne_runs(dataset):
    seed = DATASETS[dataset]["experiment"]["seeds"][0]
    return {v: f"{run_folder(dataset, v)}/seed{seed}/representations.npz" for v in ANALYSIS["tsne_variants"]}


def table_names(dataset):
    return ["table"] + (["ablation"] if DATASETS[dataset]["experiment"]["ablation_variants"] else [])


def report_targets(dataset):
    """What `rule all` builds for the report besides the tables (none when analysis.outputs is false)."""
    if not ANALYSIS["outputs"]:
        return []
    base = f"results/{dataset}"
    targets = [f"{base}/plots/training_overview.png", f"{base}/plots/qc.png", f"results/{dataset}_predictions.tsv",
               *[f"{folder}/curves.png" for _, _, folder in dataset_runs(dataset)],
               *[f"{base}/plots/predictions_{v}.png" for v in run_variants(dataset)],
               *[f"results/{dataset}_{t}.md" for t in table_names(dataset)],
               *[f"{base}/plots/{t}_chart.png" for t in table_names(dataset)]]
    if set(ANALYSIS["tsne_variants"]) <= set(run_variants(dataset)):
        targets.append(f"{base}/plots/tsne_visual.png")
    if dataset in RAW_DATASETS:
        targets.append(f"{base}/mmsa/unaligned.pkl")
    return targets


def title(w, what):
    return f"{w.dataset}: {what}"
