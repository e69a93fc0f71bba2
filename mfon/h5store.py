"""HDF5 feature files: one file per dataset and modality, one group per clip.

Layout (schema version 1; documented in docs/feature_files.md)::

    /                      root attributes: provenance (see ROOT_ATTRIBUTES)
    /clips/<key>/          one group per clip, key = "<video_id>$_$<clip_id>"
        features           float32 (T, D), gzip-compressed        [acoustic, visual]
                           every dataset carries a fletcher32 checksum per chunk
        valid              uint8 (T,), 1 = a real measurement     [acoustic, visual]
        input_ids          int32 (L,)                             [text]
        attention_mask     int8 (L,)                              [text]
        token_type_ids     int8 (L,)                              [text]
      attributes: video_id, clip_id, n_frames, ... (scalars, fixed-length strings)

No variable-length types are used: strings are fixed-length UTF-8 byte strings, lists of names are
fixed-length byte-string arrays, and nested settings are stored as JSON text.
Files are written under a temporary name and renamed when complete; a write that fails because the disk,
the quota or a file-size limit is full removes the temporary file and says which file it was.
A read that fails (a damaged chunk, a checksum mismatch, a damaged B-tree or object header) raises
:class:`FeatureReadError` naming the file, the clip and the dataset where known. The root's and each clip's
attributes carry a SHA-256 of themselves (``attrs_sha256``); :func:`verify` reads every dataset and checks
every such checksum.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from .atomic import atomic_path
from .config import config_hash
from .errors import MfonError
from .provenance import file_sha256, package_versions, utc_now

SCHEMA_VERSION = 1
ROOT_ATTRIBUTES = ("schema_version", "modality", "dataset", "created_utc", "config_hash", "settings_json",
                   "versions_json", "manifest_sha256", "n_clips")
ATTRS_CHECKSUM = "attrs_sha256"  # of a group's other attributes (names and values), see attrs_checksum


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


class FeatureReadError(MfonError):
    """A stored dataset cannot be read back: the file is damaged."""


REMEDY = "Delete the file and rerun to extract it again"
# What h5py raises when a file's structure is damaged: KeyError ("wrong B-tree signature"), RuntimeError,
# OSError ("incorrect metadata checksum"), ValueError (a garbled type or a name that is not UTF-8), and
# TypeError / AttributeError when a damaged header turns a dataset into another kind of object.
DAMAGE_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError, AttributeError)


@contextmanager
def reading(path: str | Path, what: str) -> Iterator[None]:
    """h5py's failures inside the block as :class:`FeatureReadError`: ``"<path>: <what> cannot be read ..."``."""
    try:
        yield
    except MfonError:
        raise
    except DAMAGE_ERRORS as exc:
        detail = str(exc).strip("'\"").splitlines()[0] if str(exc) else type(exc).__name__
        raise FeatureReadError(f"{path}: {what} cannot be read, the file is damaged ({detail}). {REMEDY}") \
            from exc


