"""Tiny real media files for tests, written with PyAV (H.264 + AAC in mp4)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_clip(path: Path, seconds: float = 1.0, *, video: bool = True, audio: bool = True, fps: int = 10,
               size: tuple[int, int] = (64, 48), sample_rate: int = 16000) -> Path:
    """A short clip: a moving gradient and a 220 Hz tone."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        vstream = astream = None
        if video:
            vstream = container.add_stream("libx264", rate=fps)
            vstream.width, vstream.height = size
            vstream.pix_fmt = "yuv420p"
        if audio:
            astream = container.add_stream("aac", rate=sample_rate)
            astream.layout = "mono"
        if vstream is not None:
            for i in range(int(seconds * fps)):
                img = np.zeros((size[1], size[0], 3), np.uint8)
                img[..., 0] = (np.arange(size[0]) * 4 + i * 8) % 256
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                for packet in vstream.encode(frame):
                    container.mux(packet)
            for packet in vstream.encode():
                container.mux(packet)
        if astream is not None:
            n = int(seconds * sample_rate)
            tone = (0.2 * np.sin(2 * np.pi * 220 * np.arange(n) / sample_rate)).astype(np.float32)
            for start in range(0, n, 1024):
                chunk = tone[start:start + 1024]
                frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
                frame.sample_rate = sample_rate
                frame.pts = start
                frame.time_base = Fraction(1, sample_rate)
                for packet in astream.encode(frame):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path


def truncate(path: Path, fraction: float = 0.5) -> Path:
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * fraction)])
    return Path(path)


def write_frames(path: Path, frames: list[np.ndarray], fps: int = 10, *, rotation: int | None = None,
                 crf: int = 12) -> Path:
    """An H.264 mp4 of the RGB ``frames`` as stored; ``rotation`` tags its video stream with a display matrix
    (degrees counter-clockwise a player turns the frames, as phones tag portrait video)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": str(crf)})
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
