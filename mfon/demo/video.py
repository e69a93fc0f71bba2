"""The demo corpus's drawn talking face, whose expression follows the visual factor."""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from .spec import ClipSpec, SpeakerSpec

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