def attrs_checksum(attrs: dict[str, Any]) -> str:
    """SHA-256 of decoded attributes (names and values; ``attrs_sha256`` itself left out)."""
    plain = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in attrs.items() if k != ATTRS_CHECKSUM}
    blob = json.dumps(plain, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8", "surrogateescape")
    return hashlib.sha256(blob).hexdigest()


def _seal(attrs: h5py.AttributeManager) -> None:
    """Store the checksum of ``attrs`` among them (after every other attribute is written)."""
    attrs[ATTRS_CHECKSUM] = _encode(attrs_checksum(decode_attrs(attrs)))


class DiskFullError(MfonError):
    """A feature file could not be written because the disk, the quota or a file-size limit is full."""


FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def decode_attrs(attrs: h5py.AttributeManager) -> dict[str, Any]:
    # A name that is not UTF-8 (a damaged file) comes as bytes: kept readable, it fails the checksum.
    return {k.decode("utf-8", "surrogateescape") if isinstance(k, bytes) else k: _decode(v) for k, v in attrs.items()}


class FeatureFileWriter:
    """Writes clips into a temporary HDF5 file that becomes ``path`` on :meth:`close` (success only).

    Use as a context manager: an exception inside the block removes the temporary file.
    """

    def __init__(self, h5: h5py.File, compression_level: int = 4, on_write=lambda: None):
        self._h5 = h5
        self._on_write = on_write  # raises once a write to the file has failed
        self._clips = h5.require_group("clips")
        self._compression = {"compression": "gzip", "compression_opts": compression_level, "shuffle": True} \
            if compression_level > 0 else {}
        # Checksums on every dataset (compressed or not): a flipped byte is an error on read, not a wrong value.
        self._checksum = {"fletcher32": True}
        self.n_clips = 0

    def write_header(self, *, modality: str, dataset: str, settings: dict, manifest: str | Path,
                     description: dict[str, Any]) -> None:
        """The provenance root attributes (ROOT_ATTRIBUTES but n_clips): the file's ``modality`` and ``dataset``,
        the ``settings`` that made it and their hash, the SHA-256 of the ``manifest`` file it was made from and
        the installed package versions; then ``description``, what the extractor says about its output
        (names, rates, model, source)."""
        self.set_root_attrs({
            "schema_version": SCHEMA_VERSION, "modality": modality, "dataset": dataset, "created_utc": utc_now(),
            "config_hash": config_hash({"modality": modality, **settings}), "settings_json": settings,
            "versions_json": package_versions(), "manifest_sha256": file_sha256(manifest), **description,
        })

    def set_root_attrs(self, attrs: dict[str, Any]) -> None:
        for key, value in attrs.items():
            self._h5.attrs[key] = _encode(value)

    def add_clip(self, key: str, arrays: dict[str, np.ndarray], attrs: dict[str, Any] | None = None) -> None:
        self._on_write()
        if "/" in key or key in self._clips:
            raise MfonError(f"clip key {key!r} is invalid or already written")
        group = self._clips.create_group(key)
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            opts = self._compression if array.size >= 64 else {}
            group.create_dataset(name, data=array, **opts, **self._checksum)
        for name, value in (attrs or {}).items():
            group.attrs[name] = _encode(value)
        _seal(group.attrs)
        self.n_clips += 1

    def copy_clip_from(self, source: "h5py.Group | ClipGroup", key: str) -> None:
        """Copy a clip group byte for byte (compressed chunks and their checksums are not re-encoded)."""
        self._on_write()
        if key in self._clips:
            raise MfonError(f"clip {key!r} appears in more than one shard")
        source = source.h5group if isinstance(source, ClipGroup) else source
        source.file.copy(source, self._clips, name=key)
        self.n_clips += 1


class _GuardedFile:
    """The temporary file as HDF5 writes it (h5py's file-object driver), shielding HDF5 from failed writes.

    HDF5 crashes the process (SIGSEGV) when it flushes or closes a file after a write has failed, so HDF5 must
    never see one: a failed write (disk full, quota, ``ulimit -f``) is recorded and its bytes, and every later
    write, are kept in memory so that HDF5 can finish and close the file normally. The writer then stops adding
    clips and the caller raises with :attr:`error`; the file is deleted.
    """

    def __init__(self, raw):
        self._raw = raw
        self._pos = 0
        self.error: OSError | None = None
        self._held: list[tuple[int, bytes]] = []  # (offset, bytes) written after the failure, in order

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0:
            self._pos = offset
        elif whence == 1:
            self._pos += offset
        else:
            self._pos = max(self._size(), os.fstat(self._raw.fileno()).st_size) + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def _size(self) -> int:
        return max((off + len(data) for off, data in self._held), default=0)

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        done = 0
        if self.error is None:
            try:
                self._raw.seek(self._pos)
                while done < len(view):
                    done += self._raw.write(view[done:])  # a write to a nearly full disk may be partial
            except OSError as exc:
                self.error = exc
        if done < len(view):
            self._held.append((self._pos + done, bytes(view[done:])))
        self._pos += len(view)
        return len(view)

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        self._raw.seek(self._pos)
        got = self._raw.readinto(view) or 0
        n = len(view)
        for off, data in self._held:  # bytes written after a failure override what the disk has
            lo, hi = max(off, self._pos), min(off + len(data), self._pos + n)
            if lo < hi:
                view[lo - self._pos:hi - self._pos] = data[lo - off:hi - off]
                got = max(got, hi - self._pos)
        self._pos += got
        return got

    def read(self, size: int = -1) -> bytes:
        buffer = bytearray(size if size >= 0 else max(0, self._size() - self._pos))
        return bytes(buffer[: self.readinto(buffer)])

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else size
        if self.error is None:
            try:
                self._raw.truncate(size)
            except OSError as exc:
                self.error = exc
        return size

    def flush(self) -> None:
        pass  # unbuffered: every write has reached the OS already


def _write_failed(path: Path, exc: OSError) -> MfonError:
    if exc.errno in FULL_ERRNOS:
        return DiskFullError(f"{path}: cannot be written: the disk or quota is full, or a file-size limit "
                             f"(ulimit -f) was reached ({exc.strerror}); the partial file was removed. "
                             f"Free space and rerun")
    return MfonError(f"{path}: writing failed ({exc}); the partial file was removed")


@contextmanager
def write_feature_file(path: str | Path, compression_level: int = 4) -> Iterator[FeatureFileWriter]:
    """Open a writer for ``path``; the file appears under its final name only if the block completes.

    A failed write (a full disk or quota, a file-size limit such as ``ulimit -f``) raises
    :class:`DiskFullError` naming ``path`` (from the next :meth:`FeatureFileWriter.add_clip` or the end of the
    block); the temporary file is removed.
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w+b", buffering=0) as raw:
        guard = _GuardedFile(raw)
        with h5py.File(guard, "w", libver=("earliest", "v110"), track_order=True) as h5:
            writer = FeatureFileWriter(h5, compression_level, on_write=lambda: _check(guard, path))
            yield writer
            h5.attrs["n_clips"] = writer.n_clips
            _seal(h5.attrs)
        _check(guard, path)


def _check(guard: _GuardedFile, path: Path) -> None:
    if guard.error is not None:
        raise _write_failed(path, guard.error)


class CheckedDataset:
    """A stored dataset whose reads name the file, clip and dataset when they fail."""

    def __init__(self, path: Path, key: str, name: str, dataset: h5py.Dataset):
        self._path, self._key, self._name, self._dataset = path, key, name, dataset

    def _reading(self):
        return reading(self._path, f"clip {self._key}: dataset {self._name!r}")

    @property
    def shape(self) -> tuple[int, ...]:
        with self._reading():
            return self._dataset.shape

    @property
    def dtype(self) -> np.dtype:
        with self._reading():
            return self._dataset.dtype

    @property
    def fletcher32(self) -> bool:
        with self._reading():
            return self._dataset.fletcher32

    def __len__(self) -> int:
        with self._reading():
            return len(self._dataset)

    def __getitem__(self, selection: Any) -> Any:
        with self._reading():
            return self._dataset[selection]


class ClipGroup:
    """One clip's group; its datasets are :class:`CheckedDataset`."""

    def __init__(self, path: Path, key: str, group: h5py.Group):
        self.path, self.key, self.h5group = path, key, group

    @property
    def attrs(self) -> dict[str, Any]:
        """The clip's attributes, decoded."""
        with reading(self.path, f"clip {self.key}: its attributes"):
            return decode_attrs(self.h5group.attrs)

    def __getitem__(self, name: str) -> CheckedDataset:
        with reading(self.path, f"clip {self.key}: dataset {name!r}"):
            dataset = self.h5group[name]
            if not isinstance(dataset, h5py.Dataset):
                raise TypeError(f"{name!r} is a {type(dataset).__name__}, not a dataset")
        return CheckedDataset(self.path, self.key, name, dataset)

    def __contains__(self, name: str) -> bool:
        with reading(self.path, f"clip {self.key}: its datasets"):
            return name in self.h5group

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> list[str]:
        with reading(self.path, f"clip {self.key}: its datasets"):
            return list(self.h5group.keys())


class FeatureFile:
    """Read access to a feature file: ``keys()``, ``clip(key)``, ``attrs``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise MfonError(f"{self.path}: not a readable HDF5 feature file ({exc})") from exc
        try:
            with reading(self.path, "its root attributes"):
                self.attrs = decode_attrs(self._h5.attrs)
        except FeatureReadError:
            self._h5.close()
            raise
        if self.attrs.get("schema_version") != SCHEMA_VERSION:
            raise MfonError(f"{self.path}: feature-file schema version {self.attrs.get('schema_version')!r}, "
                            f"this mfon reads version {SCHEMA_VERSION}")

    def __enter__(self) -> "FeatureFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._h5.close()

    def _clips(self) -> h5py.Group:
        clips = self._h5["clips"]
        if not isinstance(clips, h5py.Group):
            raise TypeError(f"'clips' is a {type(clips).__name__}, not a group")
        return clips

    def keys(self) -> list[str]:
        with reading(self.path, "its list of clips"):
            return list(self._clips().keys())

    def __contains__(self, key: str) -> bool:
        with reading(self.path, "its list of clips"):
            return key in self._clips()

    def __len__(self) -> int:
        with reading(self.path, "its list of clips"):
            return len(self._clips())

    def group(self, key: str) -> ClipGroup:
        if key not in self:
            raise MfonError(f"{self.path}: holds no clip {key}")
        with reading(self.path, f"clip {key}: its group"):
            group = self._clips()[key]
            if not isinstance(group, h5py.Group):
                raise TypeError(f"{key!r} is a {type(group).__name__}, not a group")
        return ClipGroup(self.path, key, group)

    def clip(self, key: str) -> dict[str, Any]:
        """All arrays of a clip as numpy arrays, plus its attributes under ``"attrs"``."""
        group = self.group(key)
        out: dict[str, Any] = {name: group[name][()] for name in group}
        out["attrs"] = group.attrs
        return out

    @property
    def settings(self) -> dict:
        return json.loads(self.attrs.get("settings_json", "{}"))

    @property
    def versions(self) -> dict:
        return json.loads(self.attrs.get("versions_json", "{}"))


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found: every dataset read back, checksums checked where stored."""

    n_clips: int
    n_datasets: int
    unchecked: int        # datasets written without a checksum (files of an older mfon)
    problems: list[str]   # one message per dataset, attribute set or clip group that cannot be read or is wrong
    unchecked_attrs: int = 0  # groups (root, clips) whose attributes carry no checksum (files of an older mfon)

    def report(self, path: str | Path) -> str:
        lines = [f"  verify: {self.n_datasets} datasets and the attributes of {self.n_clips} clips read back, "
                 + (f"{len(self.problems)} damaged" if self.problems else "all intact")]
        if self.unchecked:
            lines.append(f"  verify: {self.unchecked} datasets carry no checksum (written by an older mfon): damage "
                         f"to their bytes cannot be detected; rerun the step that wrote {path} to add them")
        if self.unchecked_attrs:
            lines.append(f"  verify: no attribute checksum in {self.unchecked_attrs} groups (written by an older "
                         f"mfon): damage to their attributes cannot be detected; rerun the step that wrote {path} "
                         f"to add them")
        lines += [f"  damaged: {p}" for p in self.problems]
        return "\n".join(lines)


def _attrs_problem(path: Path, what: str, attrs: dict[str, Any]) -> str | None:
    """Why ``attrs`` do not match their stored checksum (None when they do or carry none)."""
    if ATTRS_CHECKSUM in attrs and attrs[ATTRS_CHECKSUM] != attrs_checksum(attrs):
        names = ", ".join(repr(k) for k in sorted(attrs) if k != ATTRS_CHECKSUM)  # repr: a damaged name may not print
        return f"{path}: {what} ({names}) do not match their checksum, the file is damaged. {REMEDY}"
    return None


def verify(path: str | Path) -> Verification:
    """Read every dataset of every clip of ``path`` (HDF5 checks each chunk's fletcher32 checksum on the way)
    and check the root's and every clip's attributes against their ``attrs_sha256``."""
    path = Path(path)
    problems: list[str] = []
    counts = {"n_clips": 0, "n_datasets": 0, "unchecked": 0, "unchecked_attrs": 0}
    try:
        with FeatureFile(path) as ff:
            _verify_into(ff, problems, counts)
    except MfonError as exc:  # the file cannot be opened, or its list of clips cannot be read
        problems.append(str(exc))
    return Verification(problems=problems, **counts)


def _verify_into(ff: FeatureFile, problems: list[str], counts: dict[str, int]) -> None:
    counts["unchecked_attrs"] += ATTRS_CHECKSUM not in ff.attrs
    problems += filter(None, [_attrs_problem(ff.path, "its root attributes", ff.attrs)])
    keys = ff.keys()
    counts["n_clips"] = len(keys)
    for key in keys:
        try:
            group = ff.group(key)
            names = group.keys()
            attrs = group.attrs
        except FeatureReadError as exc:
            problems.append(str(exc))
            continue
        counts["unchecked_attrs"] += ATTRS_CHECKSUM not in attrs
        problems += filter(None, [_attrs_problem(ff.path, f"clip {key}: its attributes", attrs)])
        for name in names:
            counts["n_datasets"] += 1
            try:
                dataset = group[name]
                counts["unchecked"] += not dataset.fletcher32
                dataset[()]
            except FeatureReadError as exc:
                problems.append(str(exc))


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
