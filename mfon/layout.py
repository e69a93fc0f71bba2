"""Where the pipeline's artifacts live: the one home of the ``results/`` layout.

The rules build their output patterns from these functions (called with wildcard names such as ``"{dataset}"``)
and the package resolves concrete paths with the same functions, so a layout change happens here only.
Workflow scripts never build paths: they take them from ``snakemake.input`` / ``snakemake.output``.
Imports nothing heavy (the Snakefile imports it at parse time).
"""

from __future__ import annotations

from pathlib import Path

RESULTS = "results"
LOGS = "logs"

#: The frame-sequence modalities (text is tokens): one name for what had three.
FRAME_MODALITIES = ("visual", "acoustic")
#: Every modality, in the order tables and feature files list them.
MODALITIES = ("text", "visual", "acoustic")

#: Files every training run writes into its folder.
RUN_FILES = ("checkpoint.pt", "metrics.json", "predictions.tsv", "history.tsv")


def dataset_dir(dataset: str) -> str:
    return f"{RESULTS}/{dataset}"


def manifest(dataset: str) -> str:
    return f"{RESULTS}/{dataset}/manifest.tsv"


def rejected(dataset: str) -> str:
    return f"{RESULTS}/{dataset}/qc/rejected.tsv"


def clip_status(dataset: str, modality: str | None = None) -> str:
    """Usability of every clip of the sheet: in all modalities, or (``modality``) in that modality alone."""
    name = "clip_status.tsv" if modality is None else f"{modality}_clip_status.tsv"
    return f"{RESULTS}/{dataset}/qc/{name}"


def modality_report(dataset: str, modality: str) -> str:
    return f"{RESULTS}/{dataset}/qc/{modality}_report.tsv"


def features(dataset: str, modality: str) -> str:
    return f"{RESULTS}/{dataset}/features/{modality}_features.h5"


def feature_shard(dataset: str, modality: str, shard, n_shards, ext: str = "h5") -> str:
    return f"{RESULTS}/{dataset}/features/shards/{modality}_{shard}of{n_shards}.{ext}"


def teacher_dir(dataset: str, modality: str, seed) -> str:
    return f"{RESULTS}/{dataset}/teachers/{modality}/seed{seed}"


def teacher_targets(dataset: str, modality: str, seed) -> str:
    """A fixed-fidelity teacher's pooled vector for every clip, computed once for every run of that seed."""
    return f"{teacher_dir(dataset, modality, seed)}/targets.h5"


def variant_dir(dataset: str, variant: str, tuned: bool = False) -> str:
    """A variant's runs; ``tuned``: the full model retrained with the search's winning settings."""
    return f"{RESULTS}/{dataset}/mfon_tuned" if tuned else f"{RESULTS}/{dataset}/mfon/{variant}"


def run_dir(dataset: str, variant: str, seed, tuned: bool = False) -> str:
    return f"{variant_dir(dataset, variant, tuned)}/seed{seed}"


def run_location(run_dir: str | Path) -> tuple[Path, str] | None:
    """(the working directory, the dataset) of an MFON run folder laid out as :func:`run_dir` makes them,
    or None for a folder laid out otherwise."""
    run = Path(run_dir)
    if not run.name.startswith("seed"):
        return None
    if run.parent.name == "mfon_tuned":
        dataset_folder = run.parents[1]
    elif len(run.parents) > 2 and run.parents[1].name == "mfon":
        dataset_folder = run.parents[2]
    else:
        return None
    if dataset_folder.parent.name != RESULTS:
        return None
    return dataset_folder.parent.parent, dataset_folder.name


def trial_dir(dataset: str, trial) -> str:
    return f"{RESULTS}/{dataset}/search/trial{trial}"


def search_best(dataset: str) -> str:
    return f"{RESULTS}/{dataset}/search/best.json"


def run_outputs(folder: str) -> dict[str, str]:
    """The named outputs of a training run in ``folder``."""
    return {name.split(".")[0]: f"{folder}/{name}" for name in RUN_FILES}


def table(dataset: str, kind: str = "table") -> str:
    """``kind``: table, ablation or search."""
    return f"{RESULTS}/{dataset}_{kind}.csv"


def log(*parts: str, ext: str = "log") -> str:
    """A job's log file (or, with ``ext``, another file kept beside the logs, which survive a failed job)."""
    return "/".join((LOGS, *parts)) + f".{ext}"
