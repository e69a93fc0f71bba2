"""Per-frame facial features that OpenFace or iMotions/Emotient FACET already computed, read from their exports.

Two extractors implement the :class:`~mfon.features.FeatureExtractor` protocol (modality ``"visual"``), so the
extraction driver stores their output in the visual HDF5 file exactly as it stores MediaPipe descriptors:

``openface_csv``
    :class:`OpenFaceCSVExtractor` reads the CSV of OpenFace 2.x ``FeatureExtraction`` (one row per frame; column
    names written with a leading space, e.g. ``" AU01_r"``).
``facet_export``
    :class:`FacetExportExtractor` reads a tab-separated iMotions export of Emotient FACET (``#`` metadata lines,
    then a table with emotion and AU Evidence columns, face rectangle and head pose; empty cells when no face).

Where the export of a clip is found: the manifest's media path is ``<root>/Raw/<video_id>/<clip_id>.<ext>``, and
the export must be ``<csv_root>/<video_id>/<clip_id>.<csv_extension>``, or, when that file does not exist, the
flat ``<csv_root>/<video_id>_<clip_id>.<csv_extension>``. Every column that the extractor keeps is named when it
is built (a preset or an explicit list), so ``dim_names`` is the same for every clip; a clip whose export lacks
one of them is quarantined with :class:`~mfon.errors.ClipError`. Full description: ``docs/facial_csv.md``.

Settings left at None (``columns``, ``csv_extension``) take the backend's own default (``default_columns``,
``default_extension`` of the extractor class), as the config schema documents.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..config import schema_default
from ..errors import ClipError, ConfigError
from . import FeatureSequence, configure
from .video_frames import face_info

log = logging.getLogger(__name__)

EXTRACTOR_VERSION = "1.0"
CUSTOM = "custom"
# A resampled grid time with no exported row closer than this many native frame intervals is a gap (invalid).
GAP_INTERVALS = 1.5

# --- OpenFace 2.x (FeatureExtraction) ---------------------------------------------------------------------------
OPENFACE_AU_INTENSITY = ["AU01_r", "AU02_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU09_r", "AU10_r", "AU12_r",
                         "AU14_r", "AU15_r", "AU17_r", "AU20_r", "AU23_r", "AU25_r", "AU26_r", "AU45_r"]
OPENFACE_AU_PRESENCE = ["AU01_c", "AU02_c", "AU04_c", "AU05_c", "AU06_c", "AU07_c", "AU09_c", "AU10_c", "AU12_c",
                        "AU14_c", "AU15_c", "AU17_c", "AU20_c", "AU23_c", "AU25_c", "AU26_c", "AU28_c", "AU45_c"]
OPENFACE_POSE = ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
OPENFACE_GAZE = ["gaze_0_x", "gaze_0_y", "gaze_0_z", "gaze_1_x", "gaze_1_y", "gaze_1_z"]
OPENFACE_PRESETS: dict[str, list[str]] = {
    "au_intensity": OPENFACE_AU_INTENSITY,
    "au_presence": OPENFACE_AU_PRESENCE,
    "au_all": OPENFACE_AU_INTENSITY + OPENFACE_AU_PRESENCE,
    "pose": OPENFACE_POSE,
    "pose_rotation": OPENFACE_POSE[3:],
    "gaze": OPENFACE_GAZE,
    "gaze_angle": ["gaze_angle_x", "gaze_angle_y"],
}
# Presets whose columns are read from a file: resolved from the first export under csv_root (sorted path order).
OPENFACE_FILE_PRESETS = ("all_numeric",)
OPENFACE_BOOKKEEPING = ("frame", "face_id", "timestamp", "confidence", "success")

# --- iMotions export of Emotient FACET (v6 column names) ---------------------------------------------------------
FACET_CHANNELS = ["Joy", "Anger", "Surprise", "Fear", "Contempt", "Disgust", "Sadness", "Confusion", "Frustration",
                  "Neutral", "Positive", "Negative"]
FACET_AUS = [1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 18, 20, 23, 24, 25, 26, 28, 43]
FACET_EVIDENCE = [f"{name} Evidence" for name in FACET_CHANNELS]
FACET_INTENSITY = [f"{name} Intensity" for name in FACET_CHANNELS]
FACET_AU_EVIDENCE = [f"AU{n} Evidence" for n in FACET_AUS]
FACET_POSE = ["Yaw Degrees", "Pitch Degrees", "Roll Degrees"]
FACET_FACE_BOX = ["FaceRect X", "FaceRect Y", "FaceRect Width", "FaceRect Height"]
FACET_PRESETS: dict[str, list[str]] = {
    "evidence": FACET_EVIDENCE,
    "intensity": FACET_INTENSITY,
    "au_evidence": FACET_AU_EVIDENCE,
    "pose": FACET_POSE,
    "face_box": FACET_FACE_BOX,
    "evidence_au_pose": FACET_EVIDENCE + FACET_AU_EVIDENCE + FACET_POSE,
}
# Time columns of an iMotions export, in order of preference (all in milliseconds).
FACET_TIME_COLUMNS = ("MediaTime", "Timestamp", "FrameTime")
FACET_FACE_COUNT = "NoOfFaces"


class ExportConfigError(ConfigError, ValueError):
    """The export reader's settings are unusable (unknown preset, bad option, missing csv_root)."""


