"""Import one of MMSA's processed pickles into the project's manifest and HDF5 feature files.

MMSA (and most papers built on it) ship CMU-MOSI, CMU-MOSEI and CH-SIMS as one pickle per dataset: a dict of the
splits ``train``/``valid``/``test``, each a dict of arrays (layout in docs/mmsa_import.md). This module turns one
such pickle into exactly the files the raw-video path writes (``manifest.tsv``, ``qc/rejected.tsv``,
``qc/clip_status.tsv`` and the three ``*_features.h5``), so that teachers, MFON and the tables run the same code
whichever way the features were made.

Loading is restricted: :class:`~mfon.importers.safe_pickle.SafeUnpickler` resolves only the few globals that numpy
arrays and builtin containers need, so a crafted pickle cannot run code. The file's SHA-256 is compared with the
prefix MMSA publishes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..errors import MfonError
from ..features import replace_nonfinite
from ..features.registry import config_from_settings
from ..features.text import TextConfig, TextTokenizer, write_text_features
from ..h5store import write_feature_file
from ..logutil import Progress
from ..manifest import KEY_SEPARATOR, MANIFEST_COLUMNS, REJECTED_COLUMNS, clip_key
from ..provenance import file_sha256
from ..qc import kept_status_row, rejected_status_row, write_clip_status
from ..tsv import write_tsv
from .safe_pickle import SafeUnpickler

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
TEXT_MODES = ("retokenize", "pickle_ids")
EXTRACTOR = "mmsa-pickle"

# First 8 hex digits of the SHA-256 that MMSA's README publishes, by (dataset, file stem).
KNOWN_SHA256_PREFIXES: dict[tuple[str, str], str] = {
    ("mosi", "unaligned_50"): "78e0f8b5",
    ("mosei", "unaligned_50"): "ad8b23d5",
    ("sims", "unaligned_39"): "c9e20c13",
}

# What MMSA's features are, per dataset: the names MMSA gives (it stores no column names, so dims are numbered),
# the tokenizer its text_bert ids come from, and the label range.
DATASET_INFO: dict[str, dict[str, Any]] = {
    "mosi": {"acoustic": ("COVAREP", "covarep"), "visual": ("FACET", "facet"), "tokenizer": "bert-base-uncased",
             "label_range": (-3.0, 3.0)},
    "mosei": {"acoustic": ("COVAREP", "covarep"), "visual": ("FACET", "facet"), "tokenizer": "bert-base-uncased",
              "label_range": (-3.0, 3.0)},
    "sims": {"acoustic": ("librosa", "librosa"), "visual": ("OpenFace", "openface"),
             "tokenizer": "bert-base-chinese", "label_range": (-1.0, 1.0)},
}
DATASET_ALIASES = {"mosi": "mosi", "cmu-mosi": "mosi", "cmumosi": "mosi", "cmu_mosi": "mosi",
                   "mosei": "mosei", "cmu-mosei": "mosei", "cmumosei": "mosei", "cmu_mosei": "mosei",
                   "sims": "sims", "ch-sims": "sims", "chsims": "sims", "ch_sims": "sims"}

# MMSA's key names: modality -> (features, lengths).
SEQUENCE_KEYS = {"acoustic": ("audio", "audio_lengths"), "visual": ("vision", "vision_lengths")}
UNIMODAL_KEYS = {"label_T": "regression_labels_T", "label_A": "regression_labels_A",
                 "label_V": "regression_labels_V"}


# ------------------------------------------------------------------------------------------------ safe loading
def load_mmsa_pickle(path: str | Path) -> dict:
    """Load an MMSA pickle with :class:`SafeUnpickler`; refuses anything but numpy arrays and builtins."""
    path = Path(path)
    if not path.is_file():
        raise MfonError(f"MMSA pickle not found: {path}")
    with open(path, "rb") as fh:
        try:
            data = SafeUnpickler(fh, source=path).load()
        except MfonError:
            raise
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError,
                KeyError, MemoryError, UnicodeDecodeError) as exc:
            raise MfonError(f"{path}: not a readable MMSA pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict):
        raise MfonError(f"{path}: holds a {type(data).__name__}, expected MMSA's dict of splits {list(SPLITS)}")
    return data


# ------------------------------------------------------------------------------------------------------ SHA-256
def normalize_dataset(name: str) -> str | None:
    """MMSA's dataset name ("mosi", "mosei", "sims") for a project dataset name, or None if it is none of them."""
    return DATASET_ALIASES.get(str(name).strip().lower())


