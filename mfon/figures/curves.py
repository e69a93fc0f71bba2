"""Training curves: loss terms and validation metrics by epoch, the kept epoch marked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import MfonError
from ..paper import PAPER_ROW_NAMES
from ..tsv import read_tsv
from .common import need, plt, save


def _history(path: Path) -> dict[str, np.ndarray]:
    rows = read_tsv(path)
    if not rows:
        raise MfonError(f"{path}: the training history has no epoch")
    return {k: np.array([float(r[k]) if r[k] != "" else np.nan for r in rows]) for k in rows[0]}


def _best_epoch(metrics_json: Path) -> int:
    try:
        return int(json.loads(Path(metrics_json).read_text())["best_epoch"])
    except (ValueError, KeyError) as exc:
        raise MfonError(f"{metrics_json}: not a run's metrics file ({exc})") from exc


def plot_run_curves(history: Path, metrics_json: Path, out_path: Path, *, title: str) -> None:
    """Three panels by epoch: the training loss terms, validation MSE, the validation metrics."""
    need(history, metrics_json)
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
    save(fig, out_path)


OVERVIEW_COLUMNS = ("train_total", "valid_mse", "valid_MAE", "valid_Corr")


def plot_curves_overview(runs: list[dict], out_path: Path, *, title: str) -> None:
    """Small multiples: one row per variant, one column per quantity, one line per seed, kept epochs dotted.

    ``runs``: dicts with ``variant``, ``seed``, ``history`` and ``metrics`` (paths).
    """
    if not runs:
        raise MfonError("cannot draw the training overview: no run given")
    need(*[r["history"] for r in runs], *[r["metrics"] for r in runs])
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
    save(fig, out_path)
