# Configuration resolution and small helpers shared by the rules.
import re
from pathlib import Path

from mfon.config import dataset_settings, validate_config
from mfon.experiment import search_trial_settings, teacher_settings, variant_settings
from snakemake.exceptions import WorkflowError
from mfon.models import VARIANTS

validate_config(config)


def _dataset_file_dir(name):
    """Dataset files are looked up in the working directory first, then beside the Snakefile."""
    relative = config["datasets"][name]
    return "." if Path(relative).is_file() else workflow.basedir


DATASETS = {name: dataset_settings(config, name, _dataset_file_dir(name)) for name in config["datasets"]}
DEMO_ROOTS = {s["root"]: s for s in DATASETS.values() if "demo" in s}
RAW_DATASETS = [n for n, s in DATASETS.items() if s["source"]["kind"] == "raw"]
IMPORTED_DATASETS = [n for n, s in DATASETS.items() if s["source"]["kind"] == "mmsa_pickle"]


def one_of(names):
    """A wildcard regex matching exactly ``names`` (and nothing when the list is empty)."""
    return "|".join(map(re.escape, names)) or "(?!)"

MODALITIES = ["acoustic", "visual", "text"]


wildcard_constraints:
    dataset=one_of(DATASETS),
    modality="acoustic|visual",
    seed=r"\d+",
    variant=one_of(VARIANTS),
    trial=r"\d+",
    shard=r"\d+",
    n_shards=r"\d+",


def settings(wildcards):
    return DATASETS[wildcards.dataset]


def code(*modules):
    """Source files of the mfon modules a rule runs, listed as inputs so that editing them reruns the rule."""
    return [str(Path(workflow.basedir) / "mfon" / m) for m in modules]


def n_shards(dataset):
    return DATASETS[dataset]["extraction"]["shards"]


def feature_targets(dataset):
    return [
        *[f"results/{dataset}/features/{m}_features.h5" for m in MODALITIES],
        f"results/{dataset}/qc/clip_status.tsv",
    ]


def final_targets(dataset):
    targets = [*feature_targets(dataset), f"results/{dataset}_table.csv"]
    if DATASETS[dataset]["experiment"]["ablation_variants"]:
        targets.append(f"results/{dataset}_ablation.csv")
    if search_enabled(dataset):
        targets.append(f"results/{dataset}_search.csv")
    return targets


# Modules every extraction job runs (listed as inputs of both shard rules).
EXTRACTION_CODE = ("extraction.py", "features/__init__.py", "h5store.py", "media.py", "atomic.py", "config.py")


def shard_files(kind):
    def files(w):
        n = n_shards(w.dataset)
        ext = "h5" if kind == "features" else "tsv"
        return [f"results/{w.dataset}/features/shards/{w.modality}_{k}of{n}.{ext}" for k in range(n)]

    return files


# ----------------------------------------------------------------------------------- learning stage

# Modules every training job runs.
TRAINING_CODE = ("training.py", "data.py", "experiment.py", "losses.py", "metrics.py", "h5store.py", "atomic.py",
                 "models/__init__.py", "models/config.py", "models/layers.py", "models/encoders.py",
                 "models/mfon.py", "models/variants.py")


def feature_files(dataset, modalities=("text", "visual", "acoustic")):
    base = f"results/{dataset}"
    files = {"manifest": f"{base}/manifest.tsv", "clip_status": f"{base}/qc/clip_status.tsv"}
    files.update({m: f"{base}/features/{m}_features.h5" for m in modalities})
    return files


def teachers_for(dataset, variant, seed):
    needed = variant_settings(DATASETS[dataset], variant)["teachers"]
    return [f"results/{dataset}/teachers/{m}/seed{seed}/checkpoint.pt" for m in needed]


def teacher_checkpoints(w):
    return teachers_for(w.dataset, w.variant, w.seed)


def teacher_inputs(dataset, variant, seed):
    """What an MFON run distils from: in `fixed` fidelity the teachers' stored vectors (computed once per
    teacher), in `paper` fidelity the checkpoints themselves (run in train mode at every step)."""
    checkpoints = teachers_for(dataset, variant, seed)
    if DATASETS[dataset]["model"]["fidelity"] == "paper":
        return checkpoints
    return [str(Path(p).with_name("targets.h5")) for p in checkpoints]


def search_enabled(dataset):
    return DATASETS[dataset]["experiment"]["search"]["trials"] > 0


def search_seed(dataset):
    return DATASETS[dataset]["experiment"]["seeds"][0]


def run_folder(dataset, variant):
    """Where a variant's runs live; with a search, the full model's row is the retrained winner."""
    if variant == "mfon" and search_enabled(dataset):
        return f"results/{dataset}/mfon_tuned"
    return f"results/{dataset}/mfon/{variant}"


def table_runs(which):
    def runs(w):
        experiment = settings(w)["experiment"]
        return [f"{run_folder(w.dataset, v)}/seed{s}/metrics.json"
                for v in experiment[which] for s in experiment["seeds"]]

    return runs


def search_trials(w):
    n = settings(w)["experiment"]["search"]["trials"]
    return [f"results/{w.dataset}/search/trial{t}/metrics.json" for t in range(n)]


def mmsa_pickle(w):
    """The dataset's pickle; a missing one stops the run (dry runs too) saying where to put it."""
    source = settings(w)["source"]
    path = source["pickle"]
    if not Path(path).is_file():
        raise WorkflowError(
            f"dataset {w.dataset!r}: MMSA feature pickle not found at {path!r}. Put MMSA's processed "
            f"{Path(path).name} there (or set source.pickle in {config['datasets'][w.dataset]}); "
            "see README 'Reproducing the paper'."
        )
    return path
