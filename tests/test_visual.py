"""Visual features: MediaPipe FaceMesh descriptors on real faces and clips, pose normalisation, py-feat errors.

The py-feat tests do not run py-feat: it cannot be installed here. They run :class:`PyFeatExtractor` against a
hand-made ``feat`` module whose layout (``feat.Detectorv1``, ``feat.utils.io.get_resource_path``, ``detect()``
returning one table row per face with ``frame`` and ``FaceScore`` columns) is this project's own reading of
py-feat 2.x. What they cover is our side: the error messages when py-feat or its weights are missing, the
weight-cache check, the offline switch while the detector is built, and how per-face rows become per-frame
values. They do not show that the real py-feat has that layout.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from mfon.errors import ClipError, ModelUnavailableError
from mfon.features import FeatureSequence, mediapipe_face
from mfon.features import pyfeat as pyfeat_backend
from mfon.features.face_geometry import EXPRESSION_NAMES, descriptor_names, descriptors_from_landmarks
from mfon.features.mediapipe_face import MediaPipeFaceExtractor
from mfon.features.pyfeat import PyFeatExtractor
from mfon.features.registry import create_extractor
from mfon.features.video_frames import downscale
from mfon.media import probe

from mediafactory import write_frames

cv2 = pytest.importorskip("cv2")

NAMES = descriptor_names()
IDX = {name: i for i, name in enumerate(NAMES)}
EXPR = [IDX[name] for name in EXPRESSION_NAMES]
PHOTOS = {
    "surprise": "0-f1-su-ph.jpg",
    "happy": "0-f15-hao-ph.jpg",
    "anger": "15-f13-anc-ph.jpg",
    "disgust": "45-m7-di-ph.jpg",
}
# Pose-normalisation tolerance for expression descriptors (IOD units; eye openness in eye widths): each value of
# a mirrored / rotated / scaled copy stays within EXPR_TOL of the original, the mean absolute change within
# EXPR_MEAN_TOL. Between different expressions the key descriptors differ by 0.05-0.2 (see test_photos_*).
EXPR_TOL = 0.06
EXPR_MEAN_TOL = 0.02
ANGLE_TOL = 2.0  # degrees, roll change vs the applied in-plane rotation


def visual_extractor(backend: str = "mediapipe", **settings):
    """The visual extractor the config section ``{"backend": backend, **settings}`` describes."""
    return create_extractor("visual", {"backend": backend, **settings})


def descriptors_from_image(rgb: np.ndarray, *, refine_landmarks: bool = True, max_side: int | None = None):
    """``(values, found)`` of one face in an RGB uint8 image: FaceMesh in static-image mode, then the same
    descriptors as MediaPipeFaceExtractor (zero-filled when no face is found)."""
    rgb = np.ascontiguousarray(downscale(np.asarray(rgb), max_side))
    with mediapipe_face.face_mesh(True, refine_landmarks, 0.5, 0.5) as mesh:
        lm = mediapipe_face.landmark_array(mesh.process(rgb))
    if lm is None:
        return np.zeros(len(descriptor_names(refine_landmarks)), dtype=np.float32), False
    return descriptors_from_landmarks(lm, rgb.shape[1], rgb.shape[0], include_gaze=refine_landmarks), True


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path))
    assert bgr is not None, f"cannot read {path}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rotate(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Counter-clockwise (as seen) in-plane rotation about the image centre (OpenCV's sign convention)."""
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def swap_sides(values: np.ndarray) -> np.ndarray:
    """Exchange every *_r descriptor with its *_l partner (what a mirror image does to anatomical sides)."""
    out = values.copy()
    for name, i in IDX.items():
        if name.endswith("_r"):
            j = IDX[name[:-2] + "_l"]
            out[i], out[j] = values[j], values[i]
    return out


def write_faceless_clip(path: Path, seconds: float = 1.0, fps: int = 10, size=(96, 64)) -> Path:
    """A small H.264 clip of moving gradients (no face), so some tests run without the shared media."""
    frames = []
    for i in range(int(seconds * fps)):
        img = np.zeros((size[1], size[0], 3), np.uint8)
        img[..., 1] = (np.arange(size[0]) * 3 + i * 9) % 256
        frames.append(img)
    return write_frames(path, frames, fps)


@pytest.fixture(scope="module")
def extractor() -> MediaPipeFaceExtractor:
    ex = visual_extractor("mediapipe", fps=15.0)
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def faces(shared_data) -> Path:
    return shared_data / "faces"


