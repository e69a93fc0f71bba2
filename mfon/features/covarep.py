"""A COVAREP-like acoustic set computed with Praat (parselmouth), standing in for the COVAREP descriptors of
CMU-MOSI/MOSEI: F0, voicing, HNR, formants and bandwidths, intensity, windowed jitter and shimmer, H1-H2 and
MFCC 0-24 (in place of COVAREP's MCEPs).

Frame grid, padding and pooling are those of :mod:`mfon.features.acoustic`; docs/acoustic_features.md explains
the choices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import schema_default
from . import configure
from .acoustic import BASE_FRAME_RATE, AcousticExtractor

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


@dataclass(frozen=True)
class CovarepLikeConfig:
    sample_rate: int = schema_default("acoustic", "sample_rate")
    pool_rate: float | None = schema_default("acoustic", "pool_rate")


class CovarepLikeExtractor(AcousticExtractor):
    """The ``covarep_like`` set of one clip on the 100 Hz grid, optionally mean-pooled to ``pool_rate``."""

    config_type = CovarepLikeConfig
    feature_set = "covarep_like"

    def __init__(self, config: CovarepLikeConfig | None = None, /, **options):
        self.config = configure(CovarepLikeConfig, config, options)
        super().__init__(self.config.sample_rate, self.config.pool_rate)
        import parselmouth

        self._parselmouth = parselmouth
        self._n_mfcc = min(N_MFCC, self._count_mel_filters())
        self.dim_names = COVAREP_LIKE_BASE_DIMS + [f"MFCC_{i}" for i in range(self._n_mfcc)]

    def describe(self) -> dict:
        pm = self._parselmouth
        return {
            **super().describe(),
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

    def _count_mel_filters(self) -> int:
        sound = self._parselmouth.Sound(np.zeros(int(0.1 * self.sample_rate)), self.sample_rate)
        mel = self._parselmouth.praat.call(sound, "To MelSpectrogram", MFCC_WINDOW_S, 1.0 / BASE_FRAME_RATE,
                                           100.0, 100.0, 0.0)
        return int(self._parselmouth.praat.call(mel, "To Matrix", "no").values.shape[0])

    def _frames(self, padded: np.ndarray, n_frames: int) -> np.ndarray:
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