def check_sha256(path: str | Path, dataset: str, variant: str, *, allow_unknown: bool = False,
                 sha256: str | None = None) -> dict:
    """Compare the file's SHA-256 with the prefix MMSA publishes for ``(dataset, variant)``.

    Returns ``{"sha256", "known", "matched", "verified", "expected_prefix", "warning"}``: ``known`` when MMSA
    publishes a hash for that name, ``matched`` None for an unknown name. A known name with another hash raises
    :class:`MfonError` unless ``allow_unknown`` (then the warning is returned, to be recorded with the outputs).
    An unknown name is accepted with a warning.
    """
    path = Path(path)
    digest = sha256 or file_sha256(path)
    name = (normalize_dataset(dataset) or str(dataset).lower(), variant)
    expected = KNOWN_SHA256_PREFIXES.get(name)
    result = {"sha256": digest, "known": expected is not None, "matched": None, "verified": False,
              "expected_prefix": expected or "", "warning": ""}
    if expected is None:
        result["warning"] = (f"{path.name}: MMSA publishes no SHA-256 for {name[0]}/{variant}; the file "
                             f"(sha256 {digest[:16]}...) is imported unverified")
    elif digest.startswith(expected.lower()):
        result.update(matched=True, verified=True)
    else:
        result["matched"] = False
        message = (f"{path}: SHA-256 {digest[:16]}... does not match MMSA's published {expected}... for "
                   f"{name[0]}/{variant}")
        if not allow_unknown:
            raise MfonError(f"{message}; the file is damaged, a different release or not MMSA's. Re-download it, "
                            f"or set source.allow_unknown_sha: true to import it anyway (recorded in the outputs)")
        result["warning"] = f"{message}; imported anyway (allow_unknown_sha)"
    if result["warning"]:
        log.warning("%s", result["warning"])
    else:
        log.info("%s: SHA-256 matches MMSA's published %s...", path.name, expected)
    return result


# --------------------------------------------------------------------------------------------------- validation
def _text_value(value: Any) -> str:
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return _text_value(value.item())
    return str(value)


def _fail(source: str, split: str, key: str, what: str) -> MfonError:
    return MfonError(f"{source}: split {split!r}, key {key!r}: {what}")


def _as_array(source: str, split: str, key: str, value: Any) -> np.ndarray:
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise _fail(source, split, key, f"not an array ({exc})") from exc


