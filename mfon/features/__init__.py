"""Per-clip feature extractors. Each turns one media file into a :class:`FeatureSequence`.

Every extractor is listed once, by its config name, in :mod:`mfon.features.registry`, and is built from a
config dataclass of its own (:func:`configure`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np


@dataclass
class FeatureSequence:
    """Frame-level features of one clip.

    ``values`` is float32 ``(T, D)``; ``valid`` is bool ``(T,)`` and marks frames that carry a real
    measurement (for visual features: a face was found; invalid frames are zero-filled).
    """

    values: np.ndarray
    valid: np.ndarray
    frame_rate: float
    info: dict = field(default_factory=dict)  # per-clip extras stored as clip attributes (scalars only)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        self.valid = np.asarray(self.valid, dtype=bool)
        if self.values.ndim != 2 or self.valid.shape != (self.values.shape[0],):
            raise ValueError(f"bad feature shapes: values {self.values.shape}, valid {self.valid.shape}")


class FeatureExtractor(Protocol):
    """What the extraction driver needs from an extractor."""

    modality: str  # "acoustic" or "visual"
    dim_names: list[str]
    frame_rate: float

    def describe(self) -> dict:
        """Provenance written as HDF5 root attributes: extractor, extractor_version, feature_set, ..."""

    def extract(self, path: Path) -> FeatureSequence:
        """Features of one clip; raises ClipError for a clip that cannot be used."""


def configure(config_type: type, config: Any = None, options: dict | None = None) -> Any:
    """An extractor's settings: ``config`` (an instance of ``config_type``, or None for its defaults) with the
    fields named in ``options`` replaced."""
    options = options or {}
    if config is None:
        return config_type(**options)
    if not isinstance(config, config_type):
        raise TypeError(f"expected a {config_type.__name__}, got {type(config).__name__}")
    return dataclasses.replace(config, **options) if options else config


def replace_nonfinite(values: np.ndarray) -> tuple[np.ndarray, int]:
    """``values`` as float32 with NaN and +-inf replaced by 0, and how many were replaced."""
    values = np.asarray(values, dtype=np.float32)
    bad = ~np.isfinite(values)
    count = int(bad.sum())
    if count:
        values = np.where(bad, np.float32(0.0), values)
    return values, count
