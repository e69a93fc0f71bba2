"""Predicted vs true scatter and the confusion matrix of one variant's classes, pooled over its seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..errors import MfonError
from ..metrics import SIMS_EDGES_5
from ..tsv import read_tsv
from .common import PAGE_WIDTH, SEED_MARKERS, legend_outside, need, plt, save


def _class_edges(family: str) -> tuple[list[str], Callable[[np.ndarray], np.ndarray]]:
    """Class names and the function giving each score's class: Acc7's (CH-SIMS: Acc5's) as mfon.metrics has them."""
    if family == "sims":
        inner = np.asarray(SIMS_EDGES_5[1:-1])
        return ([f"{a:g}..{b:g}" for a, b in zip(SIMS_EDGES_5[:-1], SIMS_EDGES_5[1:])],
                lambda x: np.sum(np.clip(x, -1, 1)[:, None] > inner[None, :], axis=1))
    return [str(c) for c in range(-3, 4)], lambda x: (np.round(np.clip(x, -3.0, 3.0)) + 3).astype(int)


def plot_predictions(predictions: list[Path], out_path: Path, *, title: str, family: str = "mosi",
                     split: str = "test", seeds: list | None = None) -> None:
    """Scatter of prediction against truth (a colour and marker per seed: ``seeds``, one per file) and the Acc7
    (CH-SIMS: Acc5) confusion matrix of the seeds pooled, with its colour scale."""
    need(*predictions)
    seeds = list(seeds) if seeds is not None else list(range(1, len(predictions) + 1))
    if len(seeds) != len(predictions):
        raise MfonError(f"{len(predictions)} predictions files but {len(seeds)} seeds")
    fig, (ax, cx) = plt.subplots(1, 2, figsize=(PAGE_WIDTH, 4.4), layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    truth, pred = [], []
    for i, (path, seed) in enumerate(zip(predictions, seeds)):
        rows = [r for r in read_tsv(path) if r["split"] == split]
        if not rows:
            raise MfonError(f"{path}: holds no {split} predictions")
        run_truth, run_pred = [float(r["truth"]) for r in rows], [float(r["prediction"]) for r in rows]
        ax.scatter(run_truth, run_pred, s=14, alpha=0.7, color=colours[i % len(colours)],
                   marker=SEED_MARKERS[i % len(SEED_MARKERS)], label=f"seed {seed}")
        truth += run_truth
        pred += run_pred
    truth, pred = np.array(truth), np.array(pred)
    labels, classes = _class_edges(family)
    low, high = (-1.0, 1.0) if family == "sims" else (-3.0, 3.0)
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("true score")
    ax.set_ylabel("predicted score")
    ax.set_title(f"{split}: {len(truth)} predictions, {len(predictions)} seed(s)", fontsize=10)
    legend_outside(ax)
    n = len(labels)
    matrix = np.zeros((n, n), int)
    np.add.at(matrix, (classes(truth), classes(pred)), 1)
    image = cx.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=cx, shrink=0.8, label="predictions", ticks=MaxNLocator(integer=True))
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
    cx.set_title(f"{'Acc5' if family == 'sims' else 'Acc7'} confusion (accuracy {100 * accuracy:.1f}%)",
                 fontsize=10)
    fig.suptitle(title)
    save(fig, out_path)
    return fig