@pytest.fixture(scope="module")
def photo_values(faces) -> dict[str, np.ndarray]:
    out = {}
    for label, name in PHOTOS.items():
        values, found = descriptors_from_image(read_rgb(faces / name))
        assert found, f"no face found in {name}"
        out[label] = values
    return out


def check_sequence(seq: FeatureSequence, ex, duration_s: float) -> None:
    assert isinstance(seq, FeatureSequence)
    assert seq.values.dtype == np.float32 and seq.valid.dtype == bool
    assert seq.values.ndim == 2 and seq.values.shape[1] == len(ex.dim_names)
    assert seq.valid.shape == (seq.values.shape[0],)
    assert np.isfinite(seq.values).all()
    assert not seq.values[~seq.valid].any(), "frames without a face must be zero-filled"
    assert seq.frame_rate == pytest.approx(15.0)
    assert abs(seq.values.shape[0] - duration_s * 15.0) <= 2
    assert seq.info["n_frames"] == seq.values.shape[0]
    assert seq.info["face_frames"] == int(seq.valid.sum())
    assert seq.info["face_fraction"] == pytest.approx(seq.valid.mean(), abs=1e-4)
    assert all(np.isscalar(v) for v in seq.info.values())


# ---------------------------------------------------------------------------------------------- API, no media
def test_factory_and_protocol() -> None:
    ex = visual_extractor()
    assert isinstance(ex, MediaPipeFaceExtractor)
    assert ex.modality == "visual" and ex.frame_rate == 15.0
    assert (ex.min_detection_confidence, ex.min_tracking_confidence, ex.max_side) == (0.5, 0.5, 640)
    assert ex.dim_names == NAMES and len(set(NAMES)) == len(NAMES)
    assert descriptor_names(False) == [n for n in NAMES if not n.startswith("gaze_")]
    assert visual_extractor("mediapipe", fps=None, refine_landmarks=False).dim_names == descriptor_names(False)
    info = ex.describe()
    assert info["extractor"] == "mediapipe-facemesh" and info["fps"] == 15.0
    for key in ("extractor_version", "feature_set", "min_detection_confidence", "max_side", "refine_landmarks"):
        assert key in info
    with pytest.raises(ValueError, match="mediapipe.*pyfeat"):
        visual_extractor("openface")
    with pytest.raises(ValueError):
        visual_extractor("mediapipe", fps=0)


def test_driver_builds_the_extractor() -> None:
    from mfon.extraction import build_extractor

    ex = build_extractor("visual", {"backend": "mediapipe", "fps": 10, "max_side": 320,
                                    "min_detection_confidence": 0.6, "no_face_policy": "keep", "device": "cpu"})
    assert isinstance(ex, MediaPipeFaceExtractor)
    assert (ex.frame_rate, ex.max_side, ex.min_detection_confidence) == (10.0, 320, 0.6)


def test_faceless_synthetic_clip_is_all_invalid(tmp_path) -> None:
    clip = write_faceless_clip(tmp_path / "gradient.mp4", seconds=1.0, fps=10)
    ex = visual_extractor(fps=None)
    seq = ex.extract(clip)
    assert seq.values.shape == (10, len(NAMES))
    assert not seq.valid.any() and not seq.values.any()
    assert seq.info == {"n_frames": 10, "face_frames": 0, "face_fraction": 0.0}
    assert seq.frame_rate == pytest.approx(10.0, rel=0.05)
    restored = pickle.loads(pickle.dumps(ex))  # the FaceMesh graph is left behind and rebuilt lazily
    assert restored.extract(clip).values.shape == (10, len(NAMES))


def test_detection_failure_is_a_clip_error_and_stops_decoding(tmp_path, monkeypatch) -> None:
    import threading

    clip = write_faceless_clip(tmp_path / "gradient.mp4", seconds=3.0, fps=10)
    calls = {"n": 0}
    real = mediapipe_face.landmark_array

    def flaky(result):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("graph broke")
        return real(result)

    monkeypatch.setattr(mediapipe_face, "landmark_array", flaky)
    ex = visual_extractor(fps=None)
    with pytest.raises(ClipError, match="graph broke"):
        ex.extract(clip)
    assert not any(t.name == "mfon-video-decode" for t in threading.enumerate())
    monkeypatch.setattr(mediapipe_face, "landmark_array", real)
    assert ex.extract(clip).values.shape[0] == 30  # a fresh graph is built for the next clip


def test_blank_image_has_no_face() -> None:
    values, found = descriptors_from_image(np.full((240, 320, 3), 127, np.uint8))
    assert not found and values.shape == (len(NAMES),) and not values.any()


