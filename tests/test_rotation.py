"""Phone-style clips stored sideways with a display-matrix rotation are analysed upright, and the manifest says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mfon.features.face_geometry import descriptor_names
from mfon.features.registry import create_extractor
from mfon.media import iter_video_frames, probe

from mediafactory import write_frames

NAMES = descriptor_names()
IDX = {name: i for i, name in enumerate(NAMES)}
POSE = [IDX["head_yaw"], IDX["head_pitch"], IDX["head_roll"]]
SHAPE = [i for name, i in IDX.items() if name not in ("head_yaw", "head_pitch", "head_roll")]


def marker_frames(n: int = 6, size=(64, 48)) -> list[np.ndarray]:
    """Frames with a bright block in the top-left corner (where "up" is can be read off)."""
    frames = []
    for i in range(n):
        img = np.full((size[1], size[0], 3), 40, np.uint8)
        img[:16, :24] = 230
        img[-8:, :, 1] = 10 * i
        frames.append(img)
    return frames


# np.rot90(x, k) turns counter-clockwise, so a frame stored turned by -k quarter turns and tagged with a
# rotation of k quarter turns is shown upright.
@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotated_clip_decodes_upright_and_probe_reports_it(tmp_path, rotation):
    upright = marker_frames()
    stored = [np.rot90(f, -rotation // 90) for f in upright]
    path = write_frames(tmp_path / "phone.mp4", stored, rotation=rotation)
    info = probe(path, require_audio=False)
    assert info.rotation == rotation
    assert (info.width, info.height) == (64, 48)  # as displayed
    decoded = [rgb for _, rgb in iter_video_frames(path)]
    assert len(decoded) == len(upright)
    for got, want in zip(decoded, upright):
        assert got.shape == want.shape and got.flags.c_contiguous
        assert np.abs(got.astype(int) - want.astype(int)).mean() < 4  # lossy H.264, same picture
    assert decoded[0][:16, :24].mean() > 200 and decoded[0][16:40, 30:].mean() < 60  # the block is top-left


def test_untagged_clip_reports_no_rotation(tmp_path):
    path = write_frames(tmp_path / "plain.mp4", marker_frames())
    assert probe(path, require_audio=False).rotation == 0


@pytest.fixture(scope="module")
def face_frames(shared_data) -> list[np.ndarray]:
    """2 s of a real talking face at half size, upright."""
    frames = [rgb[::2, ::2] for t, rgb in iter_video_frames(shared_data / "faces" / "single_face.mp4", 10.0)]
    return frames[:20]


@pytest.mark.parametrize("rotation", [-90, 90])
def test_sideways_phone_clip_gives_the_descriptors_of_the_upright_clip(tmp_path, face_frames, rotation):
    upright = write_frames(tmp_path / "upright.mp4", face_frames)
    stored = [np.rot90(f, -rotation // 90) for f in face_frames]
    tagged = write_frames(tmp_path / "tagged.mp4", stored, rotation=rotation)
    untagged = write_frames(tmp_path / "untagged.mp4", stored)
    ex = create_extractor("visual", {"backend": "mediapipe", "fps": 10.0})
    try:
        ref, got, sideways = (ex.extract(p) for p in (upright, tagged, untagged))
    finally:
        ex.close()
    assert ref.valid.mean() > 0.9 and got.valid.mean() > 0.9
    both = ref.valid & got.valid
    roll_ref, roll_got = ref.values[both, IDX["head_roll"]], got.values[both, IDX["head_roll"]]
    # Measured: roll within 0.13 degrees, other descriptors mean 0.0016 / max 0.011 (re-encoding noise).
    assert np.abs(roll_got - roll_ref).max() < 1.0  # degrees
    diff = np.abs(got.values[both][:, SHAPE] - ref.values[both][:, SHAPE])
    assert diff.mean() < 0.005 and diff.max() < 0.03
    # The same clip without the tag is what the pipeline used to analyse: the head lies on its side.
    assert sideways.valid.mean() > 0.9
    roll_side = np.median(sideways.values[sideways.valid, IDX["head_roll"]])
    assert abs(abs(roll_side - np.median(roll_ref)) - 90) < 5


def test_manifest_records_the_rotation(tmp_path):
    from mfon.manifest import ingest, write_ingest
    from mfon.tsv import read_tsv

    write_frames(tmp_path / "Raw" / "v" / "phone.mp4", [np.rot90(f, -1) for f in marker_frames()], rotation=90)
    write_frames(tmp_path / "Raw" / "v" / "plain.mp4", marker_frames())
    (tmp_path / "label.csv").write_text("video_id,clip_id,text,label,mode\nv,phone,hi,1.0,train\n"
                                        "v,plain,hi,1.0,train\n")
    result = ingest(tmp_path / "label.csv", tmp_path, require_audio=False)
    write_ingest(result, tmp_path / "manifest.tsv", tmp_path / "rejected.tsv")
    rows = {r["clip_id"]: r for r in read_tsv(tmp_path / "manifest.tsv")}
    assert (rows["phone"]["rotation"], rows["phone"]["width"], rows["phone"]["height"]) == ("90", "64", "48")
    assert rows["plain"]["rotation"] == "0"