# --- reading the tables -----------------------------------------------------------------------------------------
@dataclass
class ExportTable:
    """A parsed export: stripped column names and the data rows as strings (comment and blank lines dropped)."""

    path: Path
    columns: list[str]
    rows: list[list[str]]
    delimiter: str

    def __post_init__(self) -> None:
        self.index: dict[str, int] = {}
        for i, name in enumerate(self.columns):
            self.index.setdefault(name, i)  # a repeated name resolves to its first occurrence

    def has(self, name: str) -> bool:
        return name in self.index

    def numbers(self, name: str) -> np.ndarray:
        """Column ``name`` as float64; empty or non-numeric cells become NaN."""
        i = self.index[name]
        comma = self.delimiter != ","
        return np.fromiter((_to_float(row[i] if i < len(row) else "", comma) for row in self.rows),
                           dtype=np.float64, count=len(self.rows))

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """Columns ``names`` as a float64 ``(rows, len(names))`` array."""
        if not names:
            return np.zeros((len(self.rows), 0))
        return np.stack([self.numbers(name) for name in names], axis=1)

    def require(self, names: Iterable[str], what: str = "column") -> None:
        """ClipError naming every one of ``names`` that the table lacks (with the closest names it has)."""
        missing = [name for name in names if name not in self.index]
        if not missing:
            return
        hints = []
        for name in missing[:5]:
            close = difflib.get_close_matches(name, self.columns, n=2, cutoff=0.75)
            if close:
                hints.append(f"{name!r} -> did you mean {' or '.join(repr(c) for c in close)}?")
        raise ClipError(f"{self.path}: missing {what}(s) {missing} among its {len(self.columns)} columns"
                        + (f" ({'; '.join(hints)})" if hints else ""))


def _to_float(cell: str, decimal_comma: bool) -> float:
    text = cell.strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        pass
    if decimal_comma and text.count(",") == 1 and "." not in text:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            pass
    return math.nan


def _decode(raw: bytes, path: Path) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.debug("%s is not UTF-8; reading it as Windows-1252/Latin-1", path)
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def _sniff_delimiter(header: str) -> str:
    if "\t" in header:
        return "\t"
    if header.count(";") > header.count(","):
        return ";"
    return ","


def read_export_table(path: Path) -> ExportTable:
    """Parse an OpenFace CSV or an iMotions text export.

    Accepts a UTF-8 BOM (or UTF-16 with BOM, or Windows-1252 text), CRLF line ends, ``#`` comment lines (the
    iMotions metadata block) and blank lines anywhere, and tab, semicolon or comma separators (chosen from the
    header line). Column names are stripped of surrounding whitespace. Raises ClipError when the file cannot be
    read or has no header line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ClipError(f"{path}: cannot read the facial feature export ({exc.strerror or exc})") from exc
    lines = [line for line in _decode(raw, path).splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise ClipError(f"{path}: facial feature export is empty (no header line)")
    delimiter = _sniff_delimiter(lines[0])
    try:
        parsed = list(csv.reader(lines, delimiter=delimiter))
    except csv.Error as exc:
        raise ClipError(f"{path}: cannot be parsed as a {delimiter!r}-separated table ({exc})") from exc
    columns = [name.strip() for name in parsed[0]]
    return ExportTable(path=path, columns=columns, rows=parsed[1:], delimiter=delimiter)


# --- time axis --------------------------------------------------------------------------------------------------
def native_rate(times: np.ndarray) -> float:
    """Frames per second from the median positive interval of sorted ``times`` (s); 0.0 for fewer than 2."""
    steps = np.diff(times)
    steps = steps[steps > 0]
    return float(1.0 / np.median(steps)) if steps.size else 0.0


def _order_rows(times: np.ndarray, valid: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Row indices sorted by time; of rows sharing a time, the valid one with the highest score is kept."""
    order = np.lexsort((-score, ~valid, times))
    t = times[order]
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = np.diff(t) > 0
    return order[keep]


