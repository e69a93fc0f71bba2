"""The demo corpus's voice: a procedural source-filter synthesiser whose prosody follows the acoustic factor."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .spec import ClipSpec

_VOWELS = {
    "a": ((730, 1090, 2440, 3400), 1.0),
    "e": ((530, 1840, 2480, 3500), 0.7),
    "i": ((300, 2250, 2900, 3700), 0.45),
    "o": ((570, 840, 2410, 3300), 0.8),
    "u": ((320, 900, 2250, 3300), 0.5),
}
_VOWEL_KEYS = list(_VOWELS)
_BANDWIDTHS = (80.0, 100.0, 140.0, 200.0)


@dataclass
class ClipAudio:
    """A rendered voice: ``samples`` float32 mono, and ``mouth`` 0..1 at the audio rate (lip opening)."""

    samples: np.ndarray
    mouth: np.ndarray
    sample_rate: int

    def mouth_at_frames(self, fps: float, n_frames: int) -> np.ndarray:
        """Mean lip opening over each video frame's interval."""
        spf = self.sample_rate / fps
        out = np.zeros(n_frames, dtype=np.float32)
        for i in range(n_frames):
            a, b = int(round(i * spf)), int(round((i + 1) * spf))
            seg = self.mouth[a:b]
            out[i] = float(seg.mean()) if seg.size else 0.0
        return out


