"""A deterministic, embedded demo corpus for multimodal sentiment analysis (MMSA layout).

:func:`generate_demo_corpus` writes::

    <root>/label.csv                      video_id, clip_id, text, label, label_T, label_A, label_V, annotation, mode
    <root>/Raw/<video_id>/<clip_id>.mp4   H.264 video (a drawn talking face) + AAC mono audio (a procedural voice)

Nothing is downloaded: faces are drawn with OpenCV, the voice is synthesised with numpy/scipy and the
transcripts come from templates. Every file is written to a temporary name beside its target and renamed
into place, so a killed job never leaves a truncated mp4 or csv.

Generative model
================
Each clip has three independent latent factors, one per modality::

    u_t, u_a, u_v ~ N(0, 1)     (truncated to [-2.5, 2.5])

    label   = clip(round(1.2 * u_t + 0.9 * u_a + 0.9 * u_v, 1), -3, 3)     (text weighted most, as in real MSA)
    label_T = clip(round(1.5 * u_t, 1), -3, 3)       unimodal labels (as in CH-SIMS): each factor mapped
    label_A = clip(round(1.5 * u_a, 1), -3, 3)       onto the [-3, 3] scale
    label_V = clip(round(1.5 * u_v, 1), -3, 3)

    annotation = Positive if label >= 0.5, Negative if label <= -0.5, else Neutral

With these weights corr(label, u_t) ~ 0.69 and corr(label, u_a) ~ corr(label, u_v) ~ 0.51: each modality
alone is informative, none is sufficient, and the three together explain the label almost fully (only the
clipping and rounding are lost).

Each modality renders its *own* factor through clip-level noise, ``r_m = u_m + N(0, sigma_m)``, plus
within-clip noise and speaker nuisance:

* text (sigma_t = 0.35): the intensity of the sentiment phrase is ``round(1.5 * r_t)`` on a 7-step scale
  (terrible ... amazing); 15 % of transcripts use a negated form ("not bad", "not good at all"), 15 % add a
  contrasting clause whose sentiment is random (a word that does not match the label), and neutral movie
  talk and fillers ("um", "you know") pad the rest, lower case as in CMU-MOSI.
* audio (sigma_a = 0.30): pitch level +2 semitones per unit of r_a, pitch-accent range 2 + 1 * r_a semitones,
  energy +3 dB per unit, speaking rate x 2**(0.12 * r_a). Speakers differ in base F0 (95-135 Hz or
  170-230 Hz), formant scale (vocal tract length), rate, loudness and breathiness.
* video (sigma_v = 0.30): mouth-corner lift (smile/frown), brow height and inner-brow lowering (frown) and
  eye openness follow r_v, with a slow within-clip wander (sd 0.15). Speakers differ in skin tone, face
  width and aspect, eye spacing, hair, iris and background colour, and face position/size in the frame.
  The mouth opens with the voice's syllable envelope frame by frame; the head sways, nods and jitters and
  the eyes blink.

Splits assign whole speakers (``video_id``) to train/valid/test, so no speaker is in two splits.
Everything is a function of ``seed``: the same seed gives the same label.csv bytes and the same mp4
bytes (x264 runs single-threaded and without its AVX-512 code, see :func:`_x264_asm`; the muxer runs
with ``+bitexact``). AAC pads the last audio frame, so a decoder may return up to 1024 samples of
silence past the end; the container's audio and video durations are equal (``n_frames / fps``).

Generating the default 144 clips (~7.6 MB) takes about 20 s in one process (measured: 21 s wall on a
2-core machine).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .atomic import atomic_path

log = logging.getLogger(__name__)

LABEL_COLUMNS = ["video_id", "clip_id", "text", "label", "label_T", "label_A", "label_V", "annotation", "mode"]

#: Weights of the per-modality latent factors in the overall label.
LABEL_WEIGHTS = {"T": 1.2, "A": 0.9, "V": 0.9}
#: Clip-level noise between a factor and what its modality renders.
RENDER_NOISE = {"T": 0.35, "A": 0.30, "V": 0.30}
#: Scale mapping a unit factor onto the [-3, 3] unimodal label.
UNIMODAL_SCALE = 1.5
#: |label| below this is annotated Neutral.
NEUTRAL_BAND = 0.5
LATENT_CLIP = 2.5


# --------------------------------------------------------------------------------------------------------
# Specifications
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeakerSpec:
    """Appearance and voice of one speaker (nuisance variation shared by all its clips)."""

    video_id: str
    index: int
    mode: str
    skin_bgr: tuple[int, int, int]
    hair_bgr: tuple[int, int, int]
    iris_bgr: tuple[int, int, int]
    bg_top_bgr: tuple[int, int, int]
    bg_bottom_bgr: tuple[int, int, int]
    face_width: float  # half-width of the face as a fraction of the frame height
    face_aspect: float  # half-height / half-width
    eye_spacing: float  # eye centre offset from the midline, in face half-widths
    face_x: float  # face centre as a fraction of the frame width
    face_y: float  # face centre as a fraction of the frame height
    f0_hz: float  # base pitch
    formant_scale: float  # >1: shorter vocal tract (higher formants)
    rate_sps: float  # base speaking rate, syllables per second
    loudness_db: float
    breathiness: float


@dataclass(frozen=True)
class ClipSpec:
    """Everything that determines one clip; :func:`render_clip_audio` / :func:`render_clip_frames` draw it."""

    video_id: str
    clip_id: str
    mode: str
    seed: int  # seed of the within-clip randomness (syllables, head motion, blinks)
    duration: float  # seconds, a whole number of video frames
    u_t: float
    u_a: float
    u_v: float
    r_t: float  # factors as rendered: u + clip-level noise
    r_a: float
    r_v: float
    label: float
    label_T: float
    label_A: float
    label_V: float
    annotation: str
    text: str
    speaker: SpeakerSpec

    # Prosody (audio) -------------------------------------------------------------------------------
    @property
    def f0_shift_st(self) -> float:
        return 2.0 * self.r_a

    @property
    def pitch_range_st(self) -> float:
        return float(np.clip(2.0 + 1.0 * self.r_a, 0.5, 4.5))

    @property
    def gain_db(self) -> float:
        return self.speaker.loudness_db + 3.0 * self.r_a

    @property
    def rate_sps(self) -> float:
        return self.speaker.rate_sps * 2.0 ** (0.12 * self.r_a)

    def row(self) -> dict[str, str]:
        """The label.csv row."""
        return {
            "video_id": self.video_id,
            "clip_id": self.clip_id,
            "text": self.text,
            "label": f"{self.label:.1f}",
            "label_T": f"{self.label_T:.1f}",
            "label_A": f"{self.label_A:.1f}",
            "label_V": f"{self.label_V:.1f}",
            "annotation": self.annotation,
            "mode": self.mode,
        }


def _round1(x: float) -> float:
    # +0.0 turns -0.0 into 0.0 so that the csv never says "-0.0"
    return float(np.clip(round(float(x), 1), -3.0, 3.0)) + 0.0


def annotation_for(label: float) -> str:
    """Positive for label >= 0.5, Negative for label <= -0.5, Neutral in between."""
    if label >= NEUTRAL_BAND:
        return "Positive"
    if label <= -NEUTRAL_BAND:
        return "Negative"
    return "Neutral"


def _split_speakers(n_speakers: int, fractions: Sequence[float], rng: np.random.Generator) -> list[str]:
    """Mode of each speaker index: whole speakers go to one split, every split non-empty when n >= 3."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"split_fractions must be three non-negative numbers, got {fractions!r}")
    frac = np.asarray(fractions, dtype=float) / float(sum(fractions))
    bounds = [int(round(c * n_speakers)) for c in np.cumsum(frac)[:2]]
    counts = [bounds[0], bounds[1] - bounds[0], n_speakers - bounds[1]]
    if n_speakers >= 3:
        for i in range(3):  # move one speaker from the largest split into an empty one
            if counts[i] == 0 and frac[i] > 0:
                counts[int(np.argmax(counts))] -= 1
                counts[i] += 1
    order = rng.permutation(n_speakers)
    modes = [""] * n_speakers
    names = ["train"] * counts[0] + ["valid"] * counts[1] + ["test"] * counts[2]
    for idx, mode in zip(order, names):
        modes[int(idx)] = mode
    return modes


