"""One status line per clip of the label sheet: where it stands after ingest and each feature stage."""

from __future__ import annotations

import logging
from pathlib import Path

from .tsv import read_tsv, write_tsv
from .h5store import FeatureFile

log = logging.getLogger(__name__)

STATUS_COLUMNS = ["key", "video_id", "clip_id", "mode", "ingest", "acoustic", "visual", "text", "usable", "reason"]


def clip_status(rejected_path: Path, manifest_path: Path, acoustic_report: Path, visual_report: Path,
                text_features: Path, out_path: Path) -> list[dict]:
    """Write ``clip_status.tsv``: every clip of the sheet, usable (all three modalities present) or why not."""
    rows = []
    for r in read_tsv(rejected_path):
        rows.append({**r, "ingest": "rejected", "acoustic": "", "visual": "", "text": "", "usable": 0,
                     "reason": f"ingest: {r['reason']}"})
    reports = {m: {r["key"]: r for r in read_tsv(p)} for m, p in (("acoustic", acoustic_report),
                                                                 ("visual", visual_report))}
    with FeatureFile(text_features) as ff:
        text_keys = set(ff.keys())
    for r in read_tsv(manifest_path):
        row = {k: r[k] for k in ("key", "video_id", "clip_id", "mode")}
        row["ingest"] = "ok"
        reasons = []
        for modality, report in reports.items():
            entry = report.get(r["key"])
            row[modality] = entry["status"] if entry else "missing"
            if entry is None or entry["status"] == "quarantined":
                reasons.append(f"{modality}: {entry['reason'] if entry else 'not in report'}")
            elif entry["status"] == "no_face":
                reasons.append(f"visual: {entry['reason']} (kept, zero-filled)")
        row["text"] = "ok" if r["key"] in text_keys else "missing"
        if row["text"] != "ok":
            reasons.append("text: not tokenized")
        row["usable"] = int(all(row[m] in ("ok", "no_face") for m in reports) and row["text"] == "ok")
        row["reason"] = "; ".join(reasons)
        rows.append(row)
    write_tsv(out_path, rows, STATUS_COLUMNS)
    by_split: dict[str, list[int]] = {}
    for row in rows:
        used, total = by_split.setdefault(row["mode"], [0, 0])
        by_split[row["mode"]] = [used + int(row["usable"]), total + 1]
    for split, (used, total) in sorted(by_split.items()):
        log.info("split %s: %d of %d clips usable", split, used, total)
    return rows
