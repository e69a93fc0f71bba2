"""Training curves: loss terms and validation metrics by epoch, the kept epoch marked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..errors import MfonError
from ..paper import PAPER_ROW_NAMES
from ..tsv import read_tsv
from .common import LEGEND_FONT, PAGE_WIDTH, legend_outside, need, plt, save, variant_colour

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


def _epoch_axis(ax, epochs: np.ndarray) -> None:
    """Whole epochs on the x axis: each one for a short run (a single epoch too), else matplotlib's integer ticks."""
    ax.set_xlabel("epoch")
    first, last = int(np.nanmin(epochs)), int(np.nanmax(epochs))
    if last - first <= 10:
        ax.set_xticks(np.arange(first, last + 1))
        ax.set_xlim(first - 0.3, last + 0.3)
    else:
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
        _epoch_axis(ax, epochs)
        legend_outside(ax)
    fig.suptitle(title)
    save(fig, out_path)
    return fig


OVERVIEW_QUANTITIES = ("train_total", "valid_mse", "valid_MAE", "valid_Corr")


def _seed_band(histories: list[dict[str, np.ndarray]], name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                           np.ndarray]:
    """Epochs, and the mean, lowest and highest of ``name`` over the seeds at each epoch (runs of unequal length:
    each epoch over the seeds that reached it)."""
    epochs = np.unique(np.concatenate([h["epoch"] for h in histories]))
    values = np.full((len(histories), len(epochs)), np.nan)
    for i, h in enumerate(histories):
        if name in h:
            values[i, np.searchsorted(epochs, h["epoch"])] = h[name]
    reached = ~np.all(np.isnan(values), axis=0)
    values = values[:, reached]
    return epochs[reached], np.nanmean(values, axis=0), np.nanmin(values, axis=0), np.nanmax(values, axis=0)


def plot_curves_overview(runs: list[dict], out_path: Path, *, title: str) -> None:
    """Every variant on the same four panels (total training loss, validation MSE, MAE, Corr): a line per variant
    in its colour, the mean over seeds, the band from the lowest to the highest seed, each seed's kept epoch a dot.
    The figure keeps its size however many variants there are (each run's own curves: :func:`plot_run_curves`).

    ``runs``: dicts with ``variant``, ``seed``, ``history`` and ``metrics`` (paths).
    """
    if not runs:
        raise MfonError("cannot draw the training overview: no run given")
    need(*[r["history"] for r in runs], *[r["metrics"] for r in runs])
    variants = list(dict.fromkeys(r["variant"] for r in runs))
    loaded = [(r["variant"], _history(r["history"]), _best_epoch(r["metrics"])) for r in runs]
    fig, axes = plt.subplots(2, 2, figsize=(PAGE_WIDTH, 6.4), sharex=True, layout="constrained")
    for ax, name in zip(axes.flat, OVERVIEW_QUANTITIES):
        for variant in variants:
            histories = [h for v, h, _ in loaded if v == variant]
            epochs, mean, low, high = _seed_band(histories, name)
            if not epochs.size:
                continue
            colour = variant_colour(variant)
            label = f"{PAPER_ROW_NAMES.get(variant, variant)} ({len(histories)} seeds)"
            ax.plot(epochs, mean, linewidth=1.2, color=colour, label=label)
            if len(histories) > 1:
                ax.fill_between(epochs, low, high, color=colour, alpha=0.15, linewidth=0)
            kept = [best for v, _, best in loaded if v == variant and best in epochs]
            ax.plot(kept, np.interp(kept, epochs, mean), "o", color=colour, markersize=4)
        ax.set_title(name, fontsize=10)
        ax.tick_params(labelsize=8)
    for ax in axes[-1]:
        _epoch_axis(ax, np.concatenate([h["epoch"] for _, h, _ in loaded]))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(variants), 3), fontsize=LEGEND_FONT)
    fig.suptitle(f"{title}\n(line: mean over seeds; band: lowest to highest seed; dots: kept epochs)", fontsize=11)
    save(fig, out_path)
    return fig