_SKIN_TONES = [  # BGR
    (189, 224, 255), (160, 200, 241), (140, 180, 224), (120, 165, 210), (105, 150, 198),
    (95, 134, 180), (80, 115, 160), (66, 96, 141), (55, 80, 120), (45, 66, 100),
]
_HAIR = [(20, 22, 28), (30, 40, 60), (40, 70, 110), (70, 110, 160), (60, 60, 65), (25, 35, 45)]
_IRIS = [(90, 60, 30), (40, 60, 90), (80, 110, 60), (120, 90, 60), (30, 40, 60)]


def _speaker(index: int, mode: str, seed: int) -> SpeakerSpec:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1, index]))
    female = bool(rng.random() < 0.5)
    bg = rng.integers(120, 230, size=3)
    tint = rng.integers(-25, 26, size=3)
    return SpeakerSpec(
        video_id=f"spk{index + 1:02d}",
        index=index,
        mode=mode,
        skin_bgr=tuple(int(c) for c in _SKIN_TONES[int(rng.integers(len(_SKIN_TONES)))]),
        hair_bgr=tuple(int(c) for c in _HAIR[int(rng.integers(len(_HAIR)))]),
        iris_bgr=tuple(int(c) for c in _IRIS[int(rng.integers(len(_IRIS)))]),
        bg_top_bgr=tuple(int(c) for c in np.clip(bg + 20, 0, 255)),
        bg_bottom_bgr=tuple(int(c) for c in np.clip(bg - 20 + tint, 0, 255)),
        face_width=float(rng.uniform(0.22, 0.29)),
        face_aspect=float(rng.uniform(1.22, 1.42)),
        eye_spacing=float(rng.uniform(0.32, 0.42)),
        face_x=float(rng.uniform(0.42, 0.58)),
        face_y=float(rng.uniform(0.47, 0.53)),
        f0_hz=float(rng.uniform(170, 230) if female else rng.uniform(95, 135)),
        formant_scale=float(rng.uniform(1.08, 1.18) if female else rng.uniform(0.92, 1.02)),
        rate_sps=float(rng.uniform(3.8, 4.8)),
        loudness_db=float(rng.uniform(-3.0, 3.0)),
        breathiness=float(rng.uniform(0.03, 0.10)),
    )


