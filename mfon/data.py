"""Model inputs from the feature files: usable clips of a split, truncated, standardised and padded.

A :class:`FeatureSources` names the files of one dataset. :func:`load_split` reads the clips of one split that
are usable in every modality (``qc/clip_status.tsv``) into memory; :func:`collate` pads a list of clips into a
batch dict, the format every model of :mod:`mfon.models` takes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import layout
from .tsv import read_tsv
from .errors import MfonError
from .h5store import FeatureFile
from .provenance import file_sha256

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureSources:
    """The files a model is trained on."""

    manifest: Path
    clip_status: Path
    text: Path | None
    visual: Path | None
    acoustic: Path | None

    @classmethod
    def for_dataset(cls, results_dir: Path | str, dataset: str) -> "FeatureSources":
        """The files of ``dataset`` under ``results_dir`` (laid out as :mod:`mfon.layout` says)."""
        def under(path: str) -> Path:
            return Path(results_dir) / Path(path).relative_to(layout.RESULTS)

        return cls(manifest=under(layout.manifest(dataset)), clip_status=under(layout.clip_status(dataset)),
                   **{m: under(layout.features(dataset, m)) for m in layout.MODALITIES})

    @classmethod
    def from_files(cls, files) -> "FeatureSources":
        """From a rule's named inputs (manifest, clip_status and the feature files of the modalities used;
        a modality not used is None and never read)."""
        return cls(manifest=Path(files["manifest"]), clip_status=Path(files["clip_status"]),
                   **{m: Path(files[m]) if m in files.keys() else None for m in layout.MODALITIES})

    def provenance(self, modalities: tuple[str, ...] = ("text", *layout.FRAME_MODALITIES)) -> dict:
        """What a checkpoint records about its training data: per file its config hash and dims."""
        out = {}
        for modality in modalities:
            with FeatureFile(getattr(self, modality)) as ff:
                out[modality] = {"config_hash": ff.attrs["config_hash"], "settings": ff.settings,
                                 "manifest_sha256": ff.attrs["manifest_sha256"],
                                 "dims": len(ff.attrs.get("dim_names", [])) or int(ff.attrs.get("max_length", 0)),
                                 "feature_set": ff.attrs.get("feature_set", ff.attrs.get("tokenizer", ""))}
        out["manifest_sha256"] = file_sha256(self.manifest)
        return out


@dataclass
class SplitData:
    """The clips of one split as arrays (sequences unpadded, already truncated and standardised)."""

    split: str
    keys: list[str]
    labels: np.ndarray                          # (N,) float32, the regression target
    text: dict[str, np.ndarray]                 # input_ids / attention_mask / token_type_ids: (N, L)
    sequences: dict[str, list[np.ndarray]]      # modality -> N arrays (T_i, D)
    unimodal_labels: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)


@dataclass
class Standardizer:
    """Per-dimension mean/std of a modality's valid frames in the TRAIN split, applied to every split."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]

    def to_state(self) -> dict:
        return {"mean": {m: torch.from_numpy(v) for m, v in self.mean.items()},
                "std": {m: torch.from_numpy(v) for m, v in self.std.items()}}

    @classmethod
    def from_state(cls, state: dict) -> "Standardizer":
        return cls(mean={m: v.numpy() for m, v in state["mean"].items()},
                   std={m: v.numpy() for m, v in state["std"].items()})

    def apply(self, modality: str, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean[modality]) / self.std[modality]).astype(np.float32)


def usable_keys(sources: FeatureSources, split: str) -> list[str]:
    return [r["key"] for r in read_tsv(sources.clip_status) if r["mode"] == split and r["usable"] == "1"]


def split_counts(sources: FeatureSources) -> dict[str, dict[str, int]]:
    """Per split: clips in the sheet, used (usable in every modality), and left out."""
    counts: dict[str, dict[str, int]] = {}
    for row in read_tsv(sources.clip_status):
        c = counts.setdefault(row["mode"], {"clips": 0, "used": 0, "quarantined": 0})
        c["clips"] += 1
        c["used" if row["usable"] == "1" else "quarantined"] += 1
    return counts


