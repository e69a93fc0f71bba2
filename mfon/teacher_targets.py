"""A fixed-fidelity teacher's pooled vector of every clip, computed once per teacher and seed
(:func:`write_teacher_targets`) and read back by every MFON run of that seed (:func:`read_teacher_targets`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py
import numpy as np
import torch

from .atomic import atomic_path
from .checkpoints import load_teacher_state
from .data import FeatureSources, SplitData, Standardizer, collate, load_split
from .errors import MfonError
from .h5store import reading
from .models.encoders import TeacherEncoder
from .provenance import file_sha256, package_versions
from .training import SPLITS

log = logging.getLogger(__name__)

TARGETS_FORMAT = "mfon-teacher-targets-v1"


@torch.no_grad()
def teacher_vectors(teacher: TeacherEncoder, data: SplitData, batch_size: int = 64) -> np.ndarray:
    """The teacher's pooled vector of every clip of ``data`` in eval mode: (N, d) float32.

    Batches are padded to their longest clip: with fixed-fidelity masks the padding changes nothing.
    """
    was_training = teacher.training
    teacher.eval()
    modality = teacher.modality
    out = []
    try:
        for i in range(0, len(data), batch_size):
            batch = collate(data, np.arange(i, min(i + batch_size, len(data))), {}, pad_to_max=False)
            out.append(teacher.encode(batch[modality], batch[f"{modality}_lengths"]).float().numpy())
    finally:
        teacher.train(was_training)
    return np.concatenate(out).astype(np.float32)


def teacher_split_vectors(checkpoint: Path, sources: FeatureSources, splits: tuple[str, ...] = SPLITS,
                          d_model: int | None = None) -> tuple[TeacherEncoder, dict[str, tuple[list[str], np.ndarray]]]:
    """A fixed-fidelity teacher and its pooled vector for every usable clip of ``splits``: split -> (keys, (N, d)).

    The clips get the teacher's own truncation (its max_len) and standardisation (from its checkpoint), exactly
    as in its training and as its forward inside MFON training would see them.
    """
    teacher, state = load_teacher_state(checkpoint, sources, d_model)
    if not teacher.use_masks:
        raise MfonError(f"{checkpoint}: a paper-fidelity teacher; its vectors are recomputed in train mode at "
                        "every step and are not cached")
    modality = teacher.modality
    standardizer = Standardizer.from_state(state["standardizer"]) if state["standardizer"] else None
    out = {}
    for split in splits:
        data = load_split(sources, split, max_len={modality: teacher.max_len}, standardizer=standardizer,
                          modalities=(modality,))
        out[split] = (data.keys, teacher_vectors(teacher, data))
    return teacher, out


def write_teacher_targets(checkpoint: Path, sources: FeatureSources, out_path: Path, *, threads: int = 1,
                          splits: tuple[str, ...] = SPLITS) -> dict:
    """Store a fixed-fidelity teacher's vectors (:func:`teacher_split_vectors`) for every clip of ``splits``.

    ``out_path`` (HDF5): per split a group with ``keys`` and ``vectors`` (N, d); root attributes name the
    teacher checkpoint (SHA-256), its modality and width, and the features it read.
    """
    torch.set_num_threads(max(int(threads), 1))
    teacher, vectors = teacher_split_vectors(checkpoint, sources, splits)
    provenance = sources.provenance((teacher.modality,))
    with atomic_path(out_path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs.update({"format": TARGETS_FORMAT, "modality": teacher.modality,
                         "d_model": teacher.proj.out_features, "teacher_sha256": file_sha256(Path(checkpoint)),
                         "features_config_hash": provenance[teacher.modality]["config_hash"],
                         "manifest_sha256": provenance["manifest_sha256"],
                         "versions": json.dumps(package_versions(), sort_keys=True)})
        for split, (keys, values) in vectors.items():
            group = h5.create_group(split)
            group.create_dataset("keys", data=np.array(keys, dtype=object), dtype=h5py.string_dtype())
            group.create_dataset("vectors", data=values)
    counts = {split: len(keys) for split, (keys, _) in vectors.items()}
    log.info("%s: %s teacher vectors of %s", out_path, teacher.modality, counts)
    return counts


def aligned(keys: list[str], vectors: np.ndarray, data: SplitData, source: Path) -> torch.Tensor:
    """Rows of ``vectors`` (one per key) in the order of ``data``'s clips; names a missing clip."""
    row = {k: i for i, k in enumerate(keys)}
    missing = [k for k in data.keys if k not in row]
    if missing:
        raise MfonError(f"{source}: no teacher vector for clip {missing[0]} ({len(missing)} missing in split "
                        f"{data.split}); rerun its teacher_targets step")
    return torch.from_numpy(np.ascontiguousarray(vectors[[row[k] for k in data.keys]]))


def read_teacher_targets(path: Path, sources: FeatureSources, modality: str, d_model: int,
                         data: SplitData) -> torch.Tensor:
    """The stored teacher vectors of the clips of ``data``, in its order: (N, d).

    Refuses a file of another modality or width, or made from other features, and names a missing clip.
    """
    path = Path(path)
    if not path.is_file():
        raise MfonError(f"teacher targets not found: {path}")
    provenance = sources.provenance((modality,))
    with reading(path, "its teacher vectors"), h5py.File(path, "r") as h5:
        attrs = dict(h5.attrs)
        if attrs.get("format") != TARGETS_FORMAT:
            raise MfonError(f"{path}: not an mfon teacher-targets file")
        if attrs["modality"] != modality or int(attrs["d_model"]) != d_model:
            raise MfonError(f"{path}: holds {attrs['modality']} vectors of width {int(attrs['d_model'])}, "
                            f"expected {modality} of width {d_model}")
        if attrs["features_config_hash"] != provenance[modality]["config_hash"] \
                or attrs["manifest_sha256"] != provenance["manifest_sha256"]:
            raise MfonError(f"{path}: was computed from other {modality} features or another manifest than "
                            f"{getattr(sources, modality)}; rerun its teacher_targets step")
        if data.split not in h5:
            raise MfonError(f"{path}: has no vectors for split {data.split!r}")
        keys = [k.decode() if isinstance(k, bytes) else str(k) for k in h5[data.split]["keys"][()]]
        vectors = h5[data.split]["vectors"][()]
    return aligned(keys, vectors, data, path)
