"""HDF5 feature files: one file per dataset and modality, one group per clip.

Layout (schema version 1; documented in docs/feature_files.md)::

    /                      root attributes: provenance (see ROOT_ATTRIBUTES)
    /clips/<key>/          one group per clip, key = "<video_id>$_$<clip_id>"
        features           float32 (T, D), gzip-compressed        [acoustic, visual]
        valid              uint8 (T,), 1 = a real measurement     [acoustic, visual]
        input_ids          int32 (L,)                             [text]
        attention_mask     int8 (L,)                              [text]
        token_type_ids     int8 (L,)                              [text]
      attributes: video_id, clip_id, n_frames, ... (scalars, fixed-length strings)

No variable-length types are used: strings are fixed-length UTF-8 byte strings, lists of names are
fixed-length byte-string arrays, and nested settings are stored as JSON text.
Files are written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from .atomic import atomic_path
from .errors import MfonError

SCHEMA_VERSION = 1
ROOT_ATTRIBUTES = ("schema_version", "modality", "dataset", "created_utc", "config_hash", "settings_json",
                   "versions_json", "manifest_sha256", "n_clips")


def _encode(value: Any) -> Any:
    """Attribute value without vlen types."""
    if isinstance(value, str):
        return np.bytes_(value.encode("utf-8"))
    if isinstance(value, bool):
        return np.int8(value)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return np.array([v.encode("utf-8") for v in value], dtype=f"S{max(len(v.encode('utf-8')) for v in value)}")
    if isinstance(value, dict):
        return np.bytes_(json.dumps(value, sort_keys=True, default=str).encode("utf-8"))
    if value is None:
        return np.bytes_(b"null")
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":
        return [v.decode("utf-8") for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode_attrs(attrs: h5py.AttributeManager) -> dict[str, Any]:
    return {k: _decode(v) for k, v in attrs.items()}


class FeatureFileWriter:
    """Writes clips into a temporary HDF5 file that becomes ``path`` on :meth:`close` (success only).

    Use as a context manager: an exception inside the block removes the temporary file.
    """

    def __init__(self, h5: h5py.File, compression_level: int = 4):
        self._h5 = h5
        self._clips = h5.require_group("clips")
        self._compression = {"compression": "gzip", "compression_opts": compression_level, "shuffle": True} \
            if compression_level > 0 else {}
        self.n_clips = 0

    def set_root_attrs(self, attrs: dict[str, Any]) -> None:
        for key, value in attrs.items():
            self._h5.attrs[key] = _encode(value)

    def add_clip(self, key: str, arrays: dict[str, np.ndarray], attrs: dict[str, Any] | None = None) -> None:
        if "/" in key or key in self._clips:
            raise MfonError(f"clip key {key!r} is invalid or already written")
        group = self._clips.create_group(key)
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            opts = self._compression if array.size >= 64 else {}
            group.create_dataset(name, data=array, **opts)
        for name, value in (attrs or {}).items():
            group.attrs[name] = _encode(value)
        self.n_clips += 1

    def copy_clip_from(self, source: h5py.Group, key: str) -> None:
        """Copy a clip group byte for byte (compressed chunks are not re-encoded)."""
        if key in self._clips:
            raise MfonError(f"clip {key!r} appears in more than one shard")
        source.file.copy(source, self._clips, name=key)
        self.n_clips += 1


@contextmanager
def write_feature_file(path: str | Path, compression_level: int = 4) -> Iterator[FeatureFileWriter]:
    """Open a writer for ``path``; the file appears under its final name only if the block completes."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", libver=("earliest", "v110"), track_order=True) as h5:
            writer = FeatureFileWriter(h5, compression_level)
            yield writer
            h5.attrs["n_clips"] = writer.n_clips


class FeatureFile:
    """Read access to a feature file: ``keys()``, ``clip(key)``, ``attrs``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise MfonError(f"{self.path}: not a readable HDF5 feature file ({exc})") from exc
        self.attrs = decode_attrs(self._h5.attrs)
        if self.attrs.get("schema_version") != SCHEMA_VERSION:
            raise MfonError(f"{self.path}: feature-file schema version {self.attrs.get('schema_version')!r}, "
                            f"this mfon reads version {SCHEMA_VERSION}")

    def __enter__(self) -> "FeatureFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._h5.close()

    def keys(self) -> list[str]:
        return list(self._h5["clips"].keys())

    def __contains__(self, key: str) -> bool:
        return key in self._h5["clips"]

    def __len__(self) -> int:
        return len(self._h5["clips"])

    def group(self, key: str) -> h5py.Group:
        return self._h5["clips"][key]

    def clip(self, key: str) -> dict[str, Any]:
        """All arrays of a clip as numpy arrays, plus its attributes under ``"attrs"``."""
        group = self.group(key)
        out: dict[str, Any] = {name: group[name][()] for name in group}
        out["attrs"] = decode_attrs(group.attrs)
        return out

    @property
    def settings(self) -> dict:
        return json.loads(self.attrs.get("settings_json", "{}"))

    @property
    def versions(self) -> dict:
        return json.loads(self.attrs.get("versions_json", "{}"))


def summarize(path: str | Path) -> str:
    """A human-readable summary of a feature file (used by ``mfon inspect``)."""
    with FeatureFile(path) as ff:
        attrs = dict(ff.attrs)
        keys = ff.keys()
        lines = [f"{ff.path}", f"  modality: {attrs.get('modality')}   dataset: {attrs.get('dataset')}   "
                 f"clips: {len(keys)}   schema: v{attrs.get('schema_version')}"]
        for name in ("extractor", "extractor_version", "feature_set", "frame_rate", "tokenizer", "max_length",
                     "created_utc", "config_hash", "manifest_sha256"):
            if name in attrs:
                lines.append(f"  {name}: {attrs[name]}")
        if "dim_names" in attrs:
            names = attrs["dim_names"]
            shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
            lines.append(f"  dims ({len(names)}): {shown}")
        lines.append(f"  versions: {ff.versions}")
        if keys:
            if "features" in ff.group(keys[0]):
                lengths = np.array([ff.group(k)["features"].shape[0] for k in keys])
                valid = np.array([float(np.mean(ff.group(k)["valid"][()])) if lengths[i] else 0.0
                                  for i, k in enumerate(keys)])
                lines.append(f"  frames per clip: min {lengths.min()}, median {int(np.median(lengths))}, "
                             f"max {lengths.max()}")
                lines.append(f"  valid-frame fraction: mean {valid.mean():.3f}, clips with none: "
                             f"{int((valid == 0).sum())}")
            elif "attention_mask" in ff.group(keys[0]):
                tokens = np.array([int(ff.group(k)["attention_mask"][()].sum()) for k in keys])
                lines.append(f"  tokens per clip: min {tokens.min()}, median {int(np.median(tokens))}, "
                             f"max {tokens.max()}")
            first = ff.clip(keys[0])
            shapes = {k: getattr(v, "shape", None) for k, v in first.items() if k != "attrs"}
            lines.append(f"  first clip {keys[0]}: {shapes}")
    return "\n".join(lines)
