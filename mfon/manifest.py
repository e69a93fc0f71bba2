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
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .tsv import read_tsv, write_tsv
from .errors import ClipError, SheetError
from .logutil import Progress, progress_logger
from .media import probe

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("video_id", "clip_id", "text", "label", "mode")
OPTIONAL_COLUMNS = ("label_T", "label_A", "label_V", "annotation")
PROBE_COLUMNS = ("duration_s", "fps", "width", "height", "rotation", "video_codec", "audio_codec", "audio_channels",
                 "audio_sample_rate")
MANIFEST_COLUMNS = ["key", "video_id", "clip_id", "mode", "label", *OPTIONAL_COLUMNS, "text", "media_path",
                    *PROBE_COLUMNS]
REJECTED_COLUMNS = ["key", "video_id", "clip_id", "mode", "stage", "reason"]
PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
KEY_SEPARATOR = "$_$"  # MMSA's id convention: "<video_id>$_$<clip_id>"
PROBE_BATCH = 1024
LOGGED_EXAMPLES = 10  # rejected rows written to the log one by one; rejected.tsv lists every one


def clip_key(video_id: str, clip_id: str) -> str:
    return f"{video_id}{KEY_SEPARATOR}{clip_id}"


@dataclass(frozen=True)
class IngestResult:
    manifest: list[dict]
    rejected: list[dict]


LINE_FIELD = "_line"  # where a row was on the sheet (1-based, the header is line 1); not written to any table


def read_label_sheet(path: Path, required: tuple[str, ...] = REQUIRED_COLUMNS) -> list[dict[str, str]]:
    """Read ``label.csv`` with every value as a string (ids such as "007" keep their zeros).

    ``required``: the columns the sheet must have (``mfon predict`` needs no label or split).
    Each row records its line number under :data:`LINE_FIELD`. A row with more or fewer fields than the header
    keeps its fields under the header's names it could fill and gets ``"_fields_problem"``, for
    :func:`check_row` to quarantine. A quoted value that runs over a line break refuses the sheet: that is
    almost always an unterminated double quote, which would otherwise swallow the rows after it. So does a
    header that names a column twice (which one holds the values would be a guess).
    """
    path = Path(path)
    if not path.is_file():
        raise SheetError(f"{path}: label sheet not found")
    rows = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None) or []
            columns = [c.strip() for c in header]
            last_line = reader.line_num
            for fields in reader:
                end = reader.line_num
                start, last_line = last_line + 1, end
                if not fields:
                    continue  # a blank line holds no row
                if any("\n" in f or "\r" in f for f in fields):
                    raise SheetError(
                        f"{path}: line {start}: a double-quoted value runs over a line break"
                        + (f" on to line {end}, taking the lines between into one row" if end > start else
                           " to the end of the file")
                        + " (an unterminated double quote?). Close the quote, or write each transcript on one line")
                row = {name: (fields[i] if i < len(fields) else "") for i, name in enumerate(columns)}
                row[LINE_FIELD] = str(start)
                if len(fields) != len(columns):
                    hint = (" (an unquoted comma inside a value? put the transcript in double quotes)"
                            if len(fields) > len(columns) else "")
                    row["_fields_problem"] = (f"line {start} has {len(fields)} fields but the header has "
                                              f"{len(columns)}{hint}")
                rows.append(row)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SheetError(f"{path}: cannot be read as a UTF-8 CSV file ({exc})") from exc
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        where = "; ".join(f"{name!r} in columns "
                          + " and ".join(str(i + 1) for i, c in enumerate(columns) if c == name) for name in repeated)
        raise SheetError(f"{path}: the header names a column more than once ({where}): which one holds the values "
                         f"is ambiguous. Rename or remove the repeated column")
    missing = [c for c in required if c not in columns]
    if missing:
        raise SheetError(f"{path}: missing required column(s) {missing}; found columns {columns}")
    if not rows:
        raise SheetError(f"{path}: has a header but no rows")
    seen: dict[tuple[str, str], str] = {}
    duplicates = []
    for row in rows:
        ident = (row["video_id"], row["clip_id"])
        if ident in seen:
            duplicates.append(f"{ident[0]}/{ident[1]} (lines {seen[ident]} and {row[LINE_FIELD]})")
        else:
            seen[ident] = row[LINE_FIELD]
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
    if value != value.strip():
        return (f"{name} {value!r} begins or ends with white space: ids are used exactly as written, as folder "
                f"and file names under Raw/. Remove the spaces in the sheet (and in the folder or file name)")
    return None


