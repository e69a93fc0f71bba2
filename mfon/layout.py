"""Where the pipeline's artifacts live: the one home of the ``results/`` layout.

The rules build their output patterns from these functions (called with wildcard names such as ``"{dataset}"``)
and the package resolves concrete paths with the same functions, so a layout change happens here only.
Workflow scripts never build paths: they take them from ``snakemake.input`` / ``snakemake.output``.
Imports nothing heavy (the Snakefile imports it at parse time).
"""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = "results"
LOGS = "logs"

#: The frame-sequence modalities (text is tokens).
FRAME_MODALITIES = ("visual", "acoustic")
#: Every modality, in the order tables and feature files list them.
MODALITIES = ("text", "visual", "acoustic")

#: Files every training run writes into its folder, by the name its rule gives each output.
RUN_FILES = {"checkpoint": "checkpoint.pt", "metrics": "metrics.json", "predictions": "predictions.tsv",
             "history": "history.tsv"}
#: What a run keeps in its folder while it trains (the state after its last completed epoch); removed when the
#: run finishes, so it is no output of the rule.
RESUME_FILE = "resume.pt"
#: A teacher's stored vectors, beside its run files (:func:`teacher_targets`).
TEACHER_TARGETS_FILE = "targets.h5"
#: The files of every run that a metric table checks (:func:`mfon.tables.check_run`): its declared inputs.
TABLE_RUN_FILES = ("metrics", "predictions", "checkpoint")


#: The folder of a dataset's named experiments (:func:`experiment_dir`).
EXPERIMENTS = "experiments"
#: How tables name the runs of the unnamed (default) experiment; no experiment may take this name.
DEFAULT_EXPERIMENT = "default"
_EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_experiment_name(name: str | None) -> str | None:
    """``name`` when it is a usable experiment name (None: the default experiment); else ValueError saying why."""
    if name is None:
        return None
    if not isinstance(name, str) or not _EXPERIMENT_NAME.fullmatch(name) or name == DEFAULT_EXPERIMENT:
        raise ValueError(
            f"experiment_name {name!r} cannot name a results folder: use 1-64 letters, digits, '_', '-' or '.', "
            f"starting with a letter or digit, and not {DEFAULT_EXPERIMENT!r} (the name of the unnamed runs)")
    return name


def experiment_dir(dataset: str, experiment: str | None = None) -> str:
    """Where the runs and tables of ``experiment`` live: the dataset's folder for the default (None), else its
    own folder under ``experiments/`` (features and the dataset's own files stay in the dataset's folder)."""
    return dataset_dir(dataset) if experiment is None else f"{RESULTS}/{dataset}/{EXPERIMENTS}/{experiment}"


def under_results(path: str) -> str:
    """Any path under the results folder (a rule pattern such as ``"{target}"``)."""
    return f"{RESULTS}/{path}"


def dataset_of(target: str) -> str:
    """The dataset a path relative to the results folder names: its first folder, or the name before a table's
    kind (``{dataset}_{kind}.{ext}``, see :func:`table`)."""
    return target.split("/")[0] if "/" in target else target.rsplit("_", 1)[0]


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


def teacher_dir(dataset: str, modality: str, seed, experiment: str | None = None) -> str:
    """A teacher's run; ``experiment``: one trained with a named experiment's own teacher settings."""
    return f"{experiment_dir(dataset, experiment)}/teachers/{modality}/seed{seed}"


def teacher_targets(dataset: str, modality: str, seed, experiment: str | None = None) -> str:
    """A fixed-fidelity teacher's pooled vector for every clip, computed once for every run of that seed."""
    return f"{teacher_dir(dataset, modality, seed, experiment)}/{TEACHER_TARGETS_FILE}"


def variant_dir(dataset: str, variant: str, tuned: bool = False, experiment: str | None = None) -> str:
    """A variant's runs; ``tuned``: the full model retrained with the search's winning settings."""
    home = experiment_dir(dataset, experiment)
    return f"{home}/mfon_tuned" if tuned else f"{home}/mfon/{variant}"


def run_dir(dataset: str, variant: str, seed, tuned: bool = False, experiment: str | None = None) -> str:
    return f"{variant_dir(dataset, variant, tuned, experiment)}/seed{seed}"


def parse_run_dir(run_dir: str | Path) -> dict | None:
    """What an MFON run folder laid out as :func:`run_dir` makes them is: the working directory, dataset,
    variant, seed, whether it is the retrained search winner and its experiment (None: the default); None for a
    folder laid out otherwise."""
    run = Path(run_dir)
    if not run.name.startswith("seed") or not run.name[4:].isdigit():
        return None
    if run.parent.name == "mfon_tuned":
        home, variant, tuned = run.parents[1], "mfon", True
    elif len(run.parents) > 2 and run.parents[1].name == "mfon":
        home, variant, tuned = run.parents[2], run.parent.name, False
    else:
        return None
    experiment = None
    if len(home.parents) > 2 and home.parent.name == EXPERIMENTS and home.parents[2].name == RESULTS:
        experiment, home = home.name, home.parents[1]
    if home.parent.name != RESULTS:
        return None
    return {"workdir": home.parent.parent, "dataset": home.name, "variant": variant,
            "seed": int(run.name[4:]), "tuned": tuned, "experiment": experiment}


def baseline_dir(dataset: str, model: str, seed) -> str:
    """An MMSA baseline's run (mfon.baselines): the same files as an MFON run (:func:`run_outputs`)."""
    return f"{RESULTS}/{dataset}/baselines/{model}/seed{seed}"


