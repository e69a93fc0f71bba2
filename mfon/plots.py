"""Figures of a dataset's results, each drawn from files the pipeline already wrote (PNG, matplotlib's Agg backend).

* :func:`plot_run_curves` / :func:`plot_curves_overview`: loss terms and validation metrics by epoch, the kept
  (best validation MSE) epoch marked; one run, or every variant and seed of a dataset as small multiples.
* :func:`plot_predictions`: predicted vs true scatter and the confusion matrix of the 7 (CH-SIMS: 5) classes of one
  variant, pooled over its seeds.
* :func:`plot_table_chart`: a metric table as grouped bars, the paper's numbers beside ours when the table has them.
* :func:`plot_qc`: clips per status and reason, frames per clip, face-found fraction, non-finite values replaced.
* :func:`plot_tsne`: the paper's Fig. 4, t-SNE of the saved pooled visual vectors, coloured by 3-class sentiment.

Every function checks its inputs first and raises :class:`MfonError` naming a missing or unreadable file.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .analysis import SENTIMENT_CLASSES, load_representations, read_metric_tables, sentiment_classes  # noqa: E402
from .atomic import atomic_path  # noqa: E402
from .tsv import read_tsv  # noqa: E402
from .errors import MfonError  # noqa: E402
from .h5store import FeatureFile  # noqa: E402
from .metrics import MOSI_KEYS, SIMS_EDGES_5, SIMS_KEYS  # noqa: E402
from .paper import PAPER_ROW_NAMES  # noqa: E402

log = logging.getLogger(__name__)

SENTIMENT_COLOURS = ("#c0392b", "#95a5a6", "#2471a3")  # negative, neutral, positive


def _need(*paths: Path | str) -> None:
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise MfonError(f"cannot draw the figure: input file(s) not found: {', '.join(missing)}")


def _save(fig, out_path: Path | str) -> None:
    """Write the figure atomically (PNG without a timestamp, so equal inputs give equal files)."""
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    log.info("wrote %s", out_path)


def _history(path: Path) -> dict[str, np.ndarray]:
    rows = read_tsv(path)
    if not rows:
        raise MfonError(f"{path}: the training history has no epoch")
    return {k: np.array([float(r[k]) if r[k] != "" else np.nan for r in rows]) for k in rows[0]}


def _best_epoch(metrics_json: Path) -> int:
    try:
        return int(json.loads(Path(metrics_json).read_text())["best_epoch"])
    except (ValueError, KeyError) as exc:
        raise MfonError(f"{metrics_json}: not a run's metrics.json ({exc})") from exc


# ------------------------------------------------------------------------------------------------------- curves
def plot_run_curves(history: Path, metrics_json: Path, out_path: Path, *, title: str) -> None:
    """Three panels by epoch: the training loss terms, validation MSE, the validation metrics."""
    _need(history, metrics_json)
    h, best = _history(history), _best_epoch(metrics_json)
    epochs = h["epoch"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
    for name in [k for k in h if k.startswith("train_")]:
        axes[0].plot(epochs, h[name], marker=".", label=name[len("train_"):])
    axes[0].set_title("training loss terms")
    axes[1].plot(epochs, h["valid_mse"], marker=".", color="black")
    axes[1].set_title("validation MSE")
    for name in [k for k in h if k.startswith("valid_") and k != "valid_mse"]:
        axes[2].plot(epochs, h[name], marker=".", label=name[len("valid_"):])
    axes[2].set_title("validation metrics (fractions; MAE, Corr as values)")
    for ax in axes:
        ax.axvline(best, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("epoch")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    axes[1].annotate(f"kept: epoch {best}", xy=(best, float(np.nanmin(h["valid_mse"]))), fontsize=8)
    fig.suptitle(title)
    _save(fig, out_path)


OVERVIEW_COLUMNS = ("train_total", "valid_mse", "valid_MAE", "valid_Corr")


def plot_curves_overview(runs: list[dict], out_path: Path, *, title: str) -> None:
    """Small multiples: one row per variant, one column per quantity, one line per seed, kept epochs dotted.

    ``runs``: dicts with ``variant``, ``seed``, ``history`` and ``metrics`` (paths).
    """
    if not runs:
        raise MfonError("cannot draw the training overview: no run given")
    _need(*[r["history"] for r in runs], *[r["metrics"] for r in runs])
    variants = list(dict.fromkeys(r["variant"] for r in runs))
    fig, axes = plt.subplots(len(variants), len(OVERVIEW_COLUMNS), figsize=(3.2 * len(OVERVIEW_COLUMNS),
                                                                            2.2 * len(variants) + 0.6),
                             squeeze=False, sharex=True, layout="constrained")
    for run in runs:
        h, best = _history(run["history"]), _best_epoch(run["metrics"])
        row = variants.index(run["variant"])
        for col, name in enumerate(OVERVIEW_COLUMNS):
            ax = axes[row, col]
            if name not in h:
                continue
            line, = ax.plot(h["epoch"], h[name], linewidth=1, label=f"seed {run['seed']}")
            kept = np.flatnonzero(h["epoch"] == best)
            if kept.size:
                ax.plot(best, h[name][kept[0]], "o", color=line.get_color(), markersize=4)
    for row, variant in enumerate(variants):
        axes[row, 0].set_ylabel(PAPER_ROW_NAMES.get(variant, variant), fontsize=8)
        axes[row, -1].legend(fontsize=6)
    for col, name in enumerate(OVERVIEW_COLUMNS):
        axes[0, col].set_title(name, fontsize=9)
        axes[-1, col].set_xlabel("epoch")
    fig.suptitle(f"{title} (dots: kept epoch)")
    _save(fig, out_path)


# -------------------------------------------------------------------------------------------------- predictions
def _class_edges(family: str) -> tuple[list[str], Callable[[np.ndarray], np.ndarray]]:
    """Class names and the function giving each score's class: Acc7's (CH-SIMS: Acc5's) as mfon.metrics has them."""
    if family == "sims":
        inner = np.asarray(SIMS_EDGES_5[1:-1])
        return ([f"{a:g}..{b:g}" for a, b in zip(SIMS_EDGES_5[:-1], SIMS_EDGES_5[1:])],
                lambda x: np.sum(np.clip(x, -1, 1)[:, None] > inner[None, :], axis=1))
    return [str(c) for c in range(-3, 4)], lambda x: (np.round(np.clip(x, -3.0, 3.0)) + 3).astype(int)


def plot_predictions(predictions: list[Path], out_path: Path, *, title: str, family: str = "mosi",
                     split: str = "test") -> None:
    """Scatter of prediction against truth and the Acc7 (CH-SIMS: Acc5) confusion matrix, seeds pooled."""
    _need(*predictions)
    truth, pred = [], []
    for path in predictions:
        rows = [r for r in read_tsv(path) if r["split"] == split]
        if not rows:
            raise MfonError(f"{path}: holds no {split} predictions")
        truth += [float(r["truth"]) for r in rows]
        pred += [float(r["prediction"]) for r in rows]
    truth, pred = np.array(truth), np.array(pred)
    labels, classes = _class_edges(family)
    fig, (ax, cx) = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained")
    ax.scatter(truth, pred, s=12, alpha=0.6)
    low, high = (-1.0, 1.0) if family == "sims" else (-3.0, 3.0)
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("true score")
    ax.set_ylabel("predicted score")
    ax.set_title(f"{split}: {len(truth)} predictions from {len(predictions)} seed(s)")
    n = len(labels)
    matrix = np.zeros((n, n), int)
    np.add.at(matrix, (classes(truth), classes(pred)), 1)
    cx.imshow(matrix, cmap="Blues")
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                cx.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    cx.set_xticks(range(n), labels, fontsize=7)
    cx.set_yticks(range(n), labels, fontsize=7)
    cx.set_xlabel("predicted class")
    cx.set_ylabel("true class")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    cx.set_title(f"{'Acc5' if family == 'sims' else 'Acc7'} confusion (accuracy {100 * accuracy:.1f}%)")
    fig.suptitle(title)
    _save(fig, out_path)


# -------------------------------------------------------------------------------------------------- table chart
def plot_table_chart(table_csvs: Path | str | list, out_path: Path, *, title: str) -> None:
    """Grouped bars per metric: ours (mean, population-std error bar) per row of one metric table or several
    (the baselines' table, then MFON's); the paper's as hatched bars."""
    rows = read_metric_tables(table_csvs)
    keys = MOSI_KEYS if "Has0_acc_2_mean" in rows[0] else SIMS_KEYS
    panels = [("percent metrics", [k for k in keys if k not in ("MAE", "Corr")]), ("Corr", ["Corr"]),
              ("MAE", ["MAE"])]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [4, 1, 1]}, layout="constrained")
    has_paper = any(r.get(f"{k}_paper", "") != "" for r in rows for k in keys)
    width = 0.8 / (len(rows) * (2 if has_paper else 1))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (name, metrics) in zip(axes, panels):
        x = np.arange(len(metrics))
        slot = 0
        for i, row in enumerate(rows):
            colour = colours[i % len(colours)]
            mean = [float(row[f"{m}_mean"]) for m in metrics]
            std = [float(row[f"{m}_std"]) for m in metrics]
            label = PAPER_ROW_NAMES.get(row["variant"], row["variant"])
            ax.bar(x + slot * width, mean, width, yerr=std, color=colour, label=label, capsize=2)
            slot += 1
            if has_paper:
                paper = [float(row[f"{m}_paper"]) if row.get(f"{m}_paper", "") != "" else np.nan for m in metrics]
                ax.bar(x + slot * width, paper, width, color="white", edgecolor=colour, hatch="//",
                       label=f"{label} (paper)")
                slot += 1
        ax.set_xticks(x + width * (slot - 1) / 2, metrics, fontsize=7, rotation=20)
        ax.set_title(name)
    axes[0].legend(fontsize=6, ncol=2)
    fig.suptitle(title + ("; hatched: the paper's numbers" if has_paper else ""))
    _save(fig, out_path)


