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

Frame ``k`` stands for the interval ``[k / 100, (k + 1) / 100)`` s of the clip and a clip of ``N`` samples
gets ``max(1, ceil(N / hop))`` frames, whatever the feature set. With ``pool_rate`` the 100 Hz frames are
mean-pooled into time bins of ``1 / pool_rate`` s. The design choices (padding, floors, sentinels) are
documented in docs/acoustic_features.md; :meth:`AcousticExtractor.describe` records them per file.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from ..errors import ClipError
from ..media import decode_audio
from . import FeatureSequence

FEATURE_SETS = ("eGeMAPSv02", "ComParE_2016", "covarep_like")
BASE_FRAME_RATE = 100.0  # Hz: every feature set is computed on a 10 ms hop
LONGEST_WINDOW_S = 0.06  # openSMILE's pitch/voice-quality frames; Praat's windows at a 75 Hz floor are shorter
TAIL_PAD_S = 0.1  # zeros appended to every clip: exceeds the longest window, so even 0 samples give a frame
SILENCE_PEAK = 2.0**-15  # a clip whose peak is below one 16-bit LSB counts as silent
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 96000

# openSMILE writes -201 (log of zero) for the formant amplitude ratios of unvoiced frames, and its 3-frame
# smoothing smears that sentinel into neighbouring unvoiced frames: all unvoiced frames of these dims become 0.
_EGEMAPS_F0 = "F0semitoneFrom27.5Hz_sma3nz"
_EGEMAPS_SENTINEL_DIMS = ("F1amplitudeLogRelF0_sma3nz", "F2amplitudeLogRelF0_sma3nz", "F3amplitudeLogRelF0_sma3nz")

# Praat settings of the covarep_like set (recorded by describe()).
PITCH_FLOOR_HZ = 75.0
PITCH_CEILING_HZ = 500.0
FORMANT_CEILING_HZ = 5500.0
FORMANT_WINDOW_S = 0.025
N_FORMANTS = 5
PERTURBATION_WINDOW_S = 0.06  # jitter/shimmer window centred on each frame (eGeMAPS uses 60 ms too)
H1H2_WINDOW_S = 0.04
MFCC_WINDOW_S = 0.015
N_MFCC = 25  # c0..c24, as many as COVAREP's MCEP 0-24
PRAAT_DB_REF = 4e-10  # Praat's power reference (2e-5 Pa squared): 0 dB
DB_FLOOR = 0.0  # intensity and mel-filter energies are floored at 0 dB (about the 16-bit noise floor)
HNR_UNDEFINED = -200.0  # Praat's HNR for frames without periodicity

