"""Training curves: loss terms and validation metrics by epoch, the kept epoch marked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..errors import MfonError
from ..paper import PAPER_ROW_NAMES
from ..tsv import read_tsv
from .common import LEGEND_FONT, PAGE_WIDTH, legend_outside, need, plt, save

ERROR_METRICS = ("valid_mse", "valid_MAE")  # not fractions: each on its own axes


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


def loss_terms(h: dict[str, np.ndarray]) -> tuple[list[str], list[str]]:
    """The training loss columns drawn, and those left out because the run switched them off (zero throughout)."""
    terms = [k for k in h if k.startswith("train_")]
    off = [k for k in terms if np.all(np.nan_to_num(h[k]) == 0.0)]
    return [k for k in terms if k not in off], off


def _epoch_axis(ax) -> None:
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_run_curves(history: Path, metrics_json: Path, out_path: Path, *, title: str) -> None:
    """Four panels by epoch: the training loss terms the run used, validation MSE, validation MAE, and the
    validation metrics in [0, 1] or [-1, 1] (accuracies, F1, Corr); the kept epoch a dashed line."""
    need(history, metrics_json)
    h, best = _history(history), _best_epoch(metrics_json)
    epochs = h["epoch"]
    drawn, off = loss_terms(h)
    fig, axes = plt.subplots(2, 2, figsize=(PAGE_WIDTH, 6.4), layout="constrained")
    losses, mse, fractions, mae = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]
    for name in drawn:
        losses.plot(epochs, h[name], marker=".", label=name[len("train_"):])
    losses.set_title("training loss terms" + (f" (off: {', '.join(k[len('train_'):] for k in off)})" if off else ""),
                     fontsize=10)
    for ax, name in ((mse, "valid_mse"), (mae, "valid_MAE")):
        if name in h:
            ax.plot(epochs, h[name], marker=".", color="black")
        ax.set_title(f"validation {name[len('valid_'):].upper()} ↓", fontsize=10)
    for name in [k for k in h if k.startswith("valid_") and k not in ERROR_METRICS]:
        fractions.plot(epochs, h[name], marker=".", label=name[len("valid_"):])
    fractions.set_title("validation metrics (fractions; Corr)", fontsize=10)
    for ax in axes.flat:
        ax.axvline(best, color="grey", linestyle="--", linewidth=1, label=f"kept: epoch {best}")
        _epoch_axis(ax)
        legend_outside(ax)
    fig.suptitle(title)
    save(fig, out_path)
    return fig


OVERVIEW_COLUMNS = ("train_total", "valid_mse", "valid_MAE", "valid_Corr")


def plot_curves_overview(runs: list[dict], out_path: Path, *, title: str) -> None:
    """Small multiples: one row per variant, one column per quantity, one line per seed, kept epochs dotted.

    ``runs``: dicts with ``variant``, ``seed``, ``history`` and ``metrics`` (paths).
    """
    if not runs:
        raise MfonError("cannot draw the training overview: no run given")
    need(*[r["history"] for r in runs], *[r["metrics"] for r in runs])
    variants = list(dict.fromkeys(r["variant"] for r in runs))
    seeds = list(dict.fromkeys(r["seed"] for r in runs))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, axes = plt.subplots(len(variants), len(OVERVIEW_COLUMNS),
                             figsize=(PAGE_WIDTH, 1.9 * len(variants) + 1.2),
                             squeeze=False, sharex=True, layout="constrained")
    for run in runs:
        h, best = _history(run["history"]), _best_epoch(run["metrics"])
        row = variants.index(run["variant"])
        colour = colours[seeds.index(run["seed"]) % len(colours)]
        for col, name in enumerate(OVERVIEW_COLUMNS):
            ax = axes[row, col]
            if name not in h:
                continue
            ax.plot(h["epoch"], h[name], linewidth=1, color=colour, label=f"seed {run['seed']}")
            kept = np.flatnonzero(h["epoch"] == best)
            if kept.size:
                ax.plot(best, h[name][kept[0]], "o", color=colour, markersize=4)
    for row, variant in enumerate(variants):
        axes[row, 0].set_ylabel(PAPER_ROW_NAMES.get(variant, variant), fontsize=9)
    for col, name in enumerate(OVERVIEW_COLUMNS):
        axes[0, col].set_title(name, fontsize=9)
        _epoch_axis(axes[-1, col])
    for ax in axes.flat:
        ax.tick_params(labelsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(seeds), 6), fontsize=LEGEND_FONT)
    fig.suptitle(f"{title}\n(dots: kept epoch)", fontsize=11)
    save(fig, out_path)
    return fig