def _parse_label(name: str, raw: str, low: float, high: float, required: bool) -> tuple[str, str | None]:
    """Return (normalised value, reason or None)."""
    raw = raw.strip()
    if raw == "":
        return "", (f"{name} is empty" if required else None)
    if not PLAIN_NUMBER.fullmatch(raw):
        # float() would also take "1_0" (as 10.0), "nan" and "infinity": only plain decimals are labels.
        try:
            finite = math.isfinite(float(raw))
        except ValueError:
            finite = True
        if not finite:
            return raw, f"{name} is {raw!r}, not a finite number"
        return raw, f"{name} {raw!r} is not a plain decimal number"
    value = float(raw)
    if not low <= value <= high:
        return raw, f"{name} {value} is outside the dataset's range [{low}, {high}]"
    return repr(value), None


def media_path_reason(root: Path, video_id: str, clip_id: str, media_extension: str) -> tuple[Path | None, str | None]:
    """``<root>/Raw/<video_id>/<clip_id>.<ext>``, or None and why the ids cannot name a file under ``root``."""
    for name, value in (("video_id", video_id), ("clip_id", clip_id)):
        reason = _unsafe_id_reason(name, value)
        if reason:
            return None, reason
    key = clip_key(video_id, clip_id)
    if not key.find(KEY_SEPARATOR) == key.rfind(KEY_SEPARATOR) == len(video_id):
        # "a$_" + "b" and "a" + "_$b" both give "a$_$_$b": such a key would not name one clip.
        return None, (f"video_id {video_id!r} and clip_id {clip_id!r} join to the key {key!r}, which other ids "
                      f"could join to as well: an id must not end (video_id) or begin (clip_id) with part of the "
                      f"separator {KEY_SEPARATOR!r}")
    media = Path(root) / "Raw" / video_id / f"{clip_id}.{media_extension}"
    # Defence in depth: the checks above already forbid separators, but never trust a path from data.
    # Lexical check (not resolve()): symlinked media folders are a legitimate layout.
    if not os.path.normpath(media).startswith(os.path.normpath(root) + os.sep):
        return None, f"media path {media} resolves outside the dataset root"
    return media, None


def check_row(row: dict[str, str], root: Path, label_range: tuple[float, float], splits: list[str],
              media_extension: str) -> tuple[dict, str | None]:
    """Validate one sheet row; returns (manifest row without probe fields, reason it is rejected or None)."""
    video_id, clip_id = row["video_id"], row["clip_id"]  # as written: a padded id is refused, not trimmed
    out = {"key": clip_key(video_id, clip_id), "video_id": video_id, "clip_id": clip_id,
           "mode": row["mode"].strip(), "text": row["text"].strip()}
    if row.get("_fields_problem"):
        # The fields after the misplaced comma are shifted: only the leading ids are kept for the listing.
        return {**out, "mode": "", "text": ""}, row["_fields_problem"]
    media, reason = media_path_reason(root, video_id, clip_id, media_extension)
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
    out["media_path"] = str(media)
    return out, None


def ingest(label_sheet: Path, root: Path, *, label_range=(-3.0, 3.0), splits=("train", "valid", "test"),
           on_bad_clip: str = "quarantine", require_video: bool = True, require_audio: bool = True,
           media_extension: str = "mp4", threads: int = 1) -> IngestResult:
    """Validate the sheet and probe every clip's media. Returns kept and rejected rows."""
    root = Path(root)
    rows = read_label_sheet(label_sheet)
    n_rows = len(rows)
    log.info("%s: %d rows", label_sheet, n_rows)
    rejected, candidates = [], []
    for i, raw in enumerate(rows):
        row, reason = check_row(raw, root, tuple(label_range), list(splits), media_extension)
        rows[i] = None  # each sheet row is let go once checked: a large sheet is not held twice
        _sort_row(row, reason, "ingest", candidates, rejected)
    del rows

    def probe_one(row: dict) -> tuple[dict, str | None]:
        try:
            info = probe(Path(row["media_path"]), require_video=require_video, require_audio=require_audio)
        except ClipError as exc:
            return row, str(exc)
        row.update({k: info.as_dict()[k] for k in PROBE_COLUMNS})
        return row, None

    progress = Progress(len(candidates), "probing clips")
    kept = []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for start in range(0, len(candidates), PROBE_BATCH):  # pool.map holds a future per item it is given
            for row, reason in pool.map(probe_one, candidates[start:start + PROBE_BATCH]):
                progress.step()
                _sort_row(row, reason, "probe", kept, rejected)
    del candidates
    log_rejected(rejected, n_rows)
    if rejected and on_bad_clip == "fail":
        listing = "\n".join(f"  {r['key']}: {r['reason']}" for r in rejected[:20])
        more = f"\n  ... and {len(rejected) - 20} more" if len(rejected) > 20 else ""
        raise IngestRefused(f"{label_sheet}: {len(rejected)} bad clip(s) and ingest.on_bad_clip is 'fail' "
                            f"({reason_counts(rejected)}):\n{listing}{more}", rejected)
    if not kept:
        raise IngestRefused(f"{label_sheet}: no usable clip left: all {len(rejected)} rows rejected "
                            f"({reason_counts(rejected)})", rejected)
    log.info("kept %d clips, rejected %d", len(kept), len(rejected))
    return IngestResult(manifest=kept, rejected=rejected)


