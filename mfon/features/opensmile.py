"""openSMILE low-level descriptors (``eGeMAPSv02``: 25 LLDs, ``ComParE_2016``: 65 LLDs without deltas).

Frame grid, padding and pooling are those of :mod:`mfon.features.acoustic`; docs/acoustic_features.md explains
the choices. The openSMILE object is built once per extractor.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..config import schema_default
from . import configure
from .acoustic import AcousticExtractor
from .registry import names_of

# openSMILE writes -201 (log of zero) for the formant amplitude ratios of unvoiced frames, and its 3-frame
# smoothing smears that sentinel into neighbouring unvoiced frames: all unvoiced frames of these dims become 0.
_EGEMAPS_F0 = "F0semitoneFrom27.5Hz_sma3nz"
_EGEMAPS_SENTINEL_DIMS = ("F1amplitudeLogRelF0_sma3nz", "F2amplitudeLogRelF0_sma3nz", "F3amplitudeLogRelF0_sma3nz")


@dataclass(frozen=True)
class OpenSmileConfig:
    feature_set: str = schema_default("acoustic", "feature_set")
    sample_rate: int = schema_default("acoustic", "sample_rate")
    pool_rate: float | None = schema_default("acoustic", "pool_rate")


class OpenSmileExtractor(AcousticExtractor):
    """openSMILE LLDs of one clip on the 100 Hz grid, optionally mean-pooled to ``pool_rate``."""

    config_type = OpenSmileConfig

    def __init__(self, config: OpenSmileConfig | None = None, /, **options):
        self.config = configure(OpenSmileConfig, config, options)
        allowed = names_of(type(self))
        if self.config.feature_set not in allowed:
            raise ValueError(f"unknown openSMILE feature_set {self.config.feature_set!r}; allowed: "
                             f"{', '.join(allowed)}")
        super().__init__(self.config.sample_rate, self.config.pool_rate)
        import opensmile

        self.feature_set = self.config.feature_set
        self._opensmile = opensmile
        self._smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, self.feature_set),
                                      feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
        self.dim_names = list(self._smile.feature_names)
        self._sentinel_idx = [self.dim_names.index(n) for n in _EGEMAPS_SENTINEL_DIMS if n in self.dim_names]
        self._f0_idx = self.dim_names.index(_EGEMAPS_F0) if _EGEMAPS_F0 in self.dim_names else None

    def describe(self) -> dict:
        return {
            **super().describe(),
            "extractor": "opensmile",
            "extractor_version": self._opensmile.__version__,
            "opensmile_config": getattr(self._opensmile.FeatureSet, self.feature_set).value,
            "deltas": False,
            "unvoiced_sentinel": ("F1/F2/F3amplitudeLogRelF0 (-201 = log of 0) set to 0 where F0 = 0"
                                  if self._sentinel_idx else "none"),
        }

    def _frames(self, padded: np.ndarray, n_frames: int) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Segment too short" cannot happen after padding
            frame = self._smile.process_signal(padded, self.sample_rate)
        values = np.array(frame.to_numpy(), dtype=np.float64)  # writable copy
        if values.shape[0] < n_frames:  # not expected: the tail padding exceeds the longest window
            values = np.concatenate([values, np.repeat(values[-1:], n_frames - values.shape[0], axis=0)])
        values = values[:n_frames]
        if self._sentinel_idx and self._f0_idx is not None:
            unvoiced = values[:, self._f0_idx] == 0
            for j in self._sentinel_idx:
                values[unvoiced, j] = 0.0
        return values