def demo_clip_specs(
    *,
    n_speakers: int = 12,
    clips_per_speaker: int = 12,
    seed: int = 0,
    min_duration: float = 2.0,
    max_duration: float = 4.0,
    fps: int = 25,
    split_fractions: Sequence[float] = (0.6, 0.2, 0.2),
) -> list[ClipSpec]:
    """The per-clip parameters of the demo corpus, without rendering any media.

    Speaker ``k`` and its clips depend only on ``(seed, k)``, so adding speakers does not change the
    existing ones (only the split assignment, which is a permutation of all speakers).
    """
    if n_speakers < 1 or clips_per_speaker < 1:
        raise ValueError("n_speakers and clips_per_speaker must be >= 1")
    if not 0 < min_duration <= max_duration:
        raise ValueError(f"need 0 < min_duration <= max_duration, got {min_duration}, {max_duration}")
    modes = _split_speakers(n_speakers, split_fractions, np.random.default_rng(np.random.SeedSequence([seed, 0])))
    specs: list[ClipSpec] = []
    for k in range(n_speakers):
        spk = _speaker(k, modes[k], seed)
        for j in range(clips_per_speaker):
            rng = np.random.default_rng(np.random.SeedSequence([seed, 2, k, j]))
            u = np.clip(rng.standard_normal(3), -LATENT_CLIP, LATENT_CLIP)
            u_t, u_a, u_v = (float(x) for x in u)
            r_t = u_t + RENDER_NOISE["T"] * float(rng.standard_normal())
            r_a = u_a + RENDER_NOISE["A"] * float(rng.standard_normal())
            r_v = u_v + RENDER_NOISE["V"] * float(rng.standard_normal())
            n_frames = max(1, int(round(rng.uniform(min_duration, max_duration) * fps)))
            duration = n_frames / fps
            label = _round1(LABEL_WEIGHTS["T"] * u_t + LABEL_WEIGHTS["A"] * u_a + LABEL_WEIGHTS["V"] * u_v)
            text = make_transcript(r_t, duration, rng)
            specs.append(
                ClipSpec(
                    video_id=spk.video_id,
                    clip_id=str(j + 1),
                    mode=spk.mode,
                    seed=int(rng.integers(2**31 - 1)),
                    duration=duration,
                    u_t=u_t,
                    u_a=u_a,
                    u_v=u_v,
                    r_t=r_t,
                    r_a=r_a,
                    r_v=r_v,
                    label=label,
                    label_T=_round1(UNIMODAL_SCALE * u_t),
                    label_A=_round1(UNIMODAL_SCALE * u_a),
                    label_V=_round1(UNIMODAL_SCALE * u_v),
                    annotation=annotation_for(label),
                    text=text,
                    speaker=spk,
                )
            )
    return specs


