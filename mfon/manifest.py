"""Ingest: validate a dataset's label sheet, probe every clip, write the manifest and the rejected list.

A structurally broken sheet (unreadable, missing columns, no rows, duplicate ids) raises :class:`SheetError`.
A bad row or clip is quarantined with its reason in ``rejected.tsv`` (or, with ``on_bad_clip: fail``, the run
stops listing every bad clip). No clip is dropped without a line saying why.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .atomic import read_tsv, write_tsv
from .errors import ClipError, SheetError
from .logutil import Progress
from .media import probe

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("video_id", "clip_id", "text", "label", "mode")
OPTIONAL_COLUMNS = ("label_T", "label_A", "label_V", "annotation")
PROBE_COLUMNS = ("duration_s", "fps", "width", "height", "video_codec", "audio_codec", "audio_channels",
                 "audio_sample_rate")
MANIFEST_COLUMNS = ["key", "video_id", "clip_id", "mode", "label", *OPTIONAL_COLUMNS, "text", "media_path",
                    *PROBE_COLUMNS]
REJECTED_COLUMNS = ["key", "video_id", "clip_id", "mode", "stage", "reason"]
KEY_SEPARATOR = "$_$"  # MMSA's id convention: "<video_id>$_$<clip_id>"


def clip_key(video_id: str, clip_id: str) -> str:
    return f"{video_id}{KEY_SEPARATOR}{clip_id}"


@dataclass(frozen=True)
class IngestResult:
    manifest: list[dict]
    rejected: list[dict]


def read_label_sheet(path: Path) -> list[dict[str, str]]:
    """Read ``label.csv`` with every value as a string (ids such as "007" keep their zeros)."""
    path = Path(path)
    if not path.is_file():
        raise SheetError(f"{path}: label sheet not found")
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            rows = [{(k or "").strip(): (v if v is not None else "") for k, v in row.items()} for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SheetError(f"{path}: cannot be read as a UTF-8 CSV file ({exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise SheetError(f"{path}: missing required column(s) {missing}; found columns {columns}")
    if not rows:
        raise SheetError(f"{path}: has a header but no rows")
    seen: dict[tuple[str, str], int] = {}
    duplicates = []
    for line, row in enumerate(rows, start=2):
        ident = (row["video_id"].strip(), row["clip_id"].strip())
        if ident in seen:
            duplicates.append(f"{ident[0]}/{ident[1]} (lines {seen[ident]} and {line})")
        else:
            seen[ident] = line
    if duplicates:
        raise SheetError(f"{path}: duplicate (video_id, clip_id): " + "; ".join(duplicates[:20])
                         + (f" and {len(duplicates) - 20} more" if len(duplicates) > 20 else ""))
    return rows


def _unsafe_id_reason(name: str, value: str) -> str | None:
    """Why ``value`` cannot be used as a path component under the dataset root (None if it can)."""
    if not value:
        return f"{name} is empty"
    if value in (".", "..") or value.startswith("."):
        return f"{name} {value!r} starts with '.' and could escape the dataset root"
    bad = [c for c in ("/", "\\", "\x00", ":") if c in value]
    if bad:
        return f"{name} {value!r} contains {bad!r} and could escape the dataset root"
    if KEY_SEPARATOR in value:
        return f"{name} {value!r} contains the key separator {KEY_SEPARATOR!r}"
    return None


def _parse_label(name: str, raw: str, low: float, high: float, required: bool) -> tuple[str, str | None]:
    """Return (normalised value, reason or None)."""
    raw = raw.strip()
    if raw == "":
        return "", (f"{name} is empty" if required else None)
    try:
        value = float(raw)
    except ValueError:
        return raw, f"{name} {raw!r} is not a number"
    if not math.isfinite(value):
        return raw, f"{name} is {raw!r}, not a finite number"
    if not low <= value <= high:
        return raw, f"{name} {value} is outside the dataset's range [{low}, {high}]"
    return repr(value), None


def check_row(row: dict[str, str], root: Path, label_range: tuple[float, float], splits: list[str],
              media_extension: str) -> tuple[dict, str | None]:
    """Validate one sheet row; returns (manifest row without probe fields, reason it is rejected or None)."""
    video_id, clip_id = row["video_id"].strip(), row["clip_id"].strip()
    out = {"key": clip_key(video_id, clip_id), "video_id": video_id, "clip_id": clip_id,
           "mode": row["mode"].strip(), "text": row["text"].strip()}
    for name, value in (("video_id", video_id), ("clip_id", clip_id)):
        reason = _unsafe_id_reason(name, value)
        if reason:
            return out, reason
    if out["mode"] not in splits:
        return out, f"mode {out['mode']!r} is not a known split {splits}"
    low, high = label_range
    out["label"], reason = _parse_label("label", row["label"], low, high, required=True)
    if reason:
        return out, reason
    for name in ("label_T", "label_A", "label_V"):
        out[name], reason = _parse_label(name, row.get(name, ""), low, high, required=False)
        if reason:
            return out, reason
    out["annotation"] = row.get("annotation", "").strip()
    if not out["text"]:
        return out, "text (transcript) is empty"
    media = root / "Raw" / video_id / f"{clip_id}.{media_extension}"
    # Defence in depth: the checks above already forbid separators, but never trust a path from data.
    # Lexical check (not resolve()): symlinked media folders are a legitimate layout.
    if not os.path.normpath(media).startswith(os.path.normpath(root) + os.sep):
        return out, f"media path {media} resolves outside the dataset root"
    out["media_path"] = str(media)
    return out, None


def ingest(label_sheet: Path, root: Path, *, label_range=(-3.0, 3.0), splits=("train", "valid", "test"),
           on_bad_clip: str = "quarantine", require_video: bool = True, require_audio: bool = True,
           media_extension: str = "mp4", threads: int = 1) -> IngestResult:
    """Validate the sheet and probe every clip's media. Returns kept and rejected rows."""
    root = Path(root)
    rows = read_label_sheet(label_sheet)
    log.info("%s: %d rows", label_sheet, len(rows))
    checked = [check_row(r, root, tuple(label_range), list(splits), media_extension) for r in rows]
    rejected = [{**row, "stage": "ingest", "reason": reason} for row, reason in checked if reason]
    candidates = [row for row, reason in checked if not reason]

    def probe_one(row: dict) -> tuple[dict, str | None]:
        try:
            info = probe(Path(row["media_path"]), require_video=require_video, require_audio=require_audio)
        except ClipError as exc:
            return row, str(exc)
        return {**row, **{k: info.as_dict()[k] for k in PROBE_COLUMNS}}, None

    progress = Progress(log, len(candidates), "probing clips")
    kept = []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for row, reason in pool.map(probe_one, candidates):
            progress.step()
            if reason:
                rejected.append({**row, "stage": "probe", "reason": reason})
            else:
                kept.append(row)
    for row in rejected:
        log.warning("rejected %s: %s", row["key"], row["reason"])
    if rejected and on_bad_clip == "fail":
        listing = "\n".join(f"  {r['key']}: {r['reason']}" for r in rejected)
        raise SheetError(f"{label_sheet}: {len(rejected)} bad clip(s) and ingest.on_bad_clip is 'fail':\n{listing}")
    if not kept:
        raise SheetError(f"{label_sheet}: no usable clip left ({len(rejected)} rejected; see the reasons above)")
    log.info("kept %d clips, rejected %d", len(kept), len(rejected))
    return IngestResult(manifest=kept, rejected=rejected)


def write_ingest(result: IngestResult, manifest_path: Path, rejected_path: Path) -> None:
    write_tsv(rejected_path, result.rejected, REJECTED_COLUMNS)
    write_tsv(manifest_path, result.manifest, MANIFEST_COLUMNS)


def read_manifest(path: Path) -> list[dict[str, str]]:
    return read_tsv(path)