def _truncated(ff: FeatureFile, key: str, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """A clip's first ``max_len`` frames and their valid flags."""
    group = ff.group(key)
    n = min(group["features"].shape[0], max_len)
    return group["features"][:n], group["valid"][:n].astype(bool)


def model_sequence(values: np.ndarray, valid: np.ndarray, modality: str, max_len: int,
                   standardizer: Standardizer | None) -> np.ndarray:
    """A clip's stored frames as the model reads them: the first ``max_len``, standardised on valid frames
    (invalid frames stay 0), float32. One path for training data and for :mod:`mfon.predict`."""
    n = min(values.shape[0], max_len)
    values, valid = values[:n], np.asarray(valid[:n]).astype(bool)
    if standardizer is not None:
        values = np.where(valid[:, None], standardizer.apply(modality, values), 0.0)
    return np.asarray(values, dtype=np.float32)


def fit_standardizer(sources: FeatureSources, max_len: dict[str, int],
                     modalities: tuple[str, ...] = layout.FRAME_MODALITIES) -> Standardizer:
    """Mean and std over the valid frames of the train split (std floored so constant dims stay finite)."""
    keys = usable_keys(sources, "train")
    if not keys:
        raise MfonError(f"{sources.clip_status}: no usable clip in the train split")
    mean, std = {}, {}
    for modality in modalities:
        if modality not in layout.FRAME_MODALITIES:
            continue
        with FeatureFile(getattr(sources, modality)) as ff:
            frames = []
            for key in keys:
                values, valid = _truncated(ff, key, max_len[modality])
                frames.append(values[valid])
        stacked = np.concatenate(frames) if frames else np.zeros((1, 1), np.float32)
        mean[modality] = stacked.mean(axis=0).astype(np.float32)
        std[modality] = np.maximum(stacked.std(axis=0), 1e-6).astype(np.float32)
    return Standardizer(mean, std)


def load_split(sources: FeatureSources, split: str, *, max_len: dict[str, int],
               standardizer: Standardizer | None = None, label_column: str = "label",
               modalities: tuple[str, ...] = ("text", *layout.FRAME_MODALITIES)) -> SplitData:
    """Read the usable clips of ``split``: sequences truncated to ``max_len`` frames, invalid frames kept as 0.

    Only the files of ``modalities`` are read (a teacher needs its own modality only).
    """
    keys = usable_keys(sources, split)
    manifest = {r["key"]: r for r in read_tsv(sources.manifest)}
    if not keys:
        raise MfonError(f"{sources.clip_status}: no usable clip in split {split!r}")

    def label(key: str, column: str) -> float:
        raw = manifest[key].get(column, "")
        if raw == "":
            raise MfonError(f"clip {key}: column {column!r} is empty in {sources.manifest}")
        return float(raw)

    labels = np.array([label(k, label_column) for k in keys], dtype=np.float32)
    unimodal = {}
    for modality, column in (("text", "label_T"), ("acoustic", "label_A"), ("visual", "label_V")):
        if all(manifest[k].get(column, "") != "" for k in keys):
            unimodal[modality] = np.array([label(k, column) for k in keys], dtype=np.float32)
    text = {}
    if "text" in modalities:
        with FeatureFile(sources.text) as ff:
            text = {name: np.stack([ff.group(k)[name][()] for k in keys]).astype(np.int64)
                    for name in ("input_ids", "attention_mask", "token_type_ids")}
    sequences: dict[str, list[np.ndarray]] = {}
    for modality in layout.FRAME_MODALITIES:
        if modality not in modalities:
            continue
        with FeatureFile(getattr(sources, modality)) as ff:
            seqs = []
            for key in keys:
                values, valid = _truncated(ff, key, max_len[modality])  # reads only the frames kept
                seqs.append(model_sequence(values, valid, modality, max_len[modality], standardizer))
            sequences[modality] = seqs
    log.info("split %s: %d clips", split, len(keys))
    return SplitData(split=split, keys=keys, labels=labels, text=text, sequences=sequences,
                     unimodal_labels=unimodal)


def feature_dims(sources: FeatureSources, modalities: tuple[str, ...] = layout.FRAME_MODALITIES) -> dict[str, int]:
    dims = {}
    for modality in modalities:
        if modality not in layout.FRAME_MODALITIES:
            continue
        with FeatureFile(getattr(sources, modality)) as ff:
            dims[modality] = len(ff.attrs["dim_names"])
    return dims


def collate(data: SplitData, indices: list[int] | np.ndarray, max_len: dict[str, int],
            pad_to_max: bool = True, target: str = "label") -> dict[str, torch.Tensor]:
    """A padded batch. Sequences are zero-padded to ``max_len`` (``pad_to_max``) or to the batch's longest.

    ``target``: "label" (the multimodal label) or a modality name for its unimodal label (CH-SIMS teachers).
    """
    indices = list(indices)
    batch: dict[str, torch.Tensor] = {f"text_{name}": torch.from_numpy(values[indices])
                                      for name, values in data.text.items()}
    labels = data.labels if target == "label" else data.unimodal_labels[target]
    batch["label"] = torch.from_numpy(labels[indices])
    for modality, seqs in data.sequences.items():
        chosen = [seqs[i] for i in indices]
        lengths = [max(len(s), 1) for s in chosen]  # an empty sequence keeps one zero frame: never all-masked
        width = max_len[modality] if pad_to_max else max(max(lengths), 1)
        dim = chosen[0].shape[1]
        padded = np.zeros((len(chosen), width, dim), dtype=np.float32)
        for row, seq in enumerate(chosen):
            padded[row, : len(seq)] = seq
        batch[modality] = torch.from_numpy(padded)
        batch[f"{modality}_lengths"] = torch.tensor(lengths, dtype=torch.int64)
    return batch