def resample_nearest(times: np.ndarray, values: np.ndarray, valid: np.ndarray, fps: float,
                     interval: float) -> tuple[np.ndarray, np.ndarray]:
    """Values on the grid ``k / fps`` (k = 0 .. last time) from the nearest exported row.

    A grid time farther than ``GAP_INTERVALS`` native intervals (``interval`` s; 1/fps when unknown) from every
    row falls in a hole of the export and is invalid (zero-filled).
    """
    n = max(int(math.floor(times[-1] * fps + 1e-6)) + 1, 1)
    grid = np.arange(n, dtype=np.float64) / fps
    right = np.clip(np.searchsorted(times, grid), 0, len(times) - 1)
    left = np.clip(right - 1, 0, len(times) - 1)
    pick = np.where(np.abs(times[left] - grid) <= np.abs(times[right] - grid), left, right)
    tol = GAP_INTERVALS * (interval if interval > 0 else 1.0 / fps)
    ok = valid[pick] & (np.abs(times[pick] - grid) <= tol + 1e-9)
    out = np.where(ok[:, None], values[pick], 0.0)
    return out, ok


def _as_number(value) -> float | None:
    """``value`` as a float (numbers only, not strings or booleans); None when it is not one."""
    if isinstance(value, (bool, str)) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --- column selection -------------------------------------------------------------------------------------------
def resolve_columns(columns, presets: dict[str, list[str]], default: str,
                    file_presets: Sequence[str] = ()) -> tuple[str, list[str] | None]:
    """``(feature_set, column names)`` of a ``columns`` setting: a preset name, or a list of column names in
    which preset names may appear and expand. The names are None for a file-resolved preset."""
    if columns is None:
        columns = default
    if isinstance(columns, str):
        name = columns.strip()
        if name in presets:
            return name, list(presets[name])
        if name in file_presets:
            return name, None
        known = ", ".join([*presets, *file_presets])
        raise ExportConfigError(f"unknown column preset {columns!r}; expected one of {known}, "
                                  "or a list of column names")
    if not isinstance(columns, (list, tuple)) or not columns:
        raise ExportConfigError(f"columns must be a preset name or a non-empty list of column names, "
                                  f"got {columns!r}")
    names: list[str] = []
    for item in columns:
        if not isinstance(item, str) or not item.strip():
            raise ExportConfigError(f"column names must be non-empty strings, got {item!r} in {list(columns)}")
        item = item.strip()
        if item in file_presets:
            raise ExportConfigError(f"preset {item!r} must be used alone, not inside a list")
        names.extend(presets.get(item, [item]))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ExportConfigError(f"column(s) {repeated} requested more than once in {list(columns)}")
    return CUSTOM, names


# --- the extractors ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenFaceCSVConfig:
    csv_root: str | Path | None = schema_default("visual", "csv_root")
    columns: str | list[str] | None = schema_default("visual", "columns")
    csv_extension: str | None = schema_default("visual", "csv_extension")
    min_confidence: float = 0.0
    fps: float | None = schema_default("visual", "fps")


@dataclass(frozen=True)
class FacetExportConfig:
    csv_root: str | Path | None = schema_default("visual", "csv_root")
    columns: str | list[str] | None = schema_default("visual", "columns")
    csv_extension: str | None = schema_default("visual", "csv_extension")
    fps: float | None = schema_default("visual", "fps")