# --------------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------------

# Sentiment phrases by intensity level -3 .. 3 (index level + 3).
_PHRASES: list[list[str]] = [
    ["terrible", "awful", "horrible", "the worst", "a complete waste of time", "painful to watch"],
    ["bad", "boring", "disappointing", "annoying", "really dumb", "a mess"],
    ["weak", "mediocre", "kind of slow", "a little boring", "predictable", "forgettable"],
    ["okay", "fine", "alright", "average", "so so", "about what i expected"],
    ["decent", "nice", "pretty good", "solid", "kind of fun", "enjoyable enough"],
    ["good", "great", "really enjoyable", "funny", "beautiful", "impressive"],
    ["amazing", "fantastic", "brilliant", "awesome", "incredible", "one of the best i have seen"],
]
# Negated forms: the sentiment word says the opposite of the phrase's meaning.
_NEGATED: dict[int, list[str]] = {
    -3: ["not good at all", "not even close to good"],
    -2: ["not good", "not very good", "not worth it"],
    -1: ["not that great", "not as good as i hoped"],
    1: ["not bad", "not too bad", "not terrible"],
    2: ["not bad at all", "not boring at all"],
}
_TOPICS = [
    "the movie", "the acting", "the plot", "the ending", "the soundtrack", "the story", "the pacing",
    "the cast", "the script", "the director", "the cinematography", "the humor", "the main character",
]
_PLURAL_TOPICS = ["the special effects", "the characters", "the action scenes", "the jokes", "the songs"]
_JUDGEMENT = [
    "{topic} {was} {adj}", "i thought {topic} {was} {adj}", "honestly {topic} {was} {adj}",
    "i felt like {topic} {was} {adj}", "overall it was {adj}", "i would say {topic} {was} {adj}",
    "to me {topic} {was} {adj}", "the whole thing was {adj}", "i think {topic} {is_} {adj}",
]
_NEUTRAL = [
    "i saw it last weekend", "i went with my sister", "it is about a guy who loses his job",
    "it came out last year", "it is a sequel", "the main character is a detective",
    "it runs about two hours", "i watched it on a plane", "it is based on a book",
    "it is set in a small town", "my friend told me to go see it", "i saw the trailer first",
]
_FILLERS = ["um", "uh", "so", "you know", "i mean", "like", "basically", "well", "yeah"]
_STRONG = ["really", "so", "very", "just"]


