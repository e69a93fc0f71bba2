"""One status line per clip of the label sheet: where it stands after ingest and each feature stage.

This module is the one writer of ``clip_status.tsv``: :func:`clip_status` builds it from the stage reports of the
raw-video path, the MMSA import builds the same rows with :func:`rejected_status_row` / :func:`kept_status_row`
and writes them with :func:`write_clip_status`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .h5store import FeatureFile
from .tsv import read_tsv, write_tsv

log = logging.getLogger(__name__)

STATUS_COLUMNS = ["key", "video_id", "clip_id", "mode", "ingest", "acoustic", "visual", "text", "usable", "reason"]
_CLIP_COLUMNS = ("key", "video_id", "clip_id", "mode")


def rejected_status_row(rejected: dict) -> dict:
    """The status row of a clip that the ingest quarantined (a row of ``rejected.tsv``)."""
    return {**{k: rejected[k] for k in _CLIP_COLUMNS}, "ingest": "rejected", "acoustic": "", "visual": "",
            "text": "", "usable": 0, "reason": f"ingest: {rejected['reason']}"}


def kept_status_row(row: dict, states: dict[str, str], usable: bool, reasons: list[str]) -> dict:
    """The status row of a manifest clip: ``states`` maps acoustic, visual and text to their status."""
    return {**{k: row[k] for k in _CLIP_COLUMNS}, "ingest": "ok", **states, "usable": int(usable),
            "reason": "; ".join(reasons)}


def write_clip_status(out_path: Path, rows: list[dict]) -> None:
    """Write ``clip_status.tsv`` atomically and log how many clips of each split are usable."""
    write_tsv(out_path, rows, STATUS_COLUMNS)
    by_split: dict[str, list[int]] = {}
    for row in rows:
        used, total = by_split.setdefault(row["mode"], [0, 0])
        by_split[row["mode"]] = [used + int(row["usable"]), total + 1]
    for split, (used, total) in sorted(by_split.items()):
        log.info("split %s: %d of %d clips usable", split, used, total)


def clip_status(rejected_path: Path, manifest_path: Path, acoustic_report: Path, visual_report: Path,
                text_features: Path, out_path: Path) -> list[dict]:
    """Write ``clip_status.tsv``: every clip of the sheet, usable (all three modalities present) or why not."""
    rows = [rejected_status_row(r) for r in read_tsv(rejected_path)]
    reports = {m: {r["key"]: r for r in read_tsv(p)} for m, p in (("acoustic", acoustic_report),
                                                                 ("visual", visual_report))}
    with FeatureFile(text_features) as ff:
        text_keys = set(ff.keys())
    for r in read_tsv(manifest_path):
        states, reasons = {}, []
        for modality, report in reports.items():
            entry = report.get(r["key"])
            states[modality] = entry["status"] if entry else "missing"
            if entry is None or entry["status"] == "quarantined":
                reasons.append(f"{modality}: {entry['reason'] if entry else 'not in report'}")
            elif entry["status"] == "no_face":
                reasons.append(f"visual: {entry['reason']} (kept, zero-filled)")
        states["text"] = "ok" if r["key"] in text_keys else "missing"
        if states["text"] != "ok":
            reasons.append("text: not tokenized")
        usable = all(states[m] in ("ok", "no_face") for m in reports) and states["text"] == "ok"
        rows.append(kept_status_row(r, states, usable, reasons))
    write_clip_status(out_path, rows)
    return rows
