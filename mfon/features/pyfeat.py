"""The ``pyfeat`` visual backend (optional extra): py-feat's detector gives AU intensities, emotion
probabilities and head pose per sampled frame, the closest open analogue of the FACET features of
CMU-MOSI/MOSEI. Needs ``pip install -e '.[pyfeat]'`` with a matching torch/torchvision, and its weights in the
local Hugging Face cache; otherwise it raises :class:`~mfon.errors.ModelUnavailableError` with the remedy.

Frames come from :func:`mfon.media.iter_video_frames` sampled at ``fps``; a frame without a face is marked
``valid=False`` and zero-filled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import schema_default
from ..errors import ModelUnavailableError
from ..media import iter_video_frames
from . import FeatureSequence, configure
from .video_frames import clip_rate, downscale, face_info

EXTRACTOR_VERSION = "1.0"
FEATURE_SET = "pyfeat-au-emotion-pose-v1"


@dataclass(frozen=True)
class PyFeatConfig:
    fps: float | None = schema_default("visual", "fps")
    device: str = schema_default("visual", "device")
    max_side: int | None = schema_default("visual", "max_side")
    face_detection_threshold: float = 0.5
    batch_size: int = 8


# Written against py-feat 2.x (feat.Detectorv1); weights come from the Hugging Face hub into py-feat's own cache
# folder (feat/resources), which is checked before anything loads.
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
    config_type = PyFeatConfig

    def __init__(self, config: PyFeatConfig | None = None, /, **options):
        self.config = configure(PyFeatConfig, config, options)
        fps = self.config.fps
        if fps is not None and not fps > 0:
            raise ValueError(f"fps must be positive or None, got {fps!r}")
        self.fps = fps
        self.device = self.config.device
        self.max_side = int(self.config.max_side) if self.config.max_side else None
        self.face_detection_threshold = float(self.config.face_detection_threshold)
        self.batch_size = int(self.config.batch_size)
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
            "feature_set": FEATURE_SET,
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
            batch.append(np.ascontiguousarray(downscale(rgb, self.max_side)))
            times.append(t)
            if len(batch) >= self.batch_size:
                flush()
        if batch:
            flush()
        values = np.stack(rows) if rows else np.zeros((0, n_dims), dtype=np.float32)
        valid_arr = np.asarray(valid, dtype=bool)
        return FeatureSequence(values=values, valid=valid_arr, frame_rate=clip_rate(self.fps, times),
                               info=face_info(valid_arr))