def make_transcript(r_t: float, duration: float, rng: np.random.Generator) -> str:
    """A lower-case movie-review utterance whose sentiment intensity follows ``r_t``."""
    level = int(np.clip(round(UNIMODAL_SCALE * r_t), -3, 3))

    def phrase(lvl: int, allow_negation: bool) -> str:
        if allow_negation and lvl in _NEGATED and rng.random() < 0.15:
            return str(rng.choice(_NEGATED[lvl]))
        adj = str(rng.choice(_PHRASES[lvl + 3]))
        if abs(lvl) == 3 and " " not in adj and rng.random() < 0.5:
            adj = f"{rng.choice(_STRONG)} {adj}"
        return adj

    used: set[str] = set()

    def judgement(lvl: int, allow_negation: bool = True) -> str:
        template = str(rng.choice(_JUDGEMENT))
        plural = bool(rng.random() < 0.25)
        topics = [t for t in (_PLURAL_TOPICS if plural else _TOPICS) if t not in used]
        topic = str(rng.choice(topics))
        used.add(topic)
        return template.format(
            topic=topic,
            was="were" if plural else "was",
            is_="are" if plural else "is",
            adj=phrase(lvl, allow_negation),
        )

    parts: list[str] = []
    if rng.random() < 0.4:
        parts.append(str(rng.choice(_FILLERS)))
    if rng.random() < 0.2 + 0.1 * duration:
        parts.append(str(rng.choice(_NEUTRAL)))
        parts.append(str(rng.choice(["and", "and um", "so", "and honestly"])))
    parts.append(judgement(level))
    roll = rng.random()
    if roll < 0.15:  # noise: a contrasting clause with an unrelated sentiment word
        parts.append("but")
        parts.append(judgement(int(rng.integers(-3, 4)), allow_negation=False))
    elif roll < 0.45 and duration > 2.5:  # reinforcement: same direction, a step weaker or equal
        weaker = level - int(np.sign(level)) * int(rng.integers(0, 2))
        parts.append(str(rng.choice(["and", "and also", "and you know"])))
        parts.append(judgement(weaker, allow_negation=False))
    if rng.random() < 0.25:
        parts.append(str(rng.choice(["you know", "i guess", "yeah", "so yeah"])))
    return " ".join(parts)


# --------------------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------------------

# (F1, F2, F3, F4) in Hz for an adult male vocal tract; mouth opening 0..1 for the lips.
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


# --------------------------------------------------------------------------------------------------------
# Video
# --------------------------------------------------------------------------------------------------------

_SS = 4  # fractional bits for cv2 drawing
_SCALE = 1 << _SS


def _background(spk: SpeakerSpec, width: int, height: int) -> np.ndarray:
    top = np.array(spk.bg_top_bgr, dtype=np.float32)
    bottom = np.array(spk.bg_bottom_bgr, dtype=np.float32)
    w = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    img = top * (1 - w) + bottom * w
    return np.repeat(img, width, axis=1).astype(np.uint8)


