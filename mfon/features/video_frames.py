"""What the visual extractors share: downscaling, decoding in a background thread and the clip's frame rate
(MediaPipe, py-feat), and the per-clip face counts (those two and the OpenFace/FACET export readers)."""

from __future__ import annotations

import queue
import threading
from typing import Iterator

import numpy as np


def downscale(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    """``rgb`` shrunk so that its longer side is at most ``max_side``.

    Bilinear for mild reductions (3x cheaper than area averaging, no visible aliasing down to half size), area
    averaging below half size.
    """
    if not max_side or max(rgb.shape[:2]) <= max_side:
        return rgb
    import cv2

    scale = max_side / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR if scale >= 0.5 else cv2.INTER_AREA)


def prefetch(frames: Iterator, depth: int = 8) -> Iterator:
    """Run ``frames`` in a background thread (decoding overlaps detection); exceptions are re-raised here."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in frames:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(exc)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()  # releases the container even when the consumer stopped early

    worker = threading.Thread(target=produce, name="mfon-video-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def clip_rate(fps: float | None, times: list[float]) -> float:
    """The clip's frame rate: ``fps`` when frames were sampled at it, else measured from the frame times."""
    if fps:
        return float(fps)
    if len(times) > 1 and times[-1] > times[0]:
        return float((len(times) - 1) / (times[-1] - times[0]))
    return 0.0


def face_info(valid: np.ndarray) -> dict:
    n = int(valid.shape[0])
    found = int(valid.sum())
    return {"n_frames": n, "face_frames": found, "face_fraction": round(found / n, 4) if n else 0.0}
