"""The project's tables on disk: a header line and one row per record (tab-separated unless told otherwise)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable

from .atomic import atomic_path


def write_tsv(path: str | Path, rows: Iterable[dict], columns: list[str], delimiter: str = "\t") -> None:
    """Write ``rows`` (dicts) as a table with a header (tab-separated by default), atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, delimiter=delimiter, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def read_tsv(path: str | Path) -> list[dict[str, str]]:
    """Read a table written by :func:`write_tsv`; every value is a string."""
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))