def _validate_split(source: str, split: str, data: Any, need: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The split's arrays, checked for presence, rank and a common clip count N."""
    if not isinstance(data, dict):
        raise MfonError(f"{source}: split {split!r} is a {type(data).__name__}, expected a dict of arrays")
    missing = [k for k in need if k not in data]
    if missing:
        raise _fail(source, split, missing[0], f"missing (the split has keys {sorted(map(str, data))})")
    ranks = {"id": 1, "raw_text": 1, "annotations": 1, "audio": 3, "vision": 3, "text": 3, "text_bert": 3,
             "audio_lengths": 1, "vision_lengths": 1, "regression_labels": 1, **{k: 1 for k in UNIMODAL_KEYS.values()}}
    out: dict[str, np.ndarray] = {}
    n = None
    for key, rank in ranks.items():
        if key not in data:
            continue
        array = _as_array(source, split, key, data[key])
        if key.startswith("regression_labels") and array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != rank:
            raise _fail(source, split, key, f"has shape {array.shape}, expected {rank} dimension(s)")
        if n is None:
            n, first = array.shape[0], key
        elif array.shape[0] != n:
            raise _fail(source, split, key, f"has {array.shape[0]} rows but {first!r} has {n}")
        out[key] = array
    if "text_bert" in out and out["text_bert"].shape[1] != 3:
        raise _fail(source, split, "text_bert", f"has shape {out['text_bert'].shape}, expected (N, 3, L): "
                                                "token ids, attention mask, segment ids")
    for key in ("audio", "vision", "regression_labels", *UNIMODAL_KEYS.values()):
        if key in out and out[key].dtype.kind not in "fiub":
            raise _fail(source, split, key, f"has dtype {out[key].dtype}, expected numbers")
    for key in ("audio_lengths", "vision_lengths"):
        if key in out:
            values = out[key]
            if values.dtype.kind not in "iuf" or (values.dtype.kind == "f" and (
                    not np.all(np.isfinite(values)) or np.any(values != np.round(values)))) or np.any(values < 0):
                raise _fail(source, split, key, "must hold non-negative whole numbers")
    return out


def _derived_lengths(values: np.ndarray) -> np.ndarray:
    """Per clip: rows up to and including the last frame that is not all zero (NaN counts as non-zero)."""
    out = np.zeros(values.shape[0], np.int64)
    for i in range(values.shape[0]):  # one clip at a time: MOSEI's arrays are large
        rows = np.flatnonzero(np.any(values[i] != 0, axis=1))
        out[i] = rows[-1] + 1 if rows.size else 0
    return out


def _format_label(value: Any) -> str:
    """Shortest text that reads back as the same value in the array's own precision (0.4 for float32 0.4)."""
    value = np.asarray(value)[()] + 0  # + 0 turns -0.0 into 0.0
    if isinstance(value, np.floating):
        return np.format_float_positional(value, unique=True, trim="0")
    return repr(float(value))


def _label_reason(name: str, value: Any, low: float, high: float) -> str | None:
    number = float(value)
    if not math.isfinite(number):
        return f"{name} is {number!r}, not a finite number"
    if not low <= number <= high:
        return f"{name} {_format_label(value)} is outside the dataset's range [{low}, {high}]"
    return None


def _id_reason(raw_id: str) -> str | None:
    video_id, sep, clip_id = raw_id.partition(KEY_SEPARATOR)
    if not sep:
        return f"id {raw_id!r} has no {KEY_SEPARATOR!r} between video and clip id"
    for name, value in (("video_id", video_id), ("clip_id", clip_id)):
        if not value.strip():
            return f"id {raw_id!r}: {name} is empty"
        if any(c in value for c in ("/", "\x00")) or value in (".", "..") or KEY_SEPARATOR in value:
            return f"id {raw_id!r}: {name} {value!r} cannot be used as a clip key"
    return None


# ------------------------------------------------------------------------------------------------------- import
def _dims(source: str, splits: dict[str, dict[str, np.ndarray]], key: str) -> int:
    dims = {split: arrays[key].shape[2] for split, arrays in splits.items()}
    if len(set(dims.values())) != 1:
        raise MfonError(f"{source}: key {key!r} has a different feature width per split ({dims})")
    return next(iter(dims.values()))


def _source_attrs(pickle_path: Path, variant: str, sha: dict) -> dict:
    return {"source_file": pickle_path.name, "source_variant": variant, "source_sha256": sha["sha256"],
            "source_verified": bool(sha["verified"]), "source_sha_known": bool(sha["known"]),
            "source_warning": sha["warning"]}


def import_mmsa_pickle(pickle_path: str | Path, *, dataset: str, out_manifest: str | Path, out_rejected: str | Path,
                       out_clip_status: str | Path, out_text: str | Path, out_visual: str | Path,
                       out_acoustic: str | Path, text_settings: dict | None = None, text_mode: str = "retokenize",
                       label_range: tuple[float, float] | list[float] | None = None, allow_unknown_sha: bool = False,
                       compression_level: int = 4, mmsa_dataset: str | None = None,
                       variant: str | None = None) -> dict:
    """Import one MMSA pickle into the project's manifest, QC tables and HDF5 feature files.

    ``dataset`` is the project's dataset name (written into the files); ``mmsa_dataset`` which of MMSA's datasets
    the pickle is ("mosi", "mosei", "sims"; default: from ``dataset``, else from the folder ``<NAME>/Processed``)
    and ``variant`` its release (default: the file stem, e.g. "unaligned_50"). ``label_range`` defaults to the
    dataset's ([-3, 3] or [-1, 1]). All outputs appear together, each atomically, only when the import succeeds.
    Returns a summary (clips per split, quarantined clips, replaced non-finite values, SHA-256 check).
    """
    pickle_path = Path(pickle_path)
    if text_mode not in TEXT_MODES:
        raise MfonError(f"text_mode {text_mode!r} is not one of {list(TEXT_MODES)}")
    variant = variant or pickle_path.stem
    mmsa_name = _mmsa_name(pickle_path, dataset, mmsa_dataset)
    info = DATASET_INFO.get(mmsa_name or "", {})
    low, high = _label_range(dataset, info, label_range)
    log.info("importing %s as dataset %s (MMSA %s, %s)", pickle_path, dataset, mmsa_name or "unknown", variant)
    sha = check_sha256(pickle_path, mmsa_name or dataset, variant, allow_unknown=allow_unknown_sha)
    clips = parse_mmsa_pickle(pickle_path, text_mode=text_mode, label_range=(low, high), out_rejected=out_rejected)

    provenance = _source_attrs(pickle_path, variant, sha)
    import_settings = {"source": EXTRACTOR, "source_file": pickle_path.name, "source_sha256": sha["sha256"],
                       "variant": variant, "mmsa_dataset": mmsa_name or "", "label_range": [low, high]}
    summary: dict[str, Any] = {
        "pickle": clips.source, "dataset": dataset, "mmsa_dataset": mmsa_name, "variant": variant, "sha256": sha,
        "clips": {s: sum(1 for r in clips.rows if r["mode"] == s) for s in SPLITS},
        "clips_in_pickle": {s: int(clips.splits[s]["id"].shape[0]) for s in SPLITS},
        "quarantined": len(clips.rejected), "quarantined_keys": [r["key"] for r in clips.rejected],
        "nonfinite_replaced": {}, "lengths_source": clips.lengths_source, "lengths_clamped": clips.lengths_clamped,
        "empty_sequences": {}, "dims": clips.dims, "text_mode": text_mode, "empty_text": clips.empty_text,
        "unimodal_labels": clips.unimodal_columns,
    }

    with contextlib.ExitStack() as stack:  # every output is renamed into place only if all of them succeed
        manifest_tmp = stack.enter_context(atomic_path(out_manifest))
        write_tsv(manifest_tmp, clips.rows, MANIFEST_COLUMNS)
        write_tsv(stack.enter_context(atomic_path(out_rejected)), clips.rejected, REJECTED_COLUMNS)
        # What every feature file's header says of its source, beside its own settings.
        source = {"dataset": dataset, "manifest": manifest_tmp, "provenance": provenance}
        empty_clips = {}
        for modality, out_path in (("acoustic", out_acoustic), ("visual", out_visual)):
            writer = stack.enter_context(write_feature_file(out_path, compression_level))
            replaced, empty_clips[modality] = _write_sequence_features(writer, clips, modality, info, variant,
                                                                       import_settings, **source)
            summary["nonfinite_replaced"][modality] = replaced
            summary["empty_sequences"][modality] = len(empty_clips[modality])
        summary.update(_write_text(stack.enter_context(write_feature_file(out_text, compression_level)), clips,
                                   text_mode=text_mode, text_settings=dict(text_settings or {}), info=info,
                                   base_settings=import_settings, **source))
        write_clip_status(stack.enter_context(atomic_path(out_clip_status)), _status_rows(clips, empty_clips))
    log.info("imported %s: %d clips, %d quarantined, non-finite replaced %s", pickle_path.name, len(clips.rows),
             len(clips.rejected), summary["nonfinite_replaced"])
    return summary


def _mmsa_name(pickle_path: Path, dataset: str, mmsa_dataset: str | None) -> str | None:
    """Which of MMSA's datasets the pickle is: ``mmsa_dataset``, else ``dataset``, else its ``<NAME>/Processed``
    folder (None: none of them)."""
    name = normalize_dataset(mmsa_dataset or dataset)
    if name is None and not mmsa_dataset and pickle_path.parent.name.lower() == "processed":
        name = normalize_dataset(pickle_path.parent.parent.name)
    return name


def _label_range(dataset: str, info: dict, label_range) -> tuple[float, float]:
    if label_range is None:
        if not info:
            raise MfonError(f"dataset {dataset!r} is not one of MMSA's {sorted(DATASET_INFO)}: give label_range")
        label_range = info["label_range"]
    low, high = (float(v) for v in label_range)
    if not low < high:
        raise MfonError(f"label_range {list(label_range)} must be [low, high] with low < high")
    return low, high


@dataclass
class MmsaClips:
    """A checked MMSA pickle: its arrays per split and the clips the import keeps.

    ``rows``: the kept clips' manifest rows, ``where[i]``: (split, index in the pickle) of ``rows[i]``;
    ``rejected``: the quarantined clips' rows; ``lengths[modality][split]``: frames per clip.
    """

    source: str
    splits: dict[str, dict[str, np.ndarray]]
    rows: list[dict]
    where: list[tuple[str, int]]
    rejected: list[dict]
    lengths: dict[str, dict[str, np.ndarray]]
    lengths_source: dict[str, str]
    lengths_clamped: dict[str, int]
    dims: dict[str, int]
    unimodal_columns: list[str]
    empty_text: int


def parse_mmsa_pickle(pickle_path: Path, *, text_mode: str, label_range: tuple[float, float],
                      out_rejected: str | Path) -> MmsaClips:
    """Load and check the pickle (``out_rejected``: named when no clip is left)."""
    source = str(pickle_path)
    data = load_mmsa_pickle(pickle_path)
    unknown_splits = sorted(str(k) for k in data if k not in SPLITS)
    missing_splits = [s for s in SPLITS if s not in data]
    if missing_splits or unknown_splits:
        raise MfonError(f"{source}: expected the splits {list(SPLITS)}; missing {missing_splits}, "
                        f"unexpected {unknown_splits}")
    need = ("id", "audio", "vision", "regression_labels", "raw_text") + (
        ("text_bert",) if text_mode == "pickle_ids" else ())
    splits = {s: _validate_split(source, s, data[s], need) for s in SPLITS}
    del data
    dims = {m: _dims(source, splits, SEQUENCE_KEYS[m][0]) for m in SEQUENCE_KEYS}
    unimodal_columns = [c for c, k in UNIMODAL_KEYS.items() if all(k in arrays for arrays in splits.values())]
    lengths, lengths_source, lengths_clamped = _sequence_lengths(source, splits)
    rows, where, rejected, empty_text = _manifest_rows(pickle_path, splits, unimodal_columns, label_range)
    if not rows:
        raise MfonError(f"{source}: no usable clip left ({len(rejected)} quarantined; see {out_rejected})")
    return MmsaClips(source, splits, rows, where, rejected, lengths, lengths_source, lengths_clamped, dims,
                     unimodal_columns, empty_text)


def _sequence_lengths(source: str, splits: dict) -> tuple[dict, dict, dict]:
    """Frames per clip: MMSA's *_lengths where the release has them (clamped to the padded width), else
    derived; with where each modality's came from and how many were clamped."""
    lengths: dict[str, dict[str, np.ndarray]] = {m: {} for m in SEQUENCE_KEYS}
    lengths_source: dict[str, str] = {}
    lengths_clamped = {m: 0 for m in SEQUENCE_KEYS}
    for modality, (values_key, lengths_key) in SEQUENCE_KEYS.items():
        given = all(lengths_key in arrays for arrays in splits.values())
        lengths_source[modality] = (f"pickle {lengths_key}" if given
                                    else "derived: rows up to the last frame that is not all zero")
        for split, arrays in splits.items():
            width = arrays[values_key].shape[1]
            if given:
                raw = arrays[lengths_key].astype(np.int64)
                lengths_clamped[modality] += int((raw > width).sum())
                lengths[modality][split] = np.minimum(raw, width)
            else:
                lengths[modality][split] = _derived_lengths(arrays[values_key])
        if lengths_clamped[modality]:
            log.warning("%s: %d %s exceed the padded width and were clamped to it", source,
                        lengths_clamped[modality], lengths_key)
        log.info("%s lengths: %s", modality, lengths_source[modality])
    return lengths, lengths_source, lengths_clamped


def _manifest_rows(pickle_path: Path, splits: dict, unimodal_columns: list[str],
                   label_range: tuple[float, float]) -> tuple[list[dict], list[tuple[str, int]], list[dict], int]:
    """(kept rows, their (split, index), quarantined rows, kept clips with an empty transcript); repeated
    ids stop the import."""
    source, low, high = str(pickle_path), *label_range
    rows: list[dict] = []
    where: list[tuple[str, int]] = []
    rejected: list[dict] = []
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    media = f"mmsa:{pickle_path.name}"
    empty_text = 0
    for split, arrays in splits.items():
        for i in range(arrays["id"].shape[0]):
            raw_id = _text_value(arrays["id"][i]).strip()
            video_id, sep, clip_id = raw_id.partition(KEY_SEPARATOR)
            key = clip_key(video_id, clip_id) if sep else raw_id
            place = f"{split}[{i}]"
            if key in seen:
                duplicates.append(f"{key} ({seen[key]} and {place})")
                continue
            seen[key] = place
            row = {"key": key, "video_id": video_id, "clip_id": clip_id, "mode": split,
                   "text": _text_value(arrays["raw_text"][i]).strip(), "media_path": media,
                   "annotation": _text_value(arrays["annotations"][i]).strip() if "annotations" in arrays else "",
                   "label": _format_label(arrays["regression_labels"][i])}
            reason = _id_reason(raw_id) or _label_reason("label", arrays["regression_labels"][i], low, high)
            for column in unimodal_columns:
                value = arrays[UNIMODAL_KEYS[column]][i]
                row[column] = _format_label(value)
                reason = reason or _label_reason(column, value, low, high)
            if reason:
                rejected.append({**row, "stage": "ingest", "reason": reason})
                log.warning("quarantined %s (%s): %s", key, place, reason)
                continue
            empty_text += not row["text"]
            rows.append(row)
            where.append((split, i))
    if duplicates:
        raise MfonError(f"{source}: clip ids are not unique: " + "; ".join(duplicates[:20])
                        + (f" and {len(duplicates) - 20} more" if len(duplicates) > 20 else ""))
    if empty_text:
        log.warning("%s: %d kept clips have an empty raw_text", source, empty_text)
    return rows, where, rejected, empty_text


def _write_sequence_features(writer, clips: MmsaClips, modality: str, info: dict, variant: str, import_settings: dict,
                             *, dataset: str, manifest: Path, provenance: dict) -> tuple[int, set[str]]:
    """One modality's feature file (acoustic or visual); returns the non-finite values replaced and the keys of
    the clips of length 0."""
    values_key = SEQUENCE_KEYS[modality][0]
    name, prefix = info.get(modality, (f"MMSA {values_key}", values_key))
    settings = {**import_settings, "modality_key": values_key, "lengths": clips.lengths_source[modality]}
    dims = clips.dims[modality]
    writer.write_header(modality=modality, dataset=dataset, settings=settings, manifest=manifest, description={
        "extractor": EXTRACTOR, "extractor_version": variant, "feature_set": f"{name} (MMSA {variant})",
        "dim_names": [f"{prefix}_{d}" for d in range(dims)], "frame_rate": 0.0,
        "lengths_source": clips.lengths_source[modality], **provenance})
    total, empty = 0, set()
    progress = Progress(len(clips.rows), f"{modality} features")
    for row, (split, i) in zip(clips.rows, clips.where):
        padded = clips.splits[split][values_key][i]
        n = int(clips.lengths[modality][split][i])
        values, replaced = replace_nonfinite(padded[:n])
        valid = np.ones(n, np.uint8)
        if n == 0:  # nothing measured: one zero frame marked invalid keeps the clip (as MMSA does)
            values, valid = np.zeros((1, dims), np.float32), np.zeros(1, np.uint8)
            empty.add(row["key"])
        total += replaced
        writer.add_clip(row["key"], {"features": values, "valid": valid}, {
            "video_id": row["video_id"], "clip_id": row["clip_id"], "n_frames": n,
            "nonfinite_replaced": replaced, "padded_length": int(padded.shape[0])})
        progress.step()
    writer.set_root_attrs({"nonfinite_replaced": total})
    if total:
        log.warning("%s: replaced %d non-finite values (NaN, +-inf) by 0", modality, total)
    if empty:
        log.warning("%s: %d clips have length 0 (kept as one zero frame marked invalid)", modality, len(empty))
    return total, empty


def _status_rows(clips: MmsaClips, empty_clips: dict[str, set[str]]) -> list[dict]:
    """clip_status rows: the quarantined clips, then the kept ones (a sequence of length 0 is named)."""
    rows = [rejected_status_row(r) for r in clips.rejected]
    for row in clips.rows:
        state = {m: "empty" if row["key"] in empty_clips[m] else "ok" for m in ("acoustic", "visual")}
        reasons = [f"{m}: length 0 in the pickle (kept as one zero frame marked invalid)"
                   for m in ("acoustic", "visual") if state[m] == "empty"]
        rows.append(kept_status_row(row, {**state, "text": "ok"}, True, reasons))
    return rows


def _write_text(writer, clips: MmsaClips, *, text_mode: str, text_settings: dict, info: dict, base_settings: dict,
                provenance: dict, dataset: str, manifest: Path) -> dict:
    """The text feature file: retokenized transcripts or the pickle's ids, written by mfon.features.text."""
    rows, where, splits, source = clips.rows, clips.where, clips.splits, clips.source
    texts = [row["text"] for row in rows]
    if text_mode == "retokenize":
        tokenizer = TextTokenizer(config_from_settings(TextConfig, text_settings))
        arrays, truncated = tokenizer.tokenize(texts)
        max_length = tokenizer.max_length
        settings = {**text_settings, "model": tokenizer.config.model, "max_length": max_length,
                    "text_mode": text_mode, **base_settings}
        tokenizer_attrs = tokenizer.describe()
    else:
        length = splits["train"]["text_bert"].shape[2]
        if any(arrays["text_bert"].shape[2] != length for arrays in splits.values()):
            raise MfonError(f"{source}: key 'text_bert' has a different length per split")
        max_length = int(text_settings.get("max_length") or length)
        if max_length < length:
            raise MfonError(f"{source}: text_bert holds {length} tokens per clip but text.max_length is "
                            f"{max_length}; set text.max_length: {length} to keep the pickle's ids")
        stacked = np.stack([splits[split]["text_bert"][i] for split, i in where]).astype(np.float64)
        if not np.all(np.isfinite(stacked)) or np.any(stacked != np.round(stacked)) or np.any(stacked < 0):
            raise MfonError(f"{source}: key 'text_bert' holds values that are not non-negative whole numbers")
        pad = ((0, 0), (0, max_length - length))
        arrays = {"input_ids": np.pad(stacked[:, 0], pad).astype(np.int32),
                  "attention_mask": np.pad(stacked[:, 1], pad).astype(np.int8),
                  "token_type_ids": np.pad(stacked[:, 2], pad).astype(np.int8)}
        mmsa_tokenizer = info.get("tokenizer", "bert-base-uncased")
        vocab = {"bert-base-uncased": 30522, "bert-base-chinese": 21128}[mmsa_tokenizer]
        top = int(arrays["input_ids"].max())
        if top >= vocab:
            raise MfonError(f"{source}: text_bert holds token id {top}, outside {mmsa_tokenizer}'s vocabulary "
                            f"of {vocab}; is this the right dataset?")
        # Whether MMSA cut a transcript is not recorded; a sequence that fills every position may have been.
        truncated = [bool(mask[length - 1]) for mask in arrays["attention_mask"]]
        settings = {"model": mmsa_tokenizer, "max_length": max_length, "text_mode": text_mode, **base_settings}
        tokenizer_attrs = {"extractor": EXTRACTOR, "tokenizer": f"pickle:{mmsa_tokenizer} (MMSA)",
                           "tokenizer_class": "BertTokenizer (MMSA text_bert)", "vocab_size": vocab}
    write_text_features(writer, rows, arrays, truncated, dataset=dataset, settings=settings,
                        manifest=manifest, tokenizer_attrs=tokenizer_attrs,
                        max_length=max_length, extra_attrs=provenance)
    n_truncated = int(sum(truncated))
    log.info("text (%s): %d transcripts, max_length %d, %d %s", text_mode, len(rows), max_length, n_truncated,
             "truncated" if text_mode == "retokenize" else "fill every position (possibly truncated by MMSA)")
    return {"text_tokenizer": tokenizer_attrs["tokenizer"], "text_max_length": max_length,
            "text_truncated": n_truncated}
