"""Importing OpenFace / iMotions-FACET exports as visual features: real exports, edge cases, the driver."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

import mfon.extraction
from mfon.tsv import read_tsv, write_tsv
from mfon.errors import ClipError, ConfigError
from mfon.h5store import FeatureFile
from mfon.features.facial_csv import (
    FACET_AU_EVIDENCE,
    FACET_EVIDENCE,
    FACET_POSE,
    OPENFACE_AU_INTENSITY,
    OPENFACE_AU_PRESENCE,
    FacetExportExtractor,
    OpenFaceCSVExtractor,
    read_export_table,
)
from mfon.features.registry import create_extractor
from mfon.manifest import MANIFEST_COLUMNS, clip_key

OPENFACE_FILE = "facial_csv/OpenFace_Test.csv"
FACET_FILE = "facial_csv/iMotions_Test_v6.txt"
VIDEO, CLIP = "vidA", "clip_3"


def media(tmp_path: Path, video: str = VIDEO, clip: str = CLIP) -> Path:
    """The manifest's media path of a clip (the media file itself is never opened)."""
    return tmp_path / "dataset" / "Raw" / video / f"{clip}.mp4"


def place(source: Path, root: Path, ext: str, video: str = VIDEO, clip: str = CLIP) -> Path:
    target = root / video / f"{clip}.{ext}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def read_openface_reference(path: Path) -> tuple[list[str], list[list[str]]]:
    """The real OpenFace CSV read independently: stripped names, rows of strings."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return [c.strip() for c in rows[0]], rows[1:]


def read_facet_reference(path: Path) -> tuple[list[str], list[list[str]]]:
    """The real iMotions export read independently: the first non-comment, non-blank line is the header."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    rows = [ln.split("\t") for ln in lines]
    return [c.strip() for c in rows[0]], rows[1:]


