# Configuration resolution and small helpers shared by the rules.
import re
from pathlib import Path

from mfon.config import dataset_settings, validate_config
from mfon.experiment import teacher_settings, variant_settings
from mfon.models import VARIANTS

validate_config(config)


def _dataset_file_dir(name):
    """Dataset files are looked up in the working directory first, then beside the Snakefile."""
    relative = config["datasets"][name]
    return "." if Path(relative).is_file() else workflow.basedir


DATASETS = {name: dataset_settings(config, name, _dataset_file_dir(name)) for name in config["datasets"]}
DEMO_ROOTS = {s["root"]: s for s in DATASETS.values() if "demo" in s}
MODALITIES = ["acoustic", "visual", "text"]


wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)),
    modality="acoustic|visual",
    seed=r"\d+",
    variant="|".join(VARIANTS),
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
    return [*feature_targets(dataset), f"results/{dataset}_table.csv"]


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


def teacher_checkpoints(w):
    needed = variant_settings(settings(w), w.variant)["teachers"]
    return [f"results/{w.dataset}/teachers/{m}/seed{w.seed}/checkpoint.pt" for m in needed]


def table_runs(w):
    experiment = settings(w)["experiment"]
    return [f"results/{w.dataset}/mfon/{v}/seed{s}/metrics.json"
            for v in experiment["variants"] for s in experiment["seeds"]]
