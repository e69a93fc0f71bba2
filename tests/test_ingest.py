"""Ingest: label-sheet validation and clip probing, with every bad input quarantined or refused with a reason."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mfon.atomic import read_tsv
from mfon.errors import SheetError
from mfon.manifest import MANIFEST_COLUMNS, ingest, write_ingest

from mediafactory import truncate, write_clip

HEADER = ["video_id", "clip_id", "text", "label", "label_T", "label_A", "label_V", "annotation", "mode"]


def write_sheet(root: Path, rows: list[dict], header=HEADER) -> Path:
    path = root / "label.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({"text": "it was good", "label": "1.0", "mode": "train", **row})
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A dataset with good clips and one of each kind of bad input."""
    root = tmp_path_factory.mktemp("ds")
    raw = root / "Raw"
    write_clip(raw / "v1" / "1.mp4", 1.0)
    write_clip(raw / "v1" / "007.mp4", 1.0)
    write_clip(raw / "v2" / "1.mp4", 1.0)
    truncate(write_clip(raw / "v2" / "truncated.mp4", 1.0))
    (raw / "v2" / "empty.mp4").write_bytes(b"")
    write_clip(raw / "v3" / "silent_film.mp4", 1.0, audio=False)
    write_clip(raw / "v3" / "nan.mp4", 1.0)
    rows = [
        {"video_id": "v1", "clip_id": "1", "label": "-2.4", "mode": "train"},
        {"video_id": "v1", "clip_id": "007", "label": "0", "mode": "valid"},
        {"video_id": "v2", "clip_id": "1", "label": "3.0", "mode": "test"},
        {"video_id": "v2", "clip_id": "truncated"},
        {"video_id": "v2", "clip_id": "empty"},
        {"video_id": "v3", "clip_id": "silent_film"},
        {"video_id": "v3", "clip_id": "missing"},
        {"video_id": "v3", "clip_id": "nan", "label": "nan"},
        {"video_id": "..", "clip_id": "passwd"},
        {"video_id": "v1", "clip_id": "../../x"},
        {"video_id": "v1", "clip_id": "big", "label": "4.5"},
        {"video_id": "v1", "clip_id": "split", "mode": "dev"},
    ]
    write_sheet(root, rows)
    return root


def run(root: Path, **kwargs):
    return ingest(root / "label.csv", root, **kwargs)


def test_good_clips_kept_with_probe_fields_and_string_ids(dataset):
    result = run(dataset)
    kept = {r["key"]: r for r in result.manifest}
    assert set(kept) == {"v1$_$1", "v1$_$007", "v2$_$1"}
    assert kept["v1$_$007"]["clip_id"] == "007"  # ids stay strings
    assert kept["v1$_$1"]["label"] == "-2.4" and kept["v2$_$1"]["label"] == "3.0"
    assert kept["v1$_$1"]["video_codec"] == "h264" and kept["v1$_$1"]["audio_codec"] == "aac"
    assert kept["v1$_$1"]["duration_s"] == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("key,fragment", [
    ("v2$_$truncated", "cannot be opened"),
    ("v2$_$empty", "empty (0 bytes)"),
    ("v3$_$silent_film", "no audio stream"),
    ("v3$_$missing", "missing"),
    ("v3$_$nan", "not a finite number"),
    ("..$_$passwd", "escape the dataset root"),
    ("v1$_$../../x", "escape the dataset root"),
    ("v1$_$big", "outside the dataset's range"),
    ("v1$_$split", "not a known split"),
])
def test_each_bad_clip_is_quarantined_with_its_reason(dataset, key, fragment):
    rejected = {r["key"]: r for r in run(dataset).rejected}
    assert key in rejected, f"{key} was not quarantined"
    assert fragment in rejected[key]["reason"]
    if rejected[key]["stage"] == "probe":
        assert key.split("$_$")[1] in rejected[key]["reason"]  # the message names the file


def test_nothing_is_dropped_silently(dataset, tmp_path):
    result = run(dataset)
    write_ingest(result, tmp_path / "manifest.tsv", tmp_path / "rejected.tsv")
    manifest, rejected = read_tsv(tmp_path / "manifest.tsv"), read_tsv(tmp_path / "rejected.tsv")
    with open(dataset / "label.csv", newline="") as fh:
        n_rows = sum(1 for _ in csv.DictReader(fh))
    assert len(manifest) + len(rejected) == n_rows
    assert list(manifest[0]) == MANIFEST_COLUMNS


def test_fail_policy_stops_and_lists_every_bad_clip(dataset):
    with pytest.raises(SheetError) as err:
        run(dataset, on_bad_clip="fail")
    assert "9 bad clip(s)" in str(err.value)
    assert "v3$_$silent_film" in str(err.value) and "v2$_$empty" in str(err.value)


def test_clip_without_audio_allowed_when_not_required(dataset):
    kept = {r["key"] for r in run(dataset, require_audio=False).manifest}
    assert "v3$_$silent_film" in kept


def test_duplicate_ids_refuse_the_sheet(tmp_path):
    write_sheet(tmp_path, [{"video_id": "a", "clip_id": "1"}, {"video_id": "a", "clip_id": "2"},
                           {"video_id": "a", "clip_id": "1"}])
    with pytest.raises(SheetError, match=r"duplicate .*a/1 \(lines 2 and 4\)"):
        run(tmp_path)


def test_missing_column_and_empty_sheet_refused(tmp_path):
    write_sheet(tmp_path, [{"video_id": "a", "clip_id": "1"}], header=["video_id", "clip_id", "text", "mode"])
    with pytest.raises(SheetError, match=r"missing required column\(s\) \['label'\]"):
        run(tmp_path)
    write_sheet(tmp_path, [])
    with pytest.raises(SheetError, match="no rows"):
        run(tmp_path)
    with pytest.raises(SheetError, match="not found"):
        ingest(tmp_path / "nope.csv", tmp_path)


def test_all_bad_is_an_error_not_an_empty_manifest(tmp_path):
    write_sheet(tmp_path, [{"video_id": "a", "clip_id": "1"}])
    with pytest.raises(SheetError, match="no usable clip"):
        run(tmp_path)


def test_real_mosi_clip_probes(shared_data, tmp_path):
    raw = tmp_path / "Raw" / "Oz06ZWiO20M"
    raw.mkdir(parents=True)
    (raw / "6.mp4").symlink_to(shared_data / "mosi_clips" / "Oz06ZWiO20M_6.mp4")
    write_sheet(tmp_path, [{"video_id": "Oz06ZWiO20M", "clip_id": "6", "label": "-0.8"}])
    (row,) = run(tmp_path).manifest
    assert row["audio_sample_rate"] == 44100 and row["audio_channels"] == 2
    assert row["duration_s"] == pytest.approx(7.5, abs=0.1)