# ------------------------------------------------------------------------------------------------------------ QC
def _reason_kind(reason: str) -> str:
    """A reason's first clause without clip-specific detail: 'visual: no face found'."""
    first = reason.split(";")[0].strip()
    return first.split("(")[0].strip()[:60] or "ok"


def qc_summary(clip_status: Path, features: dict[str, Path]) -> dict:
    """Per modality: frames per clip, valid (face-found) fraction per clip, non-finite values replaced per clip;
    and clips per status reason."""
    _need(clip_status, *features.values())
    status = read_tsv(clip_status)
    if not status:
        raise MfonError(f"{clip_status}: lists no clip")
    reasons = Counter("usable" if r["usable"] == "1" and not r["reason"] else
                      ("usable, " if r["usable"] == "1" else "left out, ") + _reason_kind(r["reason"])
                      for r in status)
    per_modality = {}
    for modality, path in features.items():
        frames, valid, nonfinite = [], [], []
        with FeatureFile(path) as ff:
            for key in ff.keys():
                group = ff.group(key)
                mask = group["valid"][()]
                frames.append(int(group.attrs.get("n_frames", mask.shape[0])))
                valid.append(float(mask.mean()) if mask.size else 0.0)
                nonfinite.append(int(group.attrs.get("nonfinite_replaced", 0)))
        per_modality[modality] = {"frames": np.array(frames), "valid": np.array(valid),
                                  "nonfinite": np.array(nonfinite)}
    return {"reasons": dict(sorted(reasons.items())), "modalities": per_modality, "n_clips": len(status)}


