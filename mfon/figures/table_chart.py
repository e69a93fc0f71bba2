"""A metric table as grouped bars, the paper's numbers beside ours when the table has them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis import read_metric_tables
from ..metrics import MOSI_KEYS, SIMS_KEYS
from ..paper import PAPER_ROW_NAMES
from .common import LEGEND_FONT, PAGE_HEIGHT, PAGE_WIDTH, plt, save, variant_colour


def plot_table_chart(table_csvs: Path | str | list, out_path: Path, *, title: str) -> None:
    """Grouped bars per metric: ours (mean, population-std error bar) per row of one metric table or several
    (the baselines' table, then MFON's), in the row's colour; the paper's as hatched bars.

    The percent metrics fill the top row, Corr and MAE share the bottom one; one legend below the axes."""
    rows = read_metric_tables(table_csvs)
    keys = MOSI_KEYS if "Has0_acc_2_mean" in rows[0] else SIMS_KEYS
    panels = [("percent metrics", [k for k in keys if k not in ("MAE", "Corr")]), ("Corr ↑", ["Corr"]),
              ("MAE ↓", ["MAE"])]
    fig = plt.figure(figsize=(PAGE_WIDTH, PAGE_HEIGHT), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=[3, 2])
    axes = [fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])]
    has_paper = any(r.get(f"{k}_paper", "") != "" for r in rows for k in keys)
    width = 0.8 / (len(rows) * (2 if has_paper else 1))
    for ax, (name, metrics) in zip(axes, panels):
        x = np.arange(len(metrics))
        slot = 0
        for row in rows:
            colour = variant_colour(row["variant"])
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
        ax.set_xticks(x + width * (slot - 1) / 2, metrics if len(metrics) > 1 else [""], fontsize=9)
        ax.set_title(name)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3 if has_paper else 4, fontsize=LEGEND_FONT)
    fig.suptitle(title + ("\nhatched: the paper's numbers" if has_paper else ""))
    save(fig, out_path)
    return fig