def draw_face(
    img: np.ndarray,
    spk: SpeakerSpec,
    *,
    cx: float,
    cy: float,
    half_width: float,
    tilt: float,
    expression: float,
    mouth_open: float,
    eye_open: float,
) -> None:
    """Draw a face in place (BGR). ``expression`` > 0 smiles, < 0 frowns; ``mouth_open`` and
    ``eye_open`` are 0..1. FaceMesh needs the filled lips and the dark mouth interior to find it."""
    import cv2

    fw = half_width
    fh = half_width * spk.face_aspect
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)
    deg = math.degrees(tilt)
    v = expression

    def P(x: float, y: float) -> tuple[float, float]:
        X, Y = x * fw, y * fh
        return (cx + cos_t * X - sin_t * Y, cy + sin_t * X + cos_t * Y)

    def fx(p: tuple[float, float]) -> tuple[int, int]:
        return (int(round(p[0] * _SCALE)), int(round(p[1] * _SCALE)))

    def pts(seq: list[tuple[float, float]]) -> np.ndarray:
        return np.round(np.asarray(seq) * _SCALE).astype(np.int32)

    def ellipse(centre, ax, ay, color, thickness=-1):
        cv2.ellipse(img, fx(centre), (max(1, int(ax * _SCALE)), max(1, int(ay * _SCALE))), deg, 0, 360,
                    color, thickness, cv2.LINE_AA, _SS)

    aa = cv2.LINE_AA
    skin = spk.skin_bgr
    shade = tuple(int(c * 0.78) for c in skin)
    hair = spk.hair_bgr
    # neck and shoulders
    nx, ny = P(0, 1.05)
    cv2.rectangle(img, (int(nx - 0.42 * fw), int(ny - 0.3 * fh)), (int(nx + 0.42 * fw), img.shape[0]), shade, -1)
    sx_, sy_ = P(0, 1.55)
    ellipse((sx_, sy_ + 0.35 * fh), 2.0 * fw, 0.6 * fh, tuple(int(c * 0.6) for c in spk.bg_bottom_bgr[::-1]))
    # hair cap, ears, face
    hx, hy = P(0, -0.16)
    cv2.ellipse(img, fx((hx, hy)), (int(1.1 * fw * _SCALE), int(1.02 * fh * _SCALE)), deg, 180, 360, hair, -1, aa, _SS)
    for sx in (-1, 1):
        ellipse(P(sx * 1.0, 0.02), 0.14 * fw, 0.2 * fh, shade)
    ellipse((cx, cy), fw, fh, skin)
    # eyes
    eo = float(np.clip(eye_open * (1.0 + 0.12 * v), 0.05, 1.4))
    es = spk.eye_spacing
    for sx in (-1, 1):
        ec = P(sx * es, -0.12)
        ax, ay = 0.17 * fw, max(0.6, 0.075 * fh * eo)
        ellipse(ec, ax, ay, (245, 245, 245))
        if eo > 0.3:
            r = min(0.075 * fw, 0.075 * fh * eo * 1.1)
            ellipse(ec, r, r, spk.iris_bgr)
            ellipse(ec, 0.5 * r, 0.5 * r, (12, 12, 12))
        ellipse(ec, ax, ay, (40, 40, 60), 1)
        # brows: raised for positive expression, inner end lowered for negative (frown)
        bh = -0.30 - 0.035 * v
        inner = 0.06 * max(-v, 0.0) - 0.015 * max(v, 0.0)
        arch = 0.02 + 0.015 * max(v, 0.0)
        brow = [P(sx * (es + 0.2), bh + 0.02), P(sx * es, bh - arch), P(sx * (es - 0.2), bh + inner)]
        cv2.polylines(img, [pts(brow)], False, hair, max(2, int(round(fh * 0.035))), aa, _SS)
    # nose
    cv2.line(img, fx(P(0.0, -0.08)), fx(P(0.02, 0.2)), shade, 2, aa, _SS)
    for sx in (-1, 1):
        ellipse(P(sx * 0.08, 0.22), 0.05 * fw, 0.025 * fh, tuple(int(c * 0.5) for c in skin))
    # mouth: corners lifted (smile) or lowered (frown) by a parabola; opening from the voice
    my, mw = 0.5, 0.36
    curve = -0.10 * v
    op = 0.16 * float(np.clip(mouth_open, 0.0, 1.0))
    xs = np.linspace(-1.0, 1.0, 13)

    def base(x: float) -> float:
        return my + curve * x * x

    bulge = 1.0 - xs**2
    upper = [P(mw * x, base(x) - 0.05 - 0.02 * b - 0.3 * op * b) for x, b in zip(xs, bulge)]
    lower = [P(mw * x, base(x) + 0.05 + 0.02 * b + 0.9 * op * b) for x, b in zip(xs[::-1], bulge[::-1])]
    cv2.fillPoly(img, [pts(upper + lower)], (60, 60, 170), aa, _SS)
    upper_in = [P(0.9 * mw * x, base(0.9 * x) - 0.3 * op * b) for x, b in zip(xs, bulge)]
    lower_in = [P(0.9 * mw * x, base(0.9 * x) + 0.9 * op * b + 0.005) for x, b in zip(xs[::-1], bulge[::-1])]
    cv2.fillPoly(img, [pts(upper_in + lower_in)], (30, 20, 40), aa, _SS)