def test_unusable_clip_raises_clip_error(tmp_path) -> None:
    with pytest.raises(ClipError, match="missing"):
        visual_extractor().extract(tmp_path / "nope.mp4")
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(b"not a video" * 100)
    with pytest.raises(ClipError):
        visual_extractor().extract(bad)


# ---------------------------------------------------------------------------------------------- real clips
@pytest.mark.parametrize("relpath", ["faces/single_face.mp4", "mosi_clips/Oz06ZWiO20M_6.mp4"])
def test_face_found_in_most_frames(shared_data, extractor, relpath) -> None:
    path = shared_data / relpath
    seq = extractor.extract(path)
    check_sequence(seq, extractor, probe(path, require_audio=False).duration_s)
    assert seq.info["face_fraction"] >= 0.8
    found = seq.values[seq.valid]
    assert (found[:, IDX["eye_open_r"]] > -0.1).all() and (found[:, IDX["mouth_width"]] > 0.2).all()
    assert np.median(found[:, IDX["face_scale"]]) > 0.05


def test_no_face_clip(faces, extractor) -> None:
    seq = extractor.extract(faces / "no_face.mp4")
    check_sequence(seq, extractor, probe(faces / "no_face.mp4", require_audio=False).duration_s)
    assert not seq.valid.any() and not seq.values.any()
    assert seq.info["face_frames"] == 0 and seq.info["face_fraction"] == 0.0


def test_hevc_face_leaving_the_frame(faces, extractor) -> None:
    path = faces / "face_noface.mov"
    assert probe(path, require_audio=False).video_codec == "hevc"
    seq = extractor.extract(path)
    check_sequence(seq, extractor, probe(path, require_audio=False).duration_s)
    assert 0.1 < seq.info["face_fraction"] < 0.9, seq.info


def test_tracking_state_does_not_leak_between_clips(faces) -> None:
    ex = visual_extractor()
    first = ex.extract(faces / "single_face.mp4")
    ex.extract(faces / "face_noface.mov")
    again = ex.extract(faces / "single_face.mp4")
    np.testing.assert_array_equal(first.valid, again.valid)
    np.testing.assert_allclose(first.values, again.values, atol=1e-5)


# ---------------------------------------------------------------------------------------------- posed photos
def test_photos_descriptors_are_meaningful(photo_values) -> None:
    v = photo_values
    pull = lambda label: v[label][[IDX["lip_corner_pull_r"], IDX["lip_corner_pull_l"]]].mean()  # noqa: E731
    # Smile (AU12): corners lifted and mouth widened most in the happy photo.
    for other in ("surprise", "anger", "disgust"):
        assert pull("happy") > pull(other) + 0.04, other
        assert v["happy"][IDX["mouth_width"]] > v[other][IDX["mouth_width"]] + 0.05, other
    # Surprise: mouth and eyes open widest (AU25/26/27, AU5); brows higher than in anger/disgust (AU1+2).
    brow = lambda label: v[label][[IDX["inner_brow_raise_r"], IDX["inner_brow_raise_l"],  # noqa: E731
                                   IDX["outer_brow_raise_r"], IDX["outer_brow_raise_l"]]].mean()
    eyes = lambda label: v[label][[IDX["eye_open_r"], IDX["eye_open_l"]]].mean()  # noqa: E731
    for other in ("happy", "anger", "disgust"):
        assert v["surprise"][IDX["lips_part"]] > v[other][IDX["lips_part"]] + 0.04, other
        assert v["surprise"][IDX["jaw_drop"]] > v[other][IDX["jaw_drop"]] + 0.05, other
        assert eyes("surprise") > eyes(other) + 0.08, other
    for other in ("anger", "disgust"):
        assert brow("surprise") > brow(other) + 0.02, other
    # Anger: lips pressed (AU24) and closed; corners lowered relative to the lower lip (AU15/AU17).
    for other in ("happy", "surprise"):
        assert v["anger"][IDX["lip_thickness"]] < v[other][IDX["lip_thickness"]] - 0.04, other
        assert v["anger"][IDX["lips_part"]] < 0.02
        assert v["anger"][IDX["lip_corner_depress_r"]] > v[other][IDX["lip_corner_depress_r"]] + 0.08, other
    # Head pose: the three female subjects face the camera, the disgust subject is turned to the image's left.
    for label in ("surprise", "happy", "anger"):
        assert abs(v[label][IDX["head_yaw"]]) < 20 and abs(v[label][IDX["head_roll"]]) < 8
    assert -55 < v["disgust"][IDX["head_yaw"]] < -25


