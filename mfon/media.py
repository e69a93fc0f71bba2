"""In-process media decoding with PyAV (FFmpeg shipped inside the wheel; no system ffmpeg).

Every failure is raised as :class:`~mfon.errors.ClipError` whose message names the file and the reason,
so that callers can quarantine the clip instead of crashing.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from .errors import ClipError

log = logging.getLogger(__name__)
# FFmpeg prints warnings for every odd packet; our own errors carry the reason.
av.logging.set_level(av.logging.ERROR)


@dataclass(frozen=True)
class MediaInfo:
    """What a probe learns about one media file."""

    duration_s: float
    has_video: bool
    has_audio: bool
    fps: float
    width: int    # as displayed, i.e. after the rotation below
    height: int
    rotation: int  # degrees counter-clockwise the container asks the player to turn the frames (0, 90, 180, -90)
    video_codec: str
    audio_codec: str
    audio_channels: int
    audio_sample_rate: int

    def as_dict(self) -> dict:
        return asdict(self)


def _reason(exc: Exception) -> str:
    """FFmpeg's own words without the repeated file name."""
    return str(getattr(exc, "strerror", None) or exc)


def _open(path: Path) -> "av.container.InputContainer":
    path = Path(path)
    if not path.exists():
        raise ClipError(f"{path}: media file is missing")
    if path.stat().st_size == 0:
        raise ClipError(f"{path}: media file is empty (0 bytes)")
    try:
        return av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise ClipError(f"{path}: cannot be opened as media ({_reason(exc)})") from exc


def _stream_duration(container, stream) -> float:
    if stream is not None and stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return float("nan")


def display_rotation(path: Path, frame: "av.VideoFrame") -> int:
    """The container's display rotation of ``frame`` (its display matrix), in degrees counter-clockwise.

    Phones store portrait video sideways and tag it with this rotation; a player turns the frames before
    showing them, and so must the face analysis. Only quarter turns exist in practice; any other angle
    refuses the clip rather than analysing a tilted face.
    """
    degrees = int(frame.rotation or 0)
    if degrees % 90:
        raise ClipError(f"{path}: display rotation of {degrees} degrees is not a multiple of 90")
    degrees %= 360
    return degrees - 360 if degrees > 180 else degrees  # in (-180, 180], as FFmpeg reports it


def upright(rgb: np.ndarray, degrees: int) -> np.ndarray:
    """``rgb`` turned by the display rotation, as a player shows it (np.rot90 turns counter-clockwise)."""
    quarter_turns = (degrees // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, quarter_turns)) if quarter_turns else rgb


def probe(path: Path, require_video: bool = True, require_audio: bool = True) -> MediaInfo:
    """Open ``path``, check the streams the pipeline needs and decode the first frame of each.

    Decoding one frame per stream catches truncated and corrupt files cheaply; a file that breaks
    later is caught by the extractor that decodes it fully.
    """
    path = Path(path)
    with _open(path) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if require_video and video is None:
            raise ClipError(f"{path}: has no video stream")
        if require_audio and audio is None:
            raise ClipError(f"{path}: has no audio stream")
        rotation = 0
        for stream, kind in ((video, "video"), (audio, "audio")):
            if stream is None:
                continue
            try:
                container.seek(0)
                first = next(container.decode(stream))
                if kind == "video":
                    rotation = display_rotation(path, first)
            except StopIteration:
                raise ClipError(f"{path}: {kind} stream holds no decodable frame") from None
            except (av.FFmpegError, OSError, ValueError) as exc:
                raise ClipError(f"{path}: {kind} stream cannot be decoded ({_reason(exc)})") from exc
        duration = _stream_duration(container, video if video is not None else audio)
        if not np.isfinite(duration) or duration <= 0:
            raise ClipError(f"{path}: duration is unknown or zero")
        width = int(video.codec_context.width) if video is not None else 0
        height = int(video.codec_context.height) if video is not None else 0
        if rotation in (90, -90):
            width, height = height, width
        return MediaInfo(
            duration_s=float(duration),
            has_video=video is not None,
            has_audio=audio is not None,
            fps=float(video.average_rate) if video is not None and video.average_rate else 0.0,
            width=width,
            height=height,
            rotation=rotation,
            video_codec=video.codec_context.name if video is not None else "",
            audio_codec=audio.codec_context.name if audio is not None else "",
            audio_channels=int(audio.codec_context.channels) if audio is not None else 0,
            audio_sample_rate=int(audio.codec_context.sample_rate) if audio is not None else 0,
        )


def decode_audio(path: Path, sample_rate: int = 16000) -> np.ndarray:
    """Decode the first audio stream of ``path`` to mono float32 in [-1, 1] at ``sample_rate``.

    Works for any container FFmpeg reads (mp4/aac, mov, wav, mp3); stereo is averaged to mono and
    any input rate is resampled.
    """
    path = Path(path)
    with _open(path) as container:
        if not container.streams.audio:
            raise ClipError(f"{path}: has no audio stream")
        stream = container.streams.audio[0]
        declared = _stream_duration(container, stream)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise ClipError(f"{path}: audio stream breaks while decoding ({_reason(exc)})") from exc
    if not chunks:
        raise ClipError(f"{path}: audio stream holds no samples")
    signal = np.concatenate(chunks).astype(np.float32, copy=False)
    # AAC pads its last block with up to 1024 samples of silence: cut to the stream's declared duration so
    # that audio features span the same time as the video.
    if np.isfinite(declared) and declared > 0:
        signal = signal[: max(1, int(round(declared * sample_rate)))]
    return signal


def iter_video_frames(path: Path, fps: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time_s, rgb_uint8[H, W, 3])`` for the frames of the first video stream, upright.

    Frames are turned by the container's display rotation (:func:`display_rotation`), as a player shows
    them: a phone clip stored sideways reaches the face analysis upright.

    With ``fps`` set, frames are sampled on a regular grid ``k / fps``: for each grid time the first
    decoded frame at or after it is emitted (frames are never duplicated, so a source slower than
    ``fps`` yields its own rate). ``fps=None`` yields every frame.
    """
    path = Path(path)
    with _open(path) as container:
        if not container.streams.video:
            raise ClipError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = 1.0 / fps if fps else 0.0
        next_t = 0.0
        # Half a source frame of slack so that a 30 fps grid over a 29.97 fps source keeps every frame.
        slack = 0.5 / float(stream.average_rate) if stream.average_rate else 0.0
        n = 0
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else n * (step or 1 / 30)
                n += 1
                if step and t + slack < next_t:
                    continue
                if step:
                    next_t = (np.floor((t + slack) / step) + 1) * step
                yield t, upright(frame.to_ndarray(format="rgb24"), display_rotation(path, frame))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise ClipError(f"{path}: video stream breaks while decoding ({_reason(exc)})") from exc
        if n == 0:
            raise ClipError(f"{path}: video stream holds no decodable frame")