def render_clip_frames(
    spec: ClipSpec,
    mouth: np.ndarray,
    *,
    fps: int = 25,
    width: int = 320,
    height: int = 240,
) -> Iterator[np.ndarray]:
    """Yield the clip's frames as BGR uint8 ``(height, width, 3)``; ``mouth`` is the lip opening per frame."""
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 2]))
    spk = spec.speaker
    n_frames = len(mouth)
    bg = _background(spk, width, height)
    half_width = spk.face_width * height
    t = np.arange(n_frames) / fps
    # slow sway/nod (sinusoids with random phase) + frame jitter
    ph = rng.uniform(0, 2 * np.pi, size=4)
    fr = rng.uniform(0.15, 0.45, size=4)
    dx = 0.025 * height * np.sin(2 * np.pi * fr[0] * t + ph[0]) + rng.normal(0, 0.3, n_frames)
    dy = 0.015 * height * np.sin(2 * np.pi * fr[1] * t + ph[1]) + rng.normal(0, 0.3, n_frames)
    tilt = 0.05 * np.sin(2 * np.pi * fr[2] * t + ph[2])
    zoom = 1.0 + 0.02 * np.sin(2 * np.pi * fr[3] * t + ph[3])
    wander = np.cumsum(rng.normal(0, 1, n_frames))
    wander = 0.15 * (wander - wander.mean()) / (wander.std() + 1e-9) if n_frames > 1 else np.zeros(1)
    # blinks: ~every 2-5 s, 3 frames (closing, closed, opening)
    eye = np.ones(n_frames)
    k = int(rng.uniform(0.5, 3.0) * fps)
    while k < n_frames:
        for off, val in ((0, 0.5), (1, 0.1), (2, 0.5)):
            if k + off < n_frames:
                eye[k + off] = val
        k += int(rng.uniform(2.0, 5.0) * fps)
    for i in range(n_frames):
        img = bg.copy()
        draw_face(
            img,
            spk,
            cx=spk.face_x * width + dx[i],
            cy=spk.face_y * height + dy[i],
            half_width=half_width * zoom[i],
            tilt=float(tilt[i]),
            expression=spec.r_v + float(wander[i]),
            mouth_open=float(mouth[i]),
            eye_open=float(eye[i]),
        )
        yield img


# --------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------


# x264 SIMD sets, each with the /proc/cpuinfo flag that says the CPU has it.
_X264_SIMD = [
    ("MMX2", "sse"), ("SSE", "sse"), ("SSE2", "sse2"), ("SSE3", "pni"), ("SSSE3", "ssse3"),
    ("SSE4.1", "sse4_1"), ("SSE4.2", "sse4_2"), ("AVX", "avx"), ("FMA3", "fma"), ("BMI1", "bmi1"),
    ("BMI2", "bmi2"), ("AVX2", "avx2"), ("LZCNT", "abm"),
]


