"""One status line per clip of the label sheet: where it stands after ingest and each feature stage."""

from __future__ import annotations

import logging
from pathlib import Path

from .atomic import read_tsv, write_tsv
from .h5store import FeatureFile

log = logging.getLogger(__name__)

STATUS_COLUMNS = ["key", "video_id", "clip_id", "mode", "ingest", "acoustic", "visual", "text", "usable", "reason"]


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


def status_of(rejected_path: Path, manifest_path: Path, reports: dict[str, Path], text_features: Path | None,
              out_path: Path) -> list[dict]:
    """Write a clip status file: every clip of the sheet, usable in the modalities checked or why not.

    ``reports``: modality -> its extraction report (qc/<modality>_report.tsv) for the frame modalities checked;
    ``text_features``: the text feature file when text is checked. A modality not checked has an empty column.
    """
    rows = []
    for r in read_tsv(rejected_path):
        rows.append({**r, "ingest": "rejected", "acoustic": "", "visual": "", "text": "", "usable": 0,
                     "reason": f"ingest: {r['reason']}"})
    tables = {m: {r["key"]: r for r in read_tsv(p)} for m, p in sorted(reports.items())}
    text_keys = None
    if text_features is not None:
        with FeatureFile(text_features) as ff:
            text_keys = set(ff.keys())
    for r in read_tsv(manifest_path):
        row = {k: r[k] for k in ("key", "video_id", "clip_id", "mode")}
        row.update(ingest="ok", acoustic="", visual="", text="")
        reasons = []
        for modality, report in tables.items():
            entry = report.get(r["key"])
            row[modality] = entry["status"] if entry else "missing"
            if entry is None or entry["status"] == "quarantined":
                reasons.append(f"{modality}: {entry['reason'] if entry else 'not in report'}")
            elif entry["status"] == "no_face":
                reasons.append(f"visual: {entry['reason']} (kept, zero-filled)")
        if text_keys is not None:
            row["text"] = "ok" if r["key"] in text_keys else "missing"
            if row["text"] != "ok":
                reasons.append("text: not tokenized")
        row["usable"] = int(all(row[m] in ("ok", "no_face") for m in tables) and row["text"] in ("ok", ""))
        row["reason"] = "; ".join(reasons)
        rows.append(row)
    _write(rows, out_path)
    return rows


def copy_status(status_path: Path, out_path: Path) -> list[dict]:
    """A per-modality status of an imported dataset: the import's own (one pickle makes every modality)."""
    rows = read_tsv(status_path)
    _write(rows, out_path)
    return rows


def _write(rows: list[dict], out_path: Path) -> None:
    write_tsv(out_path, rows, STATUS_COLUMNS)
    by_split: dict[str, list[int]] = {}
    for row in rows:
        used, total = by_split.setdefault(row["mode"], [0, 0])
        by_split[row["mode"]] = [used + int(row["usable"]), total + 1]
    for split, (used, total) in sorted(by_split.items()):
        log.info("split %s: %d of %d clips usable", split, used, total)