def trial_dir(dataset: str, trial, experiment: str | None = None) -> str:
    return f"{experiment_dir(dataset, experiment)}/search/trial{trial}"


def search_best(dataset: str, experiment: str | None = None) -> str:
    return f"{experiment_dir(dataset, experiment)}/search/best.json"


def run_outputs(folder: str) -> dict[str, str]:
    """The named outputs of a training run in ``folder``."""
    return {name: f"{folder}/{file}" for name, file in RUN_FILES.items()}


def resume_state(outputs: dict) -> Path:
    """Where the run writing ``outputs`` (:func:`run_outputs`) keeps its resume state: beside its checkpoint."""
    return Path(outputs["checkpoint"]).parent / RESUME_FILE


def table_inputs(runs: dict[str, list[str]]) -> dict[str, list[str]]:
    """A table rule's named inputs: for every variant (-> its run folders, one per seed) and every file of
    :data:`TABLE_RUN_FILES`, that file of each run, named ``<variant>_<file name>``."""
    return {f"{variant}_{name}": [run_outputs(folder)[name] for folder in folders]
            for variant, folders in runs.items() for name in TABLE_RUN_FILES}


def table_runs(inputs, variants: list[str]) -> dict[str, list[dict[str, str]]]:
    """The inverse of :func:`table_inputs`: variant -> one ``{file name: path}`` per run, seeds in order."""
    return {variant: [dict(zip(TABLE_RUN_FILES, files))
                      for files in zip(*(inputs[f"{variant}_{name}"] for name in TABLE_RUN_FILES))]
            for variant in variants}


#: Any MFON run folder as a rule pattern (wildcards dataset, run_folder, seed): a variant's run or the retrained
#: search winner's (:func:`run_dir`), ``run_folder`` matching :data:`RUN_FOLDER_REGEX`.
RUN_DIR_PATTERN = RESULTS + "/{dataset}/{run_folder}/seed{seed}"
RUN_FOLDER_REGEX = r"mfon/[^/]+|mfon_tuned"
#: Files made from a finished run after training (figures and reruns of its checkpoint), by name.
RUN_ANALYSIS_FILES = {"curves": "curves.png", "representations": "representations.npz",
                      "train_predictions": "train_predictions.tsv"}


def run_analysis_file(run_folder: str, name: str) -> str:
    """``name`` (a key of :data:`RUN_ANALYSIS_FILES`) of the run in ``run_folder``."""
    return f"{run_folder}/{RUN_ANALYSIS_FILES[name]}"


def table(dataset: str, kind: str = "table", ext: str = "csv", experiment: str | None = None) -> str:
    """``kind``: table, ablation, search, baselines, per_seed (every run's test metrics) or experiments (every
    experiment's finished runs side by side); ``ext`` md: the paper-style table beside the CSV. A named
    ``experiment``'s tables lie in its folder (:func:`experiment_dir`)."""
    if experiment is None:
        return f"{RESULTS}/{dataset}_{kind}.{ext}"
    return f"{experiment_dir(dataset, experiment)}/{kind}.{ext}"


def experiment_runs(dataset: str) -> list[str]:
    """The run folders (:func:`run_dir`) of every experiment of ``dataset`` that hold a metrics file, relative
    to the working directory, sorted: what the experiments table can compare."""
    patterns = {run_dir(dataset, "*", "*", tuned, experiment) for tuned in (False, True) for experiment in (None, "*")}
    return sorted(folder.as_posix() for pattern in patterns for folder in Path().glob(pattern)
                  if (folder / RUN_FILES["metrics"]).is_file() and parse_run_dir(folder) is not None)


def merged_predictions(dataset: str) -> str:
    return f"{RESULTS}/{dataset}_predictions.tsv"


def worst_clips(dataset: str, ext: str = "tsv") -> str:
    """Each variant's worst-predicted test clips (``ext`` html: the same as a page for the report)."""
    return f"{RESULTS}/{dataset}_worst_clips.{ext}"


def plot(dataset: str, name: str, ext: str = "png") -> str:
    """A dataset-level figure (or, with ``ext`` html, a table page) of the report."""
    return f"{RESULTS}/{dataset}/plots/{name}.{ext}"


def mmsa_export(dataset: str, ext: str = "pkl") -> str:
    """The dataset's features in MMSA's pickle layout (``ext`` json: how it was made)."""
    return f"{RESULTS}/{dataset}/mmsa/unaligned.{ext}"


#: Where the code fingerprints live (:func:`code_fingerprint`); no dataset's folder.
CODE_DIR = ".code"


def code_fingerprint(name: str) -> str:
    """The SHA-256 of each mfon module a workflow script runs (``name``: the script and its module selection):
    the rules' code input (mfon.codegraph.write_fingerprint)."""
    return f"{RESULTS}/{CODE_DIR}/{name}.sha256"


def log(*parts: str, ext: str = "log") -> str:
    """A job's log file (or, with ``ext``, another file kept beside the logs, which survive a failed job)."""
    return "/".join((LOGS, *parts)) + f".{ext}"


def experiment_log(dataset: str, experiment: str | None, *parts: str) -> str:
    """The log of a job of ``experiment`` (None: the default's, :func:`log` of ``dataset`` and ``parts``)."""
    return log(dataset, *(() if experiment is None else (EXPERIMENTS, experiment)), *parts)