def _x264_asm() -> str | None:
    """The x264 ``asm`` setting: the CPU's SIMD sets without AVX-512, on a CPU that has AVX-512.

    x264's AVX-512 code made the output vary from run to run here (it reads memory that depends on the
    heap layout: the right-most macroblock column differed by a few grey levels); its other SIMD sets are
    bit-exact with one another, so leaving AVX-512 out gives the same bytes on every x86 machine.
    ``None`` (x264's own detection) elsewhere.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = set()
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        return None
    if "avx512f" not in flags:
        return None
    return ",".join(name for name, flag in _X264_SIMD if flag in flags)


def _x264_options(fps: int) -> dict[str, str]:
    # one thread: multi-threaded x264 is not bit-reproducible
    options = {"preset": "veryfast", "crf": "23", "threads": "1", "g": str(2 * fps)}
    asm = _x264_asm()
    if asm:
        options["x264-params"] = f"asm={asm}"
    return options


def write_clip(
    spec: ClipSpec,
    path: Path,
    *,
    fps: int = 25,
    width: int = 320,
    height: int = 240,
    sample_rate: int = 16000,
) -> None:
    """Render one clip and write it as mp4 (H.264 + AAC mono) to ``path``, atomically."""
    import av

    audio = render_clip_audio(spec, sample_rate)
    n_frames = int(round(spec.duration * fps))
    mouth = audio.mouth_at_frames(fps, n_frames)
    spf = sample_rate / fps
    bitexact = int(av.codec.context.Flags.bitexact)
    with atomic_path(path) as tmp:
        # +bitexact keeps library version strings out of the file, so equal inputs give equal bytes.
        with av.open(str(tmp), mode="w", format="mp4", options={"fflags": "+bitexact"}) as out:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.codec_context.thread_count = 1
            vs.codec_context.flags |= bitexact
            vs.codec_context.options = _x264_options(fps)
            ast = out.add_stream("aac", rate=sample_rate, layout="mono")
            ast.codec_context.bit_rate = 64000
            ast.codec_context.thread_count = 1
            ast.codec_context.flags |= bitexact
            samples = audio.samples
            pos = 0

            def push_audio(until: int | None) -> None:
                nonlocal pos
                stop = samples.size if until is None else min(until, samples.size)
                if stop > pos:
                    frame = av.AudioFrame.from_ndarray(samples[None, pos:stop], format="flt", layout="mono")
                    frame.sample_rate = sample_rate
                    frame.pts = pos
                    frame.time_base = Fraction(1, sample_rate)
                    for packet in ast.encode(frame):
                        out.mux(packet)
                    pos = stop
                if until is None:
                    for packet in ast.encode(None):
                        out.mux(packet)

            for i, img in enumerate(render_clip_frames(spec, mouth, fps=fps, width=width, height=height)):
                push_audio(int(round((i + 1) * spf)))
                frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                for packet in vs.encode(frame):
                    out.mux(packet)
            push_audio(None)
            for packet in vs.encode(None):
                out.mux(packet)


def write_label_csv(path: Path, specs: Sequence[ClipSpec]) -> None:
    """Write the MMSA label sheet for ``specs`` atomically (UTF-8, comma separated, ``\\n`` line ends)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LABEL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for spec in specs:
        writer.writerow(spec.row())
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue().encode("utf-8"))


def generate_demo_corpus(
    root: Path,
    *,
    n_speakers: int = 12,
    clips_per_speaker: int = 12,
    seed: int = 0,
    min_duration: float = 2.0,
    max_duration: float = 4.0,
    fps: int = 25,
    width: int = 320,
    height: int = 240,
    sample_rate: int = 16000,
    split_fractions: Sequence[float] = (0.6, 0.2, 0.2),
) -> Path:
    """Write the demo corpus under ``root`` and return the path of its ``label.csv``.

    Media go to ``root/Raw/<video_id>/<clip_id>.mp4``; the label sheet is written last, so its presence
    means every clip it lists is complete.
    """
    if width % 2 or height % 2:
        raise ValueError(f"width and height must be even for yuv420p, got {width}x{height}")
    root = Path(root)
    specs = demo_clip_specs(
        n_speakers=n_speakers,
        clips_per_speaker=clips_per_speaker,
        seed=seed,
        min_duration=min_duration,
        max_duration=max_duration,
        fps=fps,
        split_fractions=split_fractions,
    )
    start = time.monotonic()
    log.info("generating %d demo clips (%d speakers) under %s", len(specs), n_speakers, root)
    for i, spec in enumerate(specs, 1):
        write_clip(
            spec,
            root / "Raw" / spec.video_id / f"{spec.clip_id}.mp4",
            fps=fps,
            width=width,
            height=height,
            sample_rate=sample_rate,
        )
        if i % 10 == 0 or i == len(specs):
            log.info("demo corpus: %d/%d clips written (%.1f s)", i, len(specs), time.monotonic() - start)
    label_csv = root / "label.csv"
    write_label_csv(label_csv, specs)
    log.info("demo corpus ready: %s (%d clips, %.1f s)", label_csv, len(specs), time.monotonic() - start)
    return label_csv