def _resonator(x: np.ndarray, freq: float, bw: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter

    r = math.exp(-math.pi * bw / sr)
    c = -r * r
    b = 2 * r * math.cos(2 * math.pi * freq / sr)
    a = 1 - b - c  # unity gain at DC (Klatt resonator)
    return lfilter([a], [1.0, -b, -c], x)


def _polyblep_saw(phase: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Band-limited sawtooth from a phase in [0, 1) and the per-sample phase increment."""
    saw = 2.0 * phase - 1.0
    lo = phase < dt
    x = phase[lo] / dt[lo]
    saw[lo] -= x + x - x * x - 1.0
    hi = phase > 1.0 - dt
    x = (phase[hi] - 1.0) / dt[hi]
    saw[hi] -= x * x + x + x + 1.0
    return saw


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    if n <= 1:
        return x
    k = np.hanning(n + 2)[1:-1]
    k /= k.sum()
    return np.convolve(np.pad(x, (n // 2, n - 1 - n // 2), mode="edge"), k, mode="valid")


def render_clip_audio(spec: ClipSpec, sample_rate: int = 16000) -> ClipAudio:
    """Synthesise the clip's voice: glottal sawtooth with a pitch contour, vowel formants, syllable
    envelope, consonant and breath noise. Length is exactly ``round(spec.duration * sample_rate)``."""
    from scipy.signal import butter, sosfilt

    sr = int(sample_rate)
    n = int(round(spec.duration * sr))
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 1]))
    spk = spec.speaker
    t_end = spec.duration - rng.uniform(0.08, 0.2)
    t = rng.uniform(0.06, 0.22)

    # Syllable schedule --------------------------------------------------------------------------
    vowel_env = {v: np.zeros(n) for v in _VOWEL_KEYS}
    cons_env = np.zeros(n)
    breath_env = np.zeros(n)
    accents: list[tuple[float, float]] = []  # (time, semitone target)
    phrase_start = t
    rate = spec.rate_sps
    while True:
        dur = rng.uniform(0.7, 1.3) / rate
        if t + dur > t_end:
            break
        a, b = int(t * sr), int((t + dur) * sr)
        cons = rng.random() < 0.65
        onset = int(rng.uniform(0.18, 0.32) * (b - a)) if cons else 0
        if cons:  # a short noise burst (fricative/plosive release) before the vowel
            m = b - a
            w = np.zeros(m)
            w[:onset] = np.hanning(2 * onset)[:onset] if onset > 1 else 0
            w[onset : min(m, onset + onset // 2)] = np.linspace(1, 0, min(m, onset + onset // 2) - onset)
            cons_env[a:b] += 0.5 * rng.uniform(0.5, 1.0) * w
        va = a + onset
        m = b - va
        stress = float(rng.uniform(0.55, 1.0))
        att, dec = max(1, int(0.025 * sr)), max(1, int(0.045 * sr))
        env = np.ones(m) * stress
        env[: min(att, m)] *= np.linspace(0, 1, min(att, m))
        env[max(0, m - dec) :] *= np.linspace(1, 0, m - max(0, m - dec))
        env *= np.linspace(1.0, 0.85, m)
        vowel_env[_VOWEL_KEYS[int(rng.integers(len(_VOWEL_KEYS)))]][va:b] += env
        # pitch target: declination over the phrase + accent on stressed syllables
        decl = -1.2 * (t - phrase_start)
        accent = spec.pitch_range_st * (rng.uniform(0.5, 1.0) if stress > 0.8 else rng.uniform(-0.3, 0.25))
        accents.append((t + dur / 2, decl + accent))
        t += dur
        if rng.random() < 0.12 and t + 0.5 < t_end:  # phrase break with an audible breath
            pause = rng.uniform(0.15, 0.35)
            pa, pb = int((t + 0.03) * sr), int((t + pause - 0.03) * sr)
            breath_env[pa:pb] += 0.25 * np.hanning(pb - pa)
            t += pause
            phrase_start = t

    # Pitch contour and glottal source -----------------------------------------------------------
    times = np.arange(n) / sr
    if accents:
        at, av_ = zip(*accents)
        contour = np.interp(times, at, av_)
    else:
        contour = np.zeros(n)
    contour = _smooth(contour, int(0.06 * sr))
    drift = np.cumsum(rng.standard_normal(n // 160 + 2)) * 0.06
    contour = contour + np.interp(times, np.arange(drift.size) * 0.01, drift - drift.mean())
    f0 = spk.f0_hz * 2.0 ** ((spec.f0_shift_st + contour) / 12.0)
    f0 *= 1.0 + 0.004 * rng.standard_normal(n)  # jitter
    dt = f0 / sr
    phase = np.mod(np.cumsum(dt), 1.0)
    source = _polyblep_saw(phase, dt)
    source = sosfilt(butter(1, 2500, fs=sr, output="sos"), source)  # glottal spectral tilt

    noise = rng.standard_normal(n)
    voiced = np.zeros(n)
    for key, env in vowel_env.items():
        if not env.any():
            continue
        formants, _ = _VOWELS[key]
        y = source + spk.breathiness * noise
        for f, bw in zip(formants, _BANDWIDTHS):
            y = _resonator(y, min(f * spk.formant_scale, 0.45 * sr), bw, sr)
        rms = np.sqrt(np.mean(y[env > 0] ** 2)) + 1e-9
        voiced += env * y / rms
    fric = sosfilt(butter(2, [2500, min(7000, 0.45 * sr)], btype="band", fs=sr, output="sos"), rng.standard_normal(n))
    fric /= np.sqrt(np.mean(fric**2)) + 1e-9
    breath = sosfilt(butter(2, [400, 3000], btype="band", fs=sr, output="sos"), rng.standard_normal(n))
    breath /= np.sqrt(np.mean(breath**2)) + 1e-9
    gain = 0.08 * 10.0 ** (spec.gain_db / 20.0)
    y = gain * (voiced + 0.35 * cons_env * fric + breath_env * breath) + 3e-4 * rng.standard_normal(n)
    y = np.tanh(y / 0.9) * 0.9  # soft limiter for the loudest clips

    mouth = np.zeros(n)
    for key, env in vowel_env.items():
        mouth += env * _VOWELS[key][1]
    mouth = np.clip(_smooth(mouth, int(0.02 * sr)), 0.0, 1.0)
    return ClipAudio(samples=y.astype(np.float32), mouth=mouth.astype(np.float32), sample_rate=sr)