COVAREP_LIKE_BASE_DIMS = [
    "F0_Hz", "VUV", "HNR_dB", "F1_Hz", "F2_Hz", "F3_Hz", "B1_Hz", "B2_Hz", "B3_Hz", "intensity_dB",
    "jitter_local", "shimmer_local", "H1H2_dB",
]


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
    """Acoustic low-level descriptors of one clip on a 100 Hz grid, optionally mean-pooled to ``pool_rate``.

    Implements :class:`mfon.features.FeatureExtractor`. The openSMILE object is built once per extractor.
    """

    modality = "acoustic"

    def __init__(self, feature_set: str = "eGeMAPSv02", sample_rate: int = 16000, pool_rate: float | None = None):
        if feature_set not in FEATURE_SETS:
            raise ValueError(f"unknown acoustic feature_set {feature_set!r}; allowed: {', '.join(FEATURE_SETS)}")
        if isinstance(sample_rate, bool) or int(sample_rate) != sample_rate \
                or not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
            raise ValueError(f"sample_rate must be an integer in [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}] Hz, "
                             f"got {sample_rate!r}")
        if pool_rate is not None and not 0 < float(pool_rate) <= BASE_FRAME_RATE:
            raise ValueError(f"pool_rate must be in (0, {BASE_FRAME_RATE:g}] Hz or None, got {pool_rate!r}")
        self.feature_set = feature_set
        self.sample_rate = int(sample_rate)
        self.pool_rate = None if pool_rate is None else float(pool_rate)
        self.frame_rate = BASE_FRAME_RATE if self.pool_rate is None else self.pool_rate
        self._smile = None
        if feature_set == "covarep_like":
            import parselmouth

            self._parselmouth = parselmouth
            self._n_mfcc = min(N_MFCC, self._count_mel_filters())
            self.dim_names = COVAREP_LIKE_BASE_DIMS + [f"MFCC_{i}" for i in range(self._n_mfcc)]
        else:
            import opensmile

            self._opensmile = opensmile
            self._smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                                          feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
            self.dim_names = list(self._smile.feature_names)
            self._sentinel_idx = [self.dim_names.index(n) for n in _EGEMAPS_SENTINEL_DIMS if n in self.dim_names]
            self._f0_idx = self.dim_names.index(_EGEMAPS_F0) if _EGEMAPS_F0 in self.dim_names else None

    # ------------------------------------------------------------------ protocol

    def describe(self) -> dict:
        """Provenance of the features (written as HDF5 root attributes)."""
        common = {
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
        if self._smile is not None:
            return {
                **common,
                "extractor": "opensmile",
                "extractor_version": self._opensmile.__version__,
                "opensmile_config": getattr(self._opensmile.FeatureSet, self.feature_set).value,
                "deltas": False,
                "unvoiced_sentinel": ("F1/F2/F3amplitudeLogRelF0 (-201 = log of 0) set to 0 where F0 = 0"
                                      if self._sentinel_idx else "none"),
            }
        pm = self._parselmouth
        return {
            **common,
            "extractor": "parselmouth",
            "extractor_version": pm.__version__,
            "praat_version": pm.PRAAT_VERSION,
            "pitch": f"Sound: To Pitch (ac), floor {PITCH_FLOOR_HZ:g} Hz, ceiling {PITCH_CEILING_HZ:g} Hz; "
                     "F0 = 0 when unvoiced",
            "hnr": f"Sound: To Harmonicity (cc), minimum pitch {PITCH_FLOOR_HZ:g} Hz; undefined (-200 dB) -> 0",
            "formants": f"Sound: To Formant (burg), {N_FORMANTS} formants, ceiling {FORMANT_CEILING_HZ:g} Hz, "
                        f"window {FORMANT_WINDOW_S:g} s; undefined -> 0",
            "intensity": f"Sound: To Intensity, minimum pitch {PITCH_FLOOR_HZ:g} Hz, floored at {DB_FLOOR:g} dB",
            "perturbation": f"PointProcess (cc) jitter (local) and shimmer (local) over {PERTURBATION_WINDOW_S:g} s "
                            "centred windows, voiced frames only; undefined -> 0",
            "h1h2": f"H1-H2 of the speech spectrum (Hann {H1H2_WINDOW_S:g} s), not formant-corrected; 0 if unvoiced",
            "mfcc": f"Praat MelSpectrogram (window {MFCC_WINDOW_S:g} s, filters from 100 mel every 100 mel) "
                    f"floored at {DB_FLOOR:g} dB, then Praat's DCT: c0..c{self._n_mfcc - 1}",
            "measurement_time": "centre of the frame interval, nearest Praat analysis frame",
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
        if self._smile is not None:
            values = self._opensmile_lld(padded, n_frames)
        else:
            values = self._covarep_like(padded, n_frames)
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

    # ------------------------------------------------------------------ openSMILE

    def _opensmile_lld(self, padded: np.ndarray, n_frames: int) -> np.ndarray:
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

    # ------------------------------------------------------------------ parselmouth

    def _count_mel_filters(self) -> int:
        sound = self._parselmouth.Sound(np.zeros(int(0.1 * self.sample_rate)), self.sample_rate)
        mel = self._parselmouth.praat.call(sound, "To MelSpectrogram", MFCC_WINDOW_S, 1.0 / BASE_FRAME_RATE,
                                           100.0, 100.0, 0.0)
        return int(self._parselmouth.praat.call(mel, "To Matrix", "no").values.shape[0])

    def _covarep_like(self, padded: np.ndarray, n_frames: int) -> np.ndarray:
        pm = self._parselmouth
        call = pm.praat.call
        sr = self.sample_rate
        step = 1.0 / BASE_FRAME_RATE
        times = (np.arange(n_frames) + 0.5) * step  # measurement time: centre of each frame interval
        sound = pm.Sound(padded.astype(np.float64), sr)
        out = np.zeros((n_frames, len(self.dim_names)), dtype=np.float64)

        pitch = sound.to_pitch_ac(time_step=step, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ)
        f0 = _sample(pitch.selected_array["frequency"], pitch, times)
        f0 = np.where(np.isfinite(f0) & (f0 > 0), f0, 0.0)
        voiced = f0 > 0
        out[:, 0] = f0
        out[:, 1] = voiced

        harmonicity = sound.to_harmonicity_cc(time_step=step, minimum_pitch=PITCH_FLOOR_HZ)
        hnr = _sample(harmonicity.values[0], harmonicity, times)
        out[:, 2] = np.where(hnr <= HNR_UNDEFINED + 1.0, 0.0, hnr)

        formant = sound.to_formant_burg(time_step=step, max_number_of_formants=N_FORMANTS,
                                        maximum_formant=FORMANT_CEILING_HZ, window_length=FORMANT_WINDOW_S)
        if formant.n_frames:
            ftimes = formant.xs()[_nearest(formant, times)]
            for i in range(3):
                out[:, 3 + i] = [formant.get_value_at_time(i + 1, t) for t in ftimes]
                out[:, 6 + i] = [formant.get_bandwidth_at_time(i + 1, t) for t in ftimes]
        out[:, 3:9] = np.nan_to_num(out[:, 3:9], nan=0.0, posinf=0.0, neginf=0.0)

        intensity = sound.to_intensity(minimum_pitch=PITCH_FLOOR_HZ, time_step=step)
        out[:, 9] = np.maximum(_sample(intensity.values[0], intensity, times), DB_FLOOR)

        if voiced.any():
            points = call([sound, pitch], "To PointProcess (cc)")
            half = PERTURBATION_WINDOW_S / 2
            for k in np.flatnonzero(voiced):
                t0, t1 = times[k] - half, times[k] + half
                out[k, 10] = call(points, "Get jitter (local)", t0, t1, 0.0001, 0.02, 1.3)
                out[k, 11] = call([sound, points], "Get shimmer (local)", t0, t1, 0.0001, 0.02, 1.3, 1.6)
            out[:, 10:12] = np.nan_to_num(out[:, 10:12], nan=0.0, posinf=0.0, neginf=0.0)
            out[:, 12] = _h1h2(padded, sr, times, f0)

        mel = call(sound, "To MelSpectrogram", MFCC_WINDOW_S, step, 100.0, 100.0, 0.0)
        power = call(mel, "To Matrix", "no")  # (filters, frames), linear power
        mel_db = 10.0 * np.log10(np.maximum(power.values, PRAAT_DB_REF * 10 ** (DB_FLOOR / 10)) / PRAAT_DB_REF)
        n_filters = mel_db.shape[0]
        dct = np.cos(np.arange(self._n_mfcc)[:, None] * np.pi * (np.arange(1, n_filters + 1)[None, :] - 0.5)
                     / n_filters)
        cepstra = dct @ mel_db  # Praat's MelSpectrogram: To MFCC, c_i = sum_j P_j cos(i pi (j - 1/2) / N)
        out[:, 13:] = cepstra[:, _nearest(power, times)].T
        return out


def _nearest(sampled, times: np.ndarray) -> np.ndarray:
    """Index of the Praat analysis frame nearest to each time (clipped to the frames that exist)."""
    n = int(sampled.nx)
    idx = np.rint((times - sampled.x1) / sampled.dx).astype(np.int64)
    return np.clip(idx, 0, max(n - 1, 0))


def _sample(track: np.ndarray, sampled, times: np.ndarray) -> np.ndarray:
    track = np.asarray(track, dtype=np.float64).reshape(-1)
    if track.size == 0:
        return np.zeros(times.shape[0])
    return track[_nearest(sampled, times)]


def _h1h2(signal: np.ndarray, sr: int, times: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """H1-H2 (dB) of the speech spectrum around each voiced frame: levels of the strongest peaks within
    +-10 % of F0 and of 2 F0 in a Hann-windowed FFT; 0 for unvoiced frames."""
    result = np.zeros(times.shape[0])
    voiced = np.flatnonzero(f0 > 0)
    if voiced.size == 0:
        return result
    length = int(round(H1H2_WINDOW_S * sr))
    half = length // 2
    ext = np.concatenate([np.zeros(half, np.float64), signal.astype(np.float64), np.zeros(length, np.float64)])
    starts = np.clip(np.rint(times[voiced] * sr).astype(np.int64), 0, signal.shape[0])  # ext offset cancels half
    segments = np.lib.stride_tricks.sliding_window_view(ext, length)[starts] * np.hanning(length)
    n_fft = 1 << max(12, int(np.ceil(np.log2(sr / 4.0))))  # bins of at most 4 Hz
    spectrum = np.abs(np.fft.rfft(segments, n=n_fft, axis=1))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)

    def harmonic(n: int) -> np.ndarray:
        centre = n * f0[voiced][:, None]
        band = (freqs[None, :] >= 0.9 * centre) & (freqs[None, :] <= 1.1 * centre)
        return np.max(np.where(band, spectrum, 0.0), axis=1)

    eps = 1e-10
    result[voiced] = 20.0 * np.log10((harmonic(1) + eps) / (harmonic(2) + eps))
    return result
