"""What every figure shares: the Agg backend, the input check, the atomic PNG writer, the sentiment colours."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from ..atomic import atomic_path  # noqa: E402
from ..errors import MfonError  # noqa: E402

log = logging.getLogger(__name__)

SENTIMENT_COLOURS = ("#c0392b", "#95a5a6", "#2471a3")  # negative, neutral, positive


def need(*paths: Path | str) -> None:
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise MfonError(f"cannot draw the figure: input file(s) not found: {', '.join(missing)}")


def save(fig, out_path: Path | str) -> None:
    """Write the figure atomically (PNG without a timestamp, so equal inputs give equal files)."""
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    log.info("wrote %s", out_path)
