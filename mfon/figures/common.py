"""What every figure shares: the Agg backend, the input check, the atomic PNG writer, the colours, the sizes."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from ..atomic import atomic_path  # noqa: E402
from ..errors import MfonError  # noqa: E402
from ..variants import VARIANTS  # noqa: E402

log = logging.getLogger(__name__)

SENTIMENT_COLOURS = ("#c0392b", "#95a5a6", "#2471a3")  # negative, neutral, positive

DPI = 110
#: The size, in inches, a figure keeps to. The report page shows a figure in a column about 800 px wide on a
#: 1440 x 900 screen (a wider figure is shrunk to it), centred vertically in a pane of the window's height that
#: cannot scroll above the figure's top (a taller figure loses its title).
PAGE_WIDTH = 7.5
PAGE_HEIGHT = 7.0
LEGEND_FONT = 8

# One colour per MFON variant, in the order of mfon.variants (tab10, then two more): the same variant has the
# same colour in every figure.
_VARIANT_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                    "#bcbd22", "#17becf", "#393b79", "#637939")
#: Colours for other names (baseline models): picked by a checksum of the name, so a name keeps its colour from
#: run to run and figure to figure; darker and lighter tones, distinct from the variants'.
_OTHER_PALETTE = ("#843c39", "#7b4173", "#8c6d31", "#3182bd", "#31a354", "#756bb1", "#e6550d", "#636363",
                  "#ad494a", "#a55194", "#6b6ecf", "#b5cf6b")
VARIANT_COLOURS = dict(zip(VARIANTS, _VARIANT_PALETTE))
SEED_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def variant_colour(name: str) -> str:
    """The colour of a variant (or of any other model name) in every figure."""
    if name in VARIANT_COLOURS:
        return VARIANT_COLOURS[name]
    return _OTHER_PALETTE[zlib.crc32(name.encode("utf-8")) % len(_OTHER_PALETTE)]


def legend_outside(ax, **kwargs):
    """The axes' legend to the right of its data area, never over bars or curves."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=LEGEND_FONT,
                     **kwargs)


def need(*paths: Path | str) -> None:
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise MfonError(f"cannot draw the figure: input file(s) not found: {', '.join(missing)}")


def save(fig, out_path: Path | str) -> None:
    """Write the figure atomically (PNG without a timestamp, so equal inputs give equal files) and close it.

    The plotting functions return the closed figure: its layout (legends, axes) can still be measured."""
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    log.info("wrote %s", out_path)