# Peak memory of ingest, measured (benchmarks/ingest_scale.py): about 110 MB, plus 1 KB per row (its dicts),
# plus 3 bytes per byte of the sheet (its strings, the tables written). Declared with a 25 % margin.
INGEST_BASE_MB, INGEST_MB_PER_ROW, INGEST_MB_PER_SHEET_MB, INGEST_MARGIN = 110, 1.05e-3, 3.2, 1.25


def ingest_mem_mb(label_sheet: str | Path, floor_mb: int = 1000) -> int:
    """Memory (MB) an ingest of ``label_sheet`` needs, from its size and line count (``floor_mb`` if missing)."""
    path = Path(label_sheet)
    if not path.is_file():
        return floor_mb
    lines = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
    need = INGEST_BASE_MB + INGEST_MB_PER_ROW * lines + INGEST_MB_PER_SHEET_MB * path.stat().st_size / 1e6
    return max(floor_mb, math.ceil(INGEST_MARGIN * need))


def _sort_row(row: dict, reason: str | None, stage: str, kept: list[dict], rejected: list[dict]) -> None:
    """Append a checked row to ``rejected`` (with the stage and reason) or to ``kept``."""
    if reason:
        row.update(stage=stage, reason=reason)
        rejected.append(row)
    else:
        kept.append(row)


def log_rejected(rejected: list[dict], n_rows: int) -> None:
    """A summary of the rejected rows in the log: counts per kind of reason and the first few examples."""
    if not rejected:
        return
    log.warning("rejected %d of %d rows: %s", len(rejected), n_rows, reason_counts(rejected))
    for row in rejected[:LOGGED_EXAMPLES]:
        log.warning("rejected %s: %s", row["key"], row["reason"])
    if len(rejected) > LOGGED_EXAMPLES:
        log.warning("... and %d more: rejected.tsv lists every one with its reason", len(rejected) - LOGGED_EXAMPLES)


class IngestRefused(SheetError):
    """Ingest stops (every clip rejected, or a bad clip with on_bad_clip: fail); ``rejected`` holds the rows."""

    def __init__(self, message: str, rejected: list[dict]):
        super().__init__(message)
        self.rejected = rejected


def reason_kind(reason: str) -> str:
    """A reason without what is particular to its clip (paths, quoted values, numbers, details in brackets)."""
    kind = re.sub(r"^\S*[/\\]\S*: ", "", reason)   # "<media path>: media file is missing"
    kind = re.sub(r"\([^()]*\)|\[[^\[\]]*\]", "", kind)
    kind = re.sub(r"'[^']*'|\"[^\"]*\"", "…", kind)
    kind = re.sub(r"\d+(\.\d+)?", "N", kind)
    return re.sub(r"\s+", " ", kind).strip()


def reason_counts(rejected: list[dict]) -> str:
    """"3 x media file is missing, 1 x mode … is not a known split": how many clips for each kind of reason."""
    counts: dict[str, int] = {}
    for row in rejected:
        kind = reason_kind(row["reason"])
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} x {kind}" for kind, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def ingest_to_files(label_sheet: Path, root: Path, manifest_path: Path, rejected_path: Path,
                    rejected_when_refused: Path, **options) -> IngestResult:
    """:func:`ingest`, then write the manifest and rejected.tsv. When ingest stops, the rejected rows are
    written to ``rejected_when_refused`` (a path the workflow keeps after a failed job) and named in the error."""
    try:
        result = ingest(label_sheet, root, **options)
    except IngestRefused as exc:
        write_tsv(rejected_when_refused, exc.rejected, REJECTED_COLUMNS)
        raise IngestRefused(f"{exc}; every clip with its reason: {rejected_when_refused}", exc.rejected) from None
    write_ingest(result, manifest_path, rejected_path)
    if result.rejected:  # the console's only word on them: probing progress counts the clips probed, not the rows
        n_rows = len(result.manifest) + len(result.rejected)
        progress_logger().info("rejected %d of %d rows (%s): every one with its reason in %s", len(result.rejected),
                               n_rows, reason_counts(result.rejected), rejected_path)
    return result


def write_ingest(result: IngestResult, manifest_path: Path, rejected_path: Path) -> None:
    write_tsv(rejected_path, result.rejected, REJECTED_COLUMNS)
    write_tsv(manifest_path, result.manifest, MANIFEST_COLUMNS)


def read_manifest(path: Path) -> list[dict[str, str]]:
    return read_tsv(path)