def plot_qc(clip_status: Path, features: dict[str, Path], out_path: Path, *, title: str) -> None:
    summary = qc_summary(clip_status, features)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4), layout="constrained")
    names, counts = zip(*summary["reasons"].items())
    bars = axes[0].barh(range(len(names)), counts, color="#5d6d7e")
    axes[0].bar_label(bars, fontsize=7)
    axes[0].set_yticks(range(len(names)), names, fontsize=7)
    axes[0].set_title(f"clips by status ({summary['n_clips']} in the sheet)")
    for modality, values in summary["modalities"].items():
        axes[1].hist(values["frames"], bins=20, alpha=0.6, label=modality)
        axes[3].hist(values["nonfinite"], bins=20, alpha=0.6,
                     label=f"{modality}: {int(values['nonfinite'].sum())} in all")
    axes[1].set_title("frames per clip")
    axes[1].set_xlabel("frames")
    visual = summary["modalities"].get("visual")
    if visual is not None:
        axes[2].hist(visual["valid"], bins=np.linspace(0, 1, 21), color="#af601a")
        axes[2].set_title(f"face-found fraction per clip (none: {int((visual['valid'] == 0).sum())} clips)")
        axes[2].set_xlabel("fraction of frames with a face")
    axes[3].set_title("non-finite values replaced per clip")
    axes[3].set_xlabel("values")
    for ax in (axes[1], axes[3]):
        ax.legend(fontsize=7)
    for ax in axes[1:]:
        ax.set_ylabel("clips")
    fig.suptitle(title)
    _save(fig, out_path)


# ---------------------------------------------------------------------------------------------------------- t-SNE
def tsne_embedding(vectors: np.ndarray, seed: int) -> np.ndarray:
    """2-D t-SNE (scikit-learn, PCA init, fixed seed); perplexity shrunk for small splits."""
    from sklearn.manifold import TSNE

    n = vectors.shape[0]
    if n < 3:
        raise MfonError(f"t-SNE needs at least 3 clips, the split has {n}")
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                learning_rate="auto").fit_transform(vectors.astype(np.float64))


def plot_tsne(representations: dict[str, Path], out_path: Path, *, title: str, family: str = "mosi",
              seed: int = 0) -> None:
    """The paper's Fig. 4: one panel per variant (``representations``: variant -> its saved .npz)."""
    _need(*representations.values())
    fig, axes = plt.subplots(1, len(representations), figsize=(5.2 * len(representations), 4.8), squeeze=False,
                             layout="constrained")
    for ax, (variant, path) in zip(axes[0], representations.items()):
        rep = load_representations(path)
        points = tsne_embedding(rep["visual"], seed)
        classes = sentiment_classes(rep["truth"], family)
        for c, (name, colour) in enumerate(zip(SENTIMENT_CLASSES, SENTIMENT_COLOURS)):
            chosen = classes == c
            ax.scatter(points[chosen, 0], points[chosen, 1], s=14, color=colour,
                       label=f"{name} ({int(chosen.sum())})")
        made = rep["made"]
        ax.set_title(f"{PAPER_ROW_NAMES.get(variant, variant)}: Z_v, {made['split']} split, seed {made['seed']}",
                     fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=7)
    fig.suptitle(f"{title} (t-SNE seed {seed})")
    _save(fig, out_path)