class _FacialExportExtractor:
    """Shared machinery: export lookup, column checks, ordering, resampling, zero-filling, per-clip info."""

    modality = "visual"
    extractor_name = ""
    default_extension = "csv"
    presets: dict[str, list[str]] = {}
    file_presets: tuple[str, ...] = ()
    default_columns = ""

    def __init__(self, csv_root, columns=None, csv_extension: str | None = None, fps: float | None = None):
        if csv_root is None or not str(csv_root).strip():
            raise ExportConfigError(f"{self.extractor_name}: csv_root (the folder of the exports) is not set")
        self.csv_root = Path(csv_root).expanduser().resolve()
        if not self.csv_root.is_dir():
            raise ExportConfigError(f"{self.extractor_name}: csv_root {self.csv_root} is not a directory")
        ext = self.default_extension if csv_extension is None else str(csv_extension).strip().lstrip(".")
        if not ext or "/" in ext or "\\" in ext:
            raise ExportConfigError(f"csv_extension must be a file extension such as 'csv', got {csv_extension!r}")
        self.csv_extension = ext
        rate = _as_number(fps)
        if fps is not None and not (rate is not None and math.isfinite(rate) and rate > 0):
            raise ExportConfigError(f"fps must be positive or None, got {fps!r}")
        self.fps = rate
        self.feature_set, names = resolve_columns(columns, self.presets, self.default_columns, self.file_presets)
        self.columns: list[str] = names if names is not None else self._columns_from_first_export()

    # -- protocol --
    @property
    def dim_names(self) -> list[str]:
        return list(self.columns)

    @property
    def frame_rate(self) -> float:
        # With fps=None the rows are kept at the export's own rate, recorded per clip (attribute "frame_rate").
        return self.fps or 0.0

    def describe(self) -> dict:
        return {
            "extractor": self.extractor_name,
            "extractor_version": EXTRACTOR_VERSION,
            "feature_set": self.feature_set,
            "columns": list(self.columns),
            "csv_root": str(self.csv_root),
            "csv_extension": self.csv_extension,
            "layout": (f"<csv_root>/<video_id>/<clip_id>.{self.csv_extension}, "
                       f"else <csv_root>/<video_id>_<clip_id>.{self.csv_extension}"),
            "fps": self.frame_rate,
            "resampling": (f"nearest exported row on the grid k/{self.fps:g} s (gap > {GAP_INTERVALS:g} native "
                           "frame intervals: invalid)" if self.fps else "none: the export's own rows and rate"),
            **self._describe_extra(),
        }

    def extract(self, path: Path) -> FeatureSequence:
        source = self.export_path(path)
        table = read_export_table(source)
        if not table.rows:
            raise ClipError(f"{source}: facial feature export has a header but no data rows")
        table.require(self.columns)
        times, values, valid, score = self._read_frames(table)
        values = np.where(np.isfinite(values), values, np.nan)
        valid = valid & np.isfinite(values).all(axis=1)
        has_time = np.isfinite(times)
        if not has_time.any():
            raise ClipError(f"{source}: no row has a readable time stamp")
        order = _order_rows(times[has_time], valid[has_time], score[has_time])
        times = times[has_time][order]
        values = values[has_time][order]
        valid = valid[has_time][order]
        rate = native_rate(times)
        if self.fps:
            interval = 1.0 / rate if rate > 0 else 0.0
            values, valid = resample_nearest(times, values, valid, self.fps, interval)
            clip_rate = self.fps
        else:
            values = np.where(valid[:, None], values, 0.0)
            clip_rate = rate
        info = {**face_info(valid), "source_file": str(source), "source_rows": len(table.rows),
                "source_frame_rate": round(rate, 6), "frame_rate": round(float(clip_rate), 6)}
        return FeatureSequence(values=values.astype(np.float32), valid=valid, frame_rate=float(clip_rate),
                               info=info)

    # -- export lookup --
    def candidate_paths(self, media_path: Path) -> list[Path]:
        """Where the export of ``<root>/Raw/<video_id>/<clip_id>.<ext>`` may be, in the order looked at."""
        media_path = Path(media_path)
        video_id, clip_id = media_path.parent.name, media_path.stem
        name = f"{clip_id}.{self.csv_extension}"
        return [self.csv_root / video_id / name, self.csv_root / f"{video_id}_{name}"]

    def export_path(self, media_path: Path) -> Path:
        candidates = self.candidate_paths(media_path)
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise ClipError(f"{media_path}: no {self.extractor_name} export found; expected {candidates[0]} "
                        f"(or {candidates[1]})")

    # -- subclass hooks --
    def _read_frames(self, table: ExportTable) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(times_s, values (rows, D) with NaN for missing, valid (rows,), score (rows,))`` of the table."""
        raise NotImplementedError

    def _describe_extra(self) -> dict:
        return {}

    def _numeric_columns(self, table: ExportTable) -> list[str]:
        raise NotImplementedError

    def _columns_from_first_export(self) -> list[str]:
        exports = sorted(p for p in self.csv_root.rglob(f"*.{self.csv_extension}") if p.is_file())
        if not exports:
            raise ExportConfigError(f"{self.extractor_name}: preset {self.feature_set!r} takes its columns from "
                                      f"the first export, but {self.csv_root} holds no *.{self.csv_extension} file")
        try:
            table = read_export_table(exports[0])
        except ClipError as exc:
            raise ExportConfigError(f"preset {self.feature_set!r}: {exc}") from exc
        names = self._numeric_columns(table)
        if not names:
            raise ExportConfigError(f"preset {self.feature_set!r}: {exports[0]} has no numeric feature column")
        self.columns_source = str(exports[0])
        return names


class OpenFaceCSVExtractor(_FacialExportExtractor):
    """Per-frame features from OpenFace 2.x ``FeatureExtraction`` CSV files.

    ``columns``: a preset of :data:`OPENFACE_PRESETS` (default ``au_intensity``: the 17 ``AUxx_r``), a list of
    column names (presets may appear in it and expand), or ``all_numeric``: every column of the first export
    under ``csv_root`` (sorted path order) except ``frame``, ``face_id``, ``timestamp``, ``confidence`` and
    ``success``. A frame is valid when ``success == 1``, ``confidence >= min_confidence`` and every selected value
    is a finite number; time stamps are the ``timestamp`` column (seconds).
    """

    extractor_name = "openface-csv"
    default_extension = "csv"
    presets = OPENFACE_PRESETS
    file_presets = OPENFACE_FILE_PRESETS
    default_columns = "au_intensity"
    config_type = OpenFaceCSVConfig

    def __init__(self, config: OpenFaceCSVConfig | None = None, /, **options):
        self.config = configure(OpenFaceCSVConfig, config, options)
        min_confidence = self.config.min_confidence
        threshold = _as_number(min_confidence)
        if threshold is None or not 0.0 <= threshold <= 1.0:
            raise ExportConfigError(f"min_confidence must lie in [0, 1], got {min_confidence!r}")
        self.min_confidence = threshold
        super().__init__(self.config.csv_root, self.config.columns, self.config.csv_extension, self.config.fps)

    def _describe_extra(self) -> dict:
        extra = {"source_tool": "OpenFace 2.x FeatureExtraction CSV", "time_column": "timestamp (s)",
                 "min_confidence": self.min_confidence,
                 "validity": "success == 1 and confidence >= min_confidence and all selected values finite"}
        if hasattr(self, "columns_source"):
            extra["columns_source"] = self.columns_source
        return extra

    def _numeric_columns(self, table: ExportTable) -> list[str]:
        names = []
        for name in table.columns:
            if name in OPENFACE_BOOKKEEPING or name in names or not name:
                continue
            if table.rows and np.isfinite(table.numbers(name)).any():
                names.append(name)
        return names

    def _read_frames(self, table: ExportTable):
        table.require(["timestamp", "success", "confidence"], what="OpenFace bookkeeping column")
        times = table.numbers("timestamp")
        confidence = table.numbers("confidence")
        success = table.numbers("success")
        values = table.matrix(self.columns)
        valid = (success == 1) & (np.nan_to_num(confidence, nan=-1.0) >= self.min_confidence)
        return times, values, valid, np.nan_to_num(confidence, nan=-1.0)


class FacetExportExtractor(_FacialExportExtractor):
    """Per-frame Emotient FACET features from iMotions text exports (v6 column names).

    ``columns``: a preset of :data:`FACET_PRESETS` (default ``evidence``: the 12 emotion/sentiment Evidence
    columns) or a list of column names (presets may appear in it and expand). A frame is valid when every
    selected value is a finite number (FACET leaves the cells empty when it finds no face) and, where the
    export has a ``NoOfFaces`` column, it is not 0. Time stamps (milliseconds) come from ``MediaTime``, else
    ``Timestamp``, else ``FrameTime``: the first of these that is present and readable in every row.
    """

    extractor_name = "imotions-facet-export"
    default_extension = "txt"
    presets = FACET_PRESETS
    default_columns = "evidence"
    config_type = FacetExportConfig

    def __init__(self, config: FacetExportConfig | None = None, /, **options):
        self.config = configure(FacetExportConfig, config, options)
        super().__init__(self.config.csv_root, self.config.columns, self.config.csv_extension, self.config.fps)

    def _describe_extra(self) -> dict:
        return {"source_tool": "iMotions export of Emotient FACET", "time_column": " | ".join(FACET_TIME_COLUMNS)
                + " (ms, first present and complete)",
                "validity": f"all selected values present and finite, and {FACET_FACE_COUNT} != 0 where exported"}

    def _read_frames(self, table: ExportTable):
        times = None
        for name in FACET_TIME_COLUMNS:
            if table.has(name):
                candidate = table.numbers(name)
                if np.isfinite(candidate).all():
                    times = candidate / 1000.0
                    break
        if times is None:
            raise ClipError(f"{table.path}: no complete time column; expected one of {list(FACET_TIME_COLUMNS)} "
                            "with a number in every row")
        values = table.matrix(self.columns)
        valid = np.ones(len(table.rows), dtype=bool)
        if table.has(FACET_FACE_COUNT):
            valid &= table.numbers(FACET_FACE_COUNT) != 0
        return times, values, valid, np.zeros(len(table.rows))
