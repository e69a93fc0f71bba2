"""One status line per clip of the label sheet: where it stands after ingest and each feature stage.

This module is the one writer of clip status files: :func:`clip_status` (usable in all modalities) and
:func:`modality_status` (usable in one) build them from the stage reports of the raw-video path; the MMSA import
builds the same rows with :func:`rejected_status_row` / :func:`kept_status_row` and writes them with
:func:`write_clip_status`.
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
    """The status row of a manifest clip: ``states`` maps the modalities checked to their status (the others
    are left empty)."""
    return {**{k: row[k] for k in _CLIP_COLUMNS}, "ingest": "ok", "acoustic": "", "visual": "", "text": "",
            **states, "usable": int(usable), "reason": "; ".join(reasons)}


def write_clip_status(out_path: Path, rows: list[dict]) -> None:
    """Write a clip status file atomically and log how many clips of each split are usable."""
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
    return status_of(rejected_path, manifest_path, {"acoustic": acoustic_report, "visual": visual_report},
                     text_features, out_path)


def modality_status(rejected_path: Path, manifest_path: Path, made_by: Path, modality: str,
                    out_path: Path) -> list[dict]:
    """Write ``<modality>_clip_status.tsv``: every clip, usable in ``modality`` alone or why not.

    ``made_by``: the modality's extraction report (visual, acoustic) or the text feature file (text).
    """
    if modality == "text":
        return status_of(rejected_path, manifest_path, {}, made_by, out_path)
    return status_of(rejected_path, manifest_path, {modality: made_by}, None, out_path)


def copy_status(status_path: Path, out_path: Path) -> list[dict]:
    """A per-modality status of an imported dataset: the import's own (one pickle makes every modality)."""
    rows = read_tsv(status_path)
    write_clip_status(out_path, rows)
    return rows


def status_of(rejected_path: Path, manifest_path: Path, reports: dict[str, Path], text_features: Path | None,
              out_path: Path) -> list[dict]:
    """Write a clip status file: every clip of the sheet, usable in the modalities checked or why not.

    ``reports``: modality -> its extraction report (qc/<modality>_report.tsv) for the frame modalities checked;
    ``text_features``: the text feature file when text is checked.
    """
    rows = [rejected_status_row(r) for r in read_tsv(rejected_path)]
    tables = {m: {r["key"]: r for r in read_tsv(p)} for m, p in sorted(reports.items())}
    text_keys = None
    if text_features is not None:
        with FeatureFile(text_features) as ff:
            text_keys = set(ff.keys())
    for r in read_tsv(manifest_path):
        states, reasons = {}, []
        for modality, report in tables.items():
            entry = report.get(r["key"])
            states[modality] = entry["status"] if entry else "missing"
            if entry is None or entry["status"] == "quarantined":
                reasons.append(f"{modality}: {entry['reason'] if entry else 'not in report'}")
            elif entry["status"] == "no_face":
                reasons.append(f"visual: {entry['reason']} (kept, zero-filled)")
        if text_keys is not None:
            states["text"] = "ok" if r["key"] in text_keys else "missing"
            if states["text"] != "ok":
                reasons.append("text: not tokenized")
        usable = all(states[m] in ("ok", "no_face") for m in states)
        rows.append(kept_status_row(r, states, usable, reasons))
    write_clip_status(out_path, rows)
    return rows
