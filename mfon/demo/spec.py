"""Speakers and clips of the demo corpus: every random draw, made from the seed, before anything is rendered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .model import LABEL_WEIGHTS, LATENT_CLIP, NEUTRAL_BAND, RENDER_NOISE, UNIMODAL_SCALE
from .text import make_transcript


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