@pytest.mark.parametrize("label", ["happy", "anger"])
@pytest.mark.parametrize("transform", ["mirror", "rotate+12", "rotate-15", "scale0.6"])
def test_pose_normalisation(faces, photo_values, label, transform) -> None:
    original = photo_values[label]
    rgb = read_rgb(faces / PHOTOS[label])
    if transform == "mirror":
        image = np.ascontiguousarray(rgb[:, ::-1])
    elif transform.startswith("rotate"):
        angle = float(transform[len("rotate"):])
        image = rotate(rgb, angle)
    else:
        image = cv2.resize(rgb, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    values, found = descriptors_from_image(image)
    assert found
    if transform == "mirror":
        values = swap_sides(values)
    diff = np.abs(values[EXPR] - original[EXPR])
    worst = EXPRESSION_NAMES[int(diff.argmax())]
    assert diff.max() < EXPR_TOL, f"{worst} moved by {diff.max():.3f}"
    assert diff.mean() < EXPR_MEAN_TOL
    # Still recognisably the same expression: nearer to its own original than to any other photo.
    dist = {other: np.linalg.norm(values[EXPR] - v[EXPR]) for other, v in photo_values.items()}
    assert min(dist, key=dist.get) == label, dist

    yaw, pitch, roll = (values[IDX[n]] for n in ("head_yaw", "head_pitch", "head_roll"))
    yaw0, pitch0, roll0 = (original[IDX[n]] for n in ("head_yaw", "head_pitch", "head_roll"))
    if transform == "mirror":  # a mirror image turns and tilts the other way
        assert yaw == pytest.approx(-yaw0, abs=3.0) and roll == pytest.approx(-roll0, abs=ANGLE_TOL)
    elif transform.startswith("rotate"):  # counter-clockwise image rotation = positive roll change
        assert roll - roll0 == pytest.approx(angle, abs=ANGLE_TOL)
        assert yaw == pytest.approx(yaw0, abs=3.0) and pitch == pytest.approx(pitch0, abs=3.0)
    else:
        assert (yaw, pitch, roll) == pytest.approx((yaw0, pitch0, roll0), abs=ANGLE_TOL)
        assert values[IDX["face_scale"]] == pytest.approx(original[IDX["face_scale"]], rel=0.03)


def test_downscaling_keeps_descriptors(faces, photo_values) -> None:
    values, found = descriptors_from_image(read_rgb(faces / PHOTOS["happy"]), max_side=256)
    assert found
    assert np.abs(values[EXPR] - photo_values["happy"][EXPR]).max() < EXPR_TOL


# ---------------------------------------------------------------------------------------------- py-feat backend
def test_pyfeat_missing_gives_actionable_error() -> None:
    if importlib.util.find_spec("feat") is not None:
        pytest.skip("py-feat is installed here")
    with pytest.raises(ModelUnavailableError) as info:
        visual_extractor("pyfeat", fps=15.0, device="cpu", max_side=640)
    message = str(info.value)
    assert "pip install -e '.[pyfeat]'" in message
    assert "torchvision" in message and "visual.backend: mediapipe" in message


def test_pyfeat_weights_not_cached_gives_actionable_error(tmp_path, monkeypatch) -> None:
    """With py-feat importable but its weights absent from the local cache, nothing is downloaded."""
    fake = types.ModuleType("feat")
    fake.__version__ = "2.1.5"
    fake.Detectorv1 = lambda **kwargs: pytest.fail("the detector must not be built without cached weights")
    utils, io = types.ModuleType("feat.utils"), types.ModuleType("feat.utils.io")
    io.get_resource_path = lambda: str(tmp_path)
    fake.utils, utils.io = utils, io
    for name, module in (("feat", fake), ("feat.utils", utils), ("feat.utils.io", io)):
        monkeypatch.setitem(sys.modules, name, module)
    assert pyfeat_backend.missing_pyfeat_weights(tmp_path) == [f"{r}/{f}" for r, f, _ in pyfeat_backend.PYFEAT_WEIGHTS]
    with pytest.raises(ModelUnavailableError) as info:
        PyFeatExtractor(fps=15.0, device="cpu")
    message = str(info.value)
    assert "py-feat/retinaface_r34/model.safetensors" in message and "py-feat/xgb_au" in message
    assert str(tmp_path) in message and "visual.backend: mediapipe" in message

    # The same files laid out as hf_hub_download(cache_dir=...) stores them count as present (fallback names too).
    for repo, filename, fallback in pyfeat_backend.PYFEAT_WEIGHTS:
        root = tmp_path / ("models--" + repo.replace("/", "--"))
        (root / "refs").mkdir(parents=True, exist_ok=True)
        (root / "refs" / "main").write_text("0" * 40)
        snapshot = root / "snapshots" / ("0" * 40)
        snapshot.mkdir(parents=True, exist_ok=True)
        (snapshot / (fallback or filename)).write_bytes(b"weights")
    assert pyfeat_backend.missing_pyfeat_weights(tmp_path) == []
    ex = PyFeatExtractor(fps=15.0, device="cpu")  # the detector itself is built lazily, at the first clip
    assert ex.describe()["extractor"] == "py-feat" and ex.describe()["pyfeat_version"] == "2.1.5"
    assert len(ex.dim_names) == 30 and ex.dim_names[:2] == ["AU01", "AU02"]


def install_fake_feat(monkeypatch, tmp_path, detector_class) -> None:
    """A stand-in ``feat`` package with all weights 'cached', so PyFeatExtractor's own logic can run here."""
    fake = types.ModuleType("feat")
    fake.__version__ = "2.1.5"
    fake.Detectorv1 = detector_class
    utils, io = types.ModuleType("feat.utils"), types.ModuleType("feat.utils.io")
    io.get_resource_path = lambda: str(tmp_path)
    fake.utils, utils.io = utils, io
    for name, module in (("feat", fake), ("feat.utils", utils), ("feat.utils.io", io)):
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(pyfeat_backend, "missing_pyfeat_weights", lambda cache_dir: [])


def test_pyfeat_rows_map_to_frames(tmp_path, monkeypatch) -> None:
    """py-feat's table (one row per face, a NaN row per faceless frame) becomes one row per frame."""
    pd = pytest.importorskip("pandas")
    from huggingface_hub import constants as hf_constants

    columns = pyfeat_backend.PYFEAT_AUS + pyfeat_backend.PYFEAT_EMOTIONS + pyfeat_backend.PYFEAT_POSE
    seen = {}

    class FakeDetector:
        def __init__(self, **kwargs):
            seen["kwargs"], seen["offline"] = kwargs, hf_constants.HF_HUB_OFFLINE

        def detect(self, batch, data_type, batch_size, progress_bar, face_detection_threshold):
            assert data_type == "tensor" and batch.dtype.is_floating_point is False and batch.shape[1] == 3
            rows = []
            for k in range(batch.shape[0]):
                if k % 3 == 2:  # no face: py-feat emits one NaN placeholder row
                    rows.append({"frame": k, "FaceScore": np.nan, **{c: np.nan for c in columns}})
                    continue
                rows.append({"frame": k, "FaceScore": 0.9, **{c: 0.5 for c in columns}})
                rows.append({"frame": k, "FaceScore": 0.6, **{c: 0.1 for c in columns}})  # a weaker second face
            return pd.DataFrame(rows)

    install_fake_feat(monkeypatch, tmp_path, FakeDetector)
    was_offline = hf_constants.HF_HUB_OFFLINE
    clip = write_faceless_clip(tmp_path / "gradient.mp4", seconds=1.0, fps=10)
    ex = visual_extractor("pyfeat", fps=None, device="cpu", max_side=640)
    ex.batch_size = 4
    seq = ex.extract(clip)
    assert seen["offline"] is True and hf_constants.HF_HUB_OFFLINE == was_offline
    assert seen["kwargs"]["identity_model"] is None and seen["kwargs"]["device"] == "cpu"
    assert seq.values.shape == (10, 30) and seq.values.dtype == np.float32
    expected = np.array([(k % 4) % 3 != 2 for k in range(10)])  # frame index restarts in every batch of 4
    np.testing.assert_array_equal(seq.valid, expected)
    assert np.allclose(seq.values[seq.valid], 0.5) and not seq.values[~seq.valid].any()
    assert seq.info["face_frames"] == int(expected.sum())


def test_pyfeat_detector_build_failure_is_model_unavailable(tmp_path, monkeypatch) -> None:
    def broken(**kwargs):
        raise RuntimeError("operator torchvision::nms does not exist")

    install_fake_feat(monkeypatch, tmp_path, broken)
    clip = write_faceless_clip(tmp_path / "gradient.mp4", seconds=0.5, fps=10)
    with pytest.raises(ModelUnavailableError, match="torchvision::nms.*visual.backend: mediapipe"):
        visual_extractor("pyfeat", fps=None).extract(clip)
