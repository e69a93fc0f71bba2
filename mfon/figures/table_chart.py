"""A metric table as grouped bars, the paper's numbers beside ours when the table has them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis import read_metric_tables
from ..metrics import MOSI_KEYS, SIMS_KEYS
from ..paper import PAPER_ROW_NAMES
from .common import plt, save


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
    save(fig, out_path)