def write_openface(path: Path, rows: list[dict], columns: list[str]) -> Path:
    """A small OpenFace-style CSV (names written with OpenFace's leading space)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ", ".join(["frame", "timestamp", "confidence", "success", *columns])
    lines = [header]
    for i, row in enumerate(rows):
        cells = [str(i + 1), str(row.get("timestamp", i / 30)), str(row.get("confidence", 0.98)),
                 str(row.get("success", 1))] + [str(row.get(c, 0.5)) for c in columns]
        lines.append(", ".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def openface_root(tmp_path, shared_data) -> Path:
    root = tmp_path / "openface"
    place(shared_data / OPENFACE_FILE, root, "csv")
    return root


@pytest.fixture
def facet_root(tmp_path, shared_data) -> Path:
    root = tmp_path / "facet"
    place(shared_data / FACET_FILE, root, "txt")
    return root


# --- the real OpenFace export ------------------------------------------------------------------------------------
def test_openface_real_au_intensity(tmp_path, openface_root, shared_data):
    ex = OpenFaceCSVExtractor(fps=None, csv_root=openface_root)
    assert ex.modality == "visual" and ex.frame_rate == 0.0
    assert ex.dim_names == OPENFACE_AU_INTENSITY and len(ex.dim_names) == 17
    seq = ex.extract(media(tmp_path))

    names, rows = read_openface_reference(shared_data / OPENFACE_FILE)
    assert len(rows) == 100
    expected = np.array([[float(r[names.index(c)]) for c in OPENFACE_AU_INTENSITY] for r in rows], dtype=np.float32)
    success = np.array([float(r[names.index("success")]) == 1 for r in rows])
    assert seq.values.shape == (100, 17) and seq.values.dtype == np.float32
    np.testing.assert_array_equal(seq.values, expected)
    np.testing.assert_array_equal(seq.valid, success)
    # Time stamps advance 0.001 s per frame in this export: 1000 frames per second.
    times = np.array([float(r[names.index("timestamp")]) for r in rows])
    assert seq.frame_rate == pytest.approx(1 / np.median(np.diff(times))) == pytest.approx(1000.0)
    assert seq.info["n_frames"] == 100 and seq.info["face_frames"] == int(success.sum())
    assert seq.info["face_fraction"] == pytest.approx(success.mean())
    assert seq.info["source_file"] == str(openface_root / VIDEO / f"{CLIP}.csv")
    assert seq.info["source_frame_rate"] == pytest.approx(1000.0)

    described = ex.describe()
    assert described["extractor"] == "openface-csv" and described["feature_set"] == "au_intensity"
    assert described["columns"] == OPENFACE_AU_INTENSITY and described["csv_root"] == str(openface_root.resolve())


def test_openface_real_presets(tmp_path, openface_root, shared_data):
    names, rows = read_openface_reference(shared_data / OPENFACE_FILE)
    counts = {"au_presence": 18, "au_all": 35, "pose": 6, "pose_rotation": 3, "gaze": 6}
    for preset, n in counts.items():
        ex = OpenFaceCSVExtractor(fps=None, csv_root=openface_root, columns=preset)
        seq = ex.extract(media(tmp_path))
        assert seq.values.shape == (100, n), preset
        assert all(name in names for name in ex.dim_names)
        col = names.index(ex.dim_names[-1])
        np.testing.assert_allclose(seq.values[:, -1], [float(r[col]) for r in rows], rtol=1e-6)
    presence = OpenFaceCSVExtractor(fps=None, csv_root=openface_root, columns="au_presence")
    assert presence.dim_names == OPENFACE_AU_PRESENCE
    # all_numeric: every column of the first export except frame/timestamp/confidence/success.
    ex = OpenFaceCSVExtractor(fps=None, csv_root=openface_root, columns="all_numeric")
    assert len(ex.dim_names) == 431 - 4 and ex.dim_names[0] == "gaze_0_x" and ex.dim_names[-1] == "AU45_c"
    assert ex.extract(media(tmp_path)).values.shape == (100, 427)
    # This export predates OpenFace's gaze_angle_x/y columns: asking for them quarantines the clip by name.
    with pytest.raises(ClipError, match="gaze_angle_x"):
        OpenFaceCSVExtractor(fps=None, csv_root=openface_root, columns="gaze_angle").extract(media(tmp_path))


def test_openface_min_confidence_and_success(tmp_path, openface_root, shared_data):
    names, rows = read_openface_reference(shared_data / OPENFACE_FILE)
    confidence = np.array([float(r[names.index("confidence")]) for r in rows])
    seq = OpenFaceCSVExtractor(fps=None, csv_root=openface_root, min_confidence=0.9).extract(media(tmp_path))
    np.testing.assert_array_equal(seq.valid, confidence >= 0.9)
    assert 0 < seq.valid.sum() < 100
    assert not seq.values[~seq.valid].any()  # invalid frames are zero-filled

    # An edited copy in which OpenFace "lost" the face in frames 10-19: success 0 -> invalid, zero-filled.
    edited = tmp_path / "edited"
    lines = (shared_data / OPENFACE_FILE).read_text().splitlines()
    col = [c.strip() for c in lines[0].split(",")].index("success")
    for i in range(11, 21):
        cells = lines[i].split(",")
        cells[col] = " 0"
        lines[i] = ",".join(cells)
    (edited / VIDEO).mkdir(parents=True)
    (edited / VIDEO / f"{CLIP}.csv").write_text("\n".join(lines) + "\n")
    seq = OpenFaceCSVExtractor(fps=None, csv_root=edited).extract(media(tmp_path))
    assert seq.valid.sum() == 90 and not seq.valid[10:20].any()
    assert not seq.values[10:20].any() and seq.values[9].any()


def test_openface_resampled_to_fps(tmp_path, openface_root, shared_data):
    names, rows = read_openface_reference(shared_data / OPENFACE_FILE)
    ex = OpenFaceCSVExtractor(csv_root=openface_root, fps=15)
    assert ex.frame_rate == 15.0
    seq = ex.extract(media(tmp_path))
    # 0.099 s of export on a 1/15 s grid: t = 0 and t = 0.0667 (nearest row: timestamp 0.067, the 68th).
    assert seq.values.shape == (2, 17) and seq.frame_rate == 15.0 and seq.valid.all()
    cols = [names.index(c) for c in OPENFACE_AU_INTENSITY]
    np.testing.assert_array_equal(seq.values[0], np.float32([float(rows[0][c]) for c in cols]))
    np.testing.assert_array_equal(seq.values[1], np.float32([float(rows[67][c]) for c in cols]))
    assert seq.info["source_rows"] == 100 and seq.info["frame_rate"] == 15.0


# --- the real iMotions / FACET export ---------------------------------------------------------------------------
def test_facet_real_export(tmp_path, facet_root, shared_data):
    names, rows = read_facet_reference(shared_data / FACET_FILE)
    ex = FacetExportExtractor(fps=None, csv_root=facet_root)
    assert ex.dim_names == FACET_EVIDENCE and len(ex.dim_names) == 12
    seq = ex.extract(media(tmp_path))
    assert len(rows) == 519 and seq.values.shape == (519, 12)

    faces = np.array([r[names.index("NoOfFaces")] == "1" for r in rows])
    filled = np.array([r[names.index("Joy Evidence")] != "" for r in rows])
    np.testing.assert_array_equal(faces, filled)  # FACET leaves the cells empty exactly when no face is found
    assert faces.sum() == 304 and (~faces).sum() == 215
    np.testing.assert_array_equal(seq.valid, faces)
    assert not seq.values[~faces].any()
    face_rows = [r for r, face in zip(rows, faces) if face]
    expected = np.array([[float(r[names.index(c)]) for c in FACET_EVIDENCE] for r in face_rows], dtype=np.float32)
    np.testing.assert_array_equal(seq.values[faces], expected)
    # MediaTime is in milliseconds, frames 33-36 ms apart: median 33 ms.
    times = np.array([float(r[names.index("MediaTime")]) for r in rows]) / 1000
    assert seq.frame_rate == pytest.approx(1 / np.median(np.diff(times))) == pytest.approx(1000 / 33)
    assert seq.info["face_frames"] == 304 and seq.info["face_fraction"] == pytest.approx(304 / 519, abs=1e-4)
    assert ex.describe()["extractor"] == "imotions-facet-export"


def test_facet_real_au_and_pose(tmp_path, facet_root, shared_data):
    names, rows = read_facet_reference(shared_data / FACET_FILE)
    au = FacetExportExtractor(fps=None, csv_root=facet_root, columns="au_evidence").extract(media(tmp_path))
    assert au.values.shape == (519, 20) and au.valid.sum() == 304
    ex = FacetExportExtractor(fps=None, csv_root=facet_root, columns="pose")
    assert ex.dim_names == FACET_POSE == ["Yaw Degrees", "Pitch Degrees", "Roll Degrees"]
    pose = ex.extract(media(tmp_path))
    first_face = next(i for i, r in enumerate(rows) if r[names.index("NoOfFaces")] == "1")
    np.testing.assert_allclose(pose.values[first_face], [float(rows[first_face][names.index(c)]) for c in FACET_POSE],
                               rtol=1e-6)
    both = FacetExportExtractor(fps=None, csv_root=facet_root, columns="evidence_au_pose")
    assert both.dim_names == FACET_EVIDENCE + FACET_AU_EVIDENCE + FACET_POSE and len(both.dim_names) == 35


def test_facet_blank_cell_and_decimal_commas(tmp_path, shared_data):
    """Edited copies: one blank evidence cell in a face row; a European-locale export (BOM, decimal commas)."""
    raw = (shared_data / FACET_FILE).read_bytes().decode("utf-8")
    lines = raw.split("\r\n")
    header_at = next(i for i, ln in enumerate(lines) if ln and not ln.startswith("#"))
    names = lines[header_at].split("\t")
    first = header_at + 1  # the first data row has a face
    cells = lines[first].split("\t")
    cells[names.index("Fear Evidence")] = ""
    lines[first] = "\t".join(cells)
    root = tmp_path / "blank"
    (root / VIDEO).mkdir(parents=True)
    (root / VIDEO / f"{CLIP}.txt").write_text("\r\n".join(lines), encoding="utf-8", newline="")
    seq = FacetExportExtractor(fps=None, csv_root=root).extract(media(tmp_path))
    assert not seq.valid[0] and not seq.values[0].any() and seq.valid[1]
    pose = FacetExportExtractor(fps=None, csv_root=root, columns="pose").extract(media(tmp_path))
    assert pose.valid[0]  # the blank cell is not among the selected columns

    comma = tmp_path / "comma"
    (comma / VIDEO).mkdir(parents=True)
    european = "\r\n".join(
        ln if ln.startswith("#") or i <= header_at else ln.replace(".", ",") for i, ln in enumerate(raw.split("\r\n")))
    (comma / VIDEO / f"{CLIP}.txt").write_bytes(b"\xef\xbb\xbf" + european.encode("utf-8"))
    reference = FacetExportExtractor(fps=None, csv_root=tmp_path / "blank").extract(media(tmp_path))
    converted = FacetExportExtractor(fps=None, csv_root=comma).extract(media(tmp_path))
    np.testing.assert_array_equal(converted.values[1:], reference.values[1:])
    assert converted.valid.sum() == 304


def test_facet_resampled_to_fps(tmp_path, facet_root, shared_data):
    names, rows = read_facet_reference(shared_data / FACET_FILE)
    times = np.array([float(r[names.index("MediaTime")]) for r in rows]) / 1000
    seq = FacetExportExtractor(csv_root=facet_root, fps=15).extract(media(tmp_path))
    n = int(np.floor(times[-1] * 15)) + 1
    assert seq.values.shape == (n, 12) and seq.frame_rate == 15.0
    for k in (0, 40, n - 1):
        nearest = int(np.argmin(np.abs(times - k / 15)))
        face = rows[nearest][names.index("NoOfFaces")] == "1"
        assert seq.valid[k] == face
        if face:
            assert seq.values[k, 0] == np.float32(float(rows[nearest][names.index("Joy Evidence")]))


# --- synthetic edge cases ---------------------------------------------------------------------------------------
def test_missing_export_names_the_expected_file(tmp_path):
    root = tmp_path / "exports"
    root.mkdir()
    ex = OpenFaceCSVExtractor(fps=None, csv_root=root)
    with pytest.raises(ClipError) as err:
        ex.extract(media(tmp_path))
    assert str(root.resolve() / VIDEO / f"{CLIP}.csv") in str(err.value)


def test_flat_layout_and_extension(tmp_path):
    root = tmp_path / "exports"
    write_openface(root / f"{VIDEO}_{CLIP}.tsv.csv", [{}, {}], ["AU12_r"])
    ex = OpenFaceCSVExtractor(csv_root=root, columns=["AU12_r"], csv_extension=".tsv.csv", fps=None)
    seq = ex.extract(media(tmp_path))
    assert seq.values.shape == (2, 1) and seq.info["source_file"].endswith(f"{VIDEO}_{CLIP}.tsv.csv")
    # The nested layout wins when both exist.
    write_openface(root / VIDEO / f"{CLIP}.tsv.csv", [{}, {}, {}], ["AU12_r"])
    assert ex.extract(media(tmp_path)).values.shape == (3, 1)


def test_missing_requested_column_is_named(tmp_path):
    root = tmp_path / "exports"
    write_openface(root / VIDEO / f"{CLIP}.csv", [{}, {}], ["AU01_r", "AU12_r"])
    with pytest.raises(ClipError, match="AU02_r"):
        OpenFaceCSVExtractor(fps=None, csv_root=root).extract(media(tmp_path))  # au_intensity needs all 17 AUs
    with pytest.raises(ClipError, match="AU12_c"):
        OpenFaceCSVExtractor(fps=None, csv_root=root, columns=["AU12_r", "AU12_c"]).extract(media(tmp_path))


def test_empty_tables_are_quarantined(tmp_path):
    root = tmp_path / "exports"
    target = write_openface(root / VIDEO / f"{CLIP}.csv", [], ["AU12_r"])
    with pytest.raises(ClipError, match="no data rows") as err:
        OpenFaceCSVExtractor(fps=None, csv_root=root, columns=["AU12_r"]).extract(media(tmp_path))
    assert str(target) in str(err.value)
    facet = tmp_path / "facet"
    (facet / VIDEO).mkdir(parents=True)
    (facet / VIDEO / f"{CLIP}.txt").write_text("#Study : x\r\n#Version : 6\r\n\r\n", encoding="utf-8")
    with pytest.raises(ClipError, match="empty"):
        FacetExportExtractor(fps=None, csv_root=facet).extract(media(tmp_path))
    (facet / VIDEO / f"{CLIP}.txt").write_text("")
    with pytest.raises(ClipError, match=f"{CLIP}.txt"):
        FacetExportExtractor(fps=None, csv_root=facet).extract(media(tmp_path))


def test_custom_columns_and_non_numeric_cells(tmp_path):
    root = tmp_path / "exports"
    rows = [{"AU12_r": 1.5, "pose_Rx": 0.1}, {"AU12_r": "n/a", "pose_Rx": 0.2},
            {"AU12_r": 2.0, "pose_Rx": 0.3, "success": 0}]
    write_openface(root / VIDEO / f"{CLIP}.csv", rows, ["AU12_r", "pose_Rx", "AU06_r"])
    ex = OpenFaceCSVExtractor(csv_root=root, columns=[" pose_Rx", "AU12_r "], fps=None)
    assert ex.dim_names == ["pose_Rx", "AU12_r"] and ex.describe()["feature_set"] == "custom"
    seq = ex.extract(media(tmp_path))
    np.testing.assert_array_equal(seq.valid, [True, False, False])  # a non-numeric cell, then success 0
    np.testing.assert_allclose(seq.values, [[0.1, 1.5], [0, 0], [0, 0]], rtol=1e-6)
    assert seq.frame_rate == pytest.approx(30.0)
    # Presets expand inside a list.
    mixed = OpenFaceCSVExtractor(fps=None, csv_root=root, columns=["pose_rotation", "AU12_r"])
    assert mixed.dim_names == ["pose_Rx", "pose_Ry", "pose_Rz", "AU12_r"]


def test_unordered_and_duplicated_timestamps(tmp_path):
    """Rows are put in time order; of two rows at one time (two faces) the valid, most confident one stays."""
    root = tmp_path / "exports"
    rows = [{"timestamp": 0.2, "AU12_r": 3}, {"timestamp": 0.0, "AU12_r": 1},
            {"timestamp": 0.1, "AU12_r": 2, "confidence": 0.5}, {"timestamp": 0.1, "AU12_r": 9, "confidence": 0.9}]
    write_openface(root / VIDEO / f"{CLIP}.csv", rows, ["AU12_r"])
    seq = OpenFaceCSVExtractor(csv_root=root, columns=["AU12_r"], fps=None).extract(media(tmp_path))
    np.testing.assert_array_equal(seq.values[:, 0], [1, 9, 3])
    assert seq.frame_rate == pytest.approx(10.0)


def test_bad_settings_fail_at_construction(tmp_path):
    root = tmp_path / "exports"
    root.mkdir()
    with pytest.raises(ValueError, match="unknown column preset 'au_everything'"):
        OpenFaceCSVExtractor(fps=None, csv_root=root, columns="au_everything")
    with pytest.raises(ValueError, match="more than once"):
        OpenFaceCSVExtractor(fps=None, csv_root=root, columns=["au_intensity", "AU12_r"])
    with pytest.raises(ValueError, match="min_confidence"):
        OpenFaceCSVExtractor(fps=None, csv_root=root, min_confidence=2)
    with pytest.raises(ValueError, match="fps"):
        FacetExportExtractor(csv_root=root, fps=0)
    with pytest.raises(ConfigError, match="not a directory"):
        FacetExportExtractor(fps=None, csv_root=tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no \\*.csv file"):
        OpenFaceCSVExtractor(fps=None, csv_root=root, columns="all_numeric")


def test_factory(tmp_path):
    root = tmp_path / "exports"
    root.mkdir()
    ex = create_extractor("visual", {"backend": "openface_csv", "csv_root": root, "columns": None,
                                     "csv_extension": None, "fps": None, "min_confidence": 0.5})
    assert isinstance(ex, OpenFaceCSVExtractor) and ex.csv_extension == "csv" and ex.min_confidence == 0.5
    ex = create_extractor("visual", {"backend": "facet_export", "csv_root": root, "columns": "au_evidence",
                                     "fps": 15, "max_side": 640, "device": "cpu"})  # other backends' keys ignored
    assert isinstance(ex, FacetExportExtractor) and ex.csv_extension == "txt" and ex.frame_rate == 15.0
    assert ex.dim_names == FACET_AU_EVIDENCE
    with pytest.raises(ConfigError, match="unknown visual backend 'facet-export'"):
        create_extractor("visual", {"backend": "facet-export", "csv_root": root})


def test_reader_handles_openface_and_imotions_headers(shared_data):
    table = read_export_table(shared_data / OPENFACE_FILE)
    assert table.delimiter == "," and table.columns[:4] == ["frame", "timestamp", "confidence", "success"]
    table = read_export_table(shared_data / FACET_FILE)
    assert table.delimiter == "\t" and len(table.columns) == 90 and len(table.rows) == 519
    assert table.columns[8] == "Timestamp" and "Joy Evidence" in table.columns


# --- through the extraction driver ------------------------------------------------------------------------------
def test_extract_shard_with_openface_importer(tmp_path, openface_root, shared_data, monkeypatch):
    rows = []
    for clip in (CLIP, "clip_without_export"):
        rows.append({"key": clip_key(VIDEO, clip), "video_id": VIDEO, "clip_id": clip, "mode": "train",
                     "label": "0.5", "text": "a clip", "media_path": str(media(tmp_path, clip=clip))})
    manifest = tmp_path / "manifest.tsv"
    write_tsv(manifest, rows, MANIFEST_COLUMNS)
    settings = {"backend": "openface_csv", "csv_root": str(openface_root), "columns": "au_intensity",
                "csv_extension": "csv", "fps": None}
    built = []

    def fake_build(modality, config):
        assert modality == "visual"
        built.append(config)
        return create_extractor(modality, config)

    monkeypatch.setattr(mfon.extraction, "build_extractor", fake_build)
    out, report = tmp_path / "visual.h5", tmp_path / "visual_report.tsv"
    mfon.extraction.extract_shard(manifest, out, report, modality="visual", dataset="toy", settings=settings)
    assert built == [settings]

    names, source = read_openface_reference(shared_data / OPENFACE_FILE)
    expected = np.array([[float(r[names.index(c)]) for c in OPENFACE_AU_INTENSITY] for r in source], dtype=np.float32)
    with FeatureFile(out) as ff:
        assert ff.attrs["extractor"] == "openface-csv" and ff.attrs["feature_set"] == "au_intensity"
        assert ff.attrs["dim_names"] == OPENFACE_AU_INTENSITY and ff.attrs["frame_rate"] == 0.0
        assert ff.keys() == [clip_key(VIDEO, CLIP)]
        clip = ff.clip(clip_key(VIDEO, CLIP))
        np.testing.assert_array_equal(clip["features"], expected)
        assert clip["valid"].shape == (100,) and clip["valid"].all()
        assert clip["attrs"]["face_frames"] == 100 and clip["attrs"]["source_file"].endswith(f"{CLIP}.csv")
        assert clip["attrs"]["frame_rate"] == pytest.approx(1000.0)
    qc = {row["key"]: row for row in read_tsv(report)}
    assert qc[clip_key(VIDEO, CLIP)]["status"] == "ok"
    missing = qc[clip_key(VIDEO, "clip_without_export")]
    assert missing["status"] == "quarantined" and "clip_without_export.csv" in missing["reason"]
