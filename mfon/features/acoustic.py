"""Frame-level acoustic features: openSMILE low-level descriptors or a COVAREP-like Praat set.

Three feature sets, all on one 100 Hz grid (10 ms hop):

``eGeMAPSv02``
    openSMILE's extended Geneva Minimalistic Acoustic Parameter Set, 25 low-level descriptors (LLDs).
``ComParE_2016``
    openSMILE's ComParE 2016 set, its 65 LLDs *without* deltas (see docs/acoustic_features.md).
``covarep_like``
    Praat analyses through parselmouth that stand in for the COVAREP descriptors of CMU-MOSI/MOSEI:
    F0, voicing, HNR, formants and bandwidths, intensity, windowed jitter and shimmer, H1-H2 and
    MFCC 0-24 (in place of COVAREP's MCEPs).

The openSMILE sets are computed in :mod:`mfon.features.opensmile`, ``covarep_like`` in
:mod:`mfon.features.covarep`; this module holds what they share: the frame grid, the tail padding, pooling and
the per-clip bookkeeping (:class:`AcousticExtractor`).

Frame ``k`` stands for the interval ``[k / 100, (k + 1) / 100)`` s of the clip and a clip of ``N`` samples
gets ``max(1, ceil(N / hop))`` frames, whatever the feature set. With ``pool_rate`` the 100 Hz frames are
mean-pooled into time bins of ``1 / pool_rate`` s. The design choices (padding, floors, sentinels) are
documented in docs/acoustic_features.md; each extractor's ``describe()`` records them per file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import ClipError
from ..media import decode_audio
from . import FeatureSequence
from .registry import extractor_names

FEATURE_SETS = extractor_names("acoustic")
BASE_FRAME_RATE = 100.0  # Hz: every feature set is computed on a 10 ms hop
LONGEST_WINDOW_S = 0.06  # openSMILE's pitch/voice-quality frames; Praat's windows at a 75 Hz floor are shorter
TAIL_PAD_S = 0.1  # zeros appended to every clip: exceeds the longest window, so even 0 samples give a frame
SILENCE_PEAK = 2.0**-15  # a clip whose peak is below one 16-bit LSB counts as silent
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 96000

def n_base_frames(n_samples: int, sample_rate: int) -> int:
    """Frames on the 100 Hz grid for a clip of ``n_samples``: ``max(1, ceil(duration / 10 ms))``."""
    return max(1, math.ceil(n_samples * BASE_FRAME_RATE / sample_rate - 1e-9))


def pool_frames(values: np.ndarray, in_rate: float, out_rate: float) -> np.ndarray:
    """Mean-pool frames at ``in_rate`` into bins of ``1 / out_rate`` s (``0 < out_rate <= in_rate``).

    Input frame ``k`` (covering ``[k / in_rate, (k + 1) / in_rate)``) goes to output bin
    ``floor(k * out_rate / in_rate)``. An integer ratio gives non-overlapping blocks (100 -> 25 Hz: blocks of
    4); a non-integer ratio gives blocks of alternating sizes (100 -> 30 Hz: 4, 3, 3, 4, 3, 3, ...). The last
    bin may be partial and is the mean of the frames it has. Output length ``floor((T - 1) * out_rate / in_rate)
    + 1``, which is ``ceil(T / n)`` for an integer ratio ``n``; a bin that no frame starts in is not emitted.
    """
    values = np.asarray(values)
    if not 0 < out_rate <= in_rate:
        raise ValueError(f"pool rate {out_rate} must be in (0, {in_rate}]")
    n = values.shape[0]
    if n == 0 or out_rate == in_rate:
        return values.astype(np.float32, copy=True)
    bins = np.floor(np.arange(n) * (out_rate / in_rate) + 1e-9).astype(np.int64)
    n_out = int(bins[-1]) + 1
    sums = np.zeros((n_out,) + values.shape[1:], dtype=np.float64)
    np.add.at(sums, bins, values.astype(np.float64))
    counts = np.bincount(bins, minlength=n_out).astype(np.float64)
    return (sums / counts.reshape((-1,) + (1,) * (values.ndim - 1))).astype(np.float32)


class AcousticExtractor:
    """Shared part of the acoustic extractors: decoding, the 100 Hz frame grid, tail padding, non-finite values,
    pooling to ``pool_rate`` and the per-clip info. Subclasses compute the frames (:meth:`_frames`).

    Implements :class:`mfon.features.FeatureExtractor`.
    """

    modality = "acoustic"
    feature_set = ""

    def __init__(self, sample_rate: int, pool_rate: float | None):
        if isinstance(sample_rate, bool) or int(sample_rate) != sample_rate \
                or not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
            raise ValueError(f"sample_rate must be an integer in [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}] Hz, "
                             f"got {sample_rate!r}")
        if pool_rate is not None and not 0 < float(pool_rate) <= BASE_FRAME_RATE:
            raise ValueError(f"pool_rate must be in (0, {BASE_FRAME_RATE:g}] Hz or None, got {pool_rate!r}")
        self.sample_rate = int(sample_rate)
        self.pool_rate = None if pool_rate is None else float(pool_rate)
        self.frame_rate = BASE_FRAME_RATE if self.pool_rate is None else self.pool_rate
        self.dim_names: list[str] = []

    # ------------------------------------------------------------------ protocol

    def describe(self) -> dict:
        """Provenance of the features (written as HDF5 root attributes)."""
        return {
            "modality": self.modality,
            "feature_set": self.feature_set,
            "feature_level": "lld",
            "sample_rate": self.sample_rate,
            "base_frame_rate": BASE_FRAME_RATE,
            "frame_rate": float(self.frame_rate),
            "pool_rate": self.pool_rate,
            "pooling": "none" if self.pool_rate is None else "mean over time bins of 1/pool_rate s",
            "n_dims": len(self.dim_names),
            "frame_convention": "frame k covers [k/frame_rate, (k+1)/frame_rate) s; "
                                "n_frames = max(1, ceil(duration*100)) before pooling",
            "tail_padding_s": TAIL_PAD_S,
            "decoder": "mfon.media.decode_audio (PyAV, mono mix, resampled)",
            "nonfinite_policy": "replaced by 0 and counted in clip attr nonfinite_replaced",
        }

    def extract(self, path: Path) -> FeatureSequence:
        """Decode ``path`` and compute its features; raises :class:`ClipError` for unusable media."""
        path = Path(path)
        signal = decode_audio(path, self.sample_rate)
        try:
            return self.extract_signal(signal)
        except RuntimeError as exc:  # PraatError / openSMILE process errors on odd input: quarantine the clip
            raise ClipError(f"{path}: acoustic analysis failed ({type(exc).__name__}: {exc})") from exc

    # ------------------------------------------------------------------ arrays

    def extract_signal(self, signal: np.ndarray) -> FeatureSequence:
        """Features of a mono signal at ``self.sample_rate`` (the part of :meth:`extract` after decoding)."""
        signal = np.asarray(signal, dtype=np.float32).reshape(-1)
        n_samples = signal.shape[0]
        n_frames = n_base_frames(n_samples, self.sample_rate)
        bad_input = ~np.isfinite(signal)
        if bad_input.any():
            signal = np.where(bad_input, 0.0, signal).astype(np.float32)
        peak = float(np.max(np.abs(signal))) if n_samples else 0.0
        padded = np.concatenate([signal, np.zeros(int(round(TAIL_PAD_S * self.sample_rate)), np.float32)])
        values = self._frames(padded, n_frames)
        bad = ~np.isfinite(values)
        n_bad = int(bad.sum())
        if n_bad:
            values = np.where(bad, 0.0, values)
        values = values.astype(np.float32)
        if self.pool_rate is not None:
            values = pool_frames(values, BASE_FRAME_RATE, self.pool_rate)
        info = {
            "n_samples": int(n_samples),
            "duration_s": round(n_samples / self.sample_rate, 6),
            "silent": int(peak < SILENCE_PEAK),
            "shorter_than_window": int(n_samples < LONGEST_WINDOW_S * self.sample_rate),
            "nonfinite_replaced": n_bad,
        }
        return FeatureSequence(values=values, valid=np.ones(values.shape[0], dtype=bool),
                               frame_rate=self.frame_rate, info=info)

    def _frames(self, padded: np.ndarray, n_frames: int) -> np.ndarray:
        """``(n_frames, D)`` float64 values on the 100 Hz grid of the tail-padded signal."""
        raise NotImplementedError
