"""Ingest: label-sheet validation and clip probing, with every bad input quarantined or refused with a reason."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mfon.tsv import read_tsv
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


# ------------------------------------------------------------------ label.csv rows that a CSV reader gets wrong
PLAIN_HEADER = "video_id,clip_id,text,label,mode\n"


def _raw_sheet(root: Path, body: str) -> Path:
    for clip in ("1", "2", "3", "4"):
        if not (root / "Raw" / "v" / f"{clip}.mp4").exists():
            write_clip(root / "Raw" / "v" / f"{clip}.mp4", 0.5)
    (root / "label.csv").write_text(PLAIN_HEADER + body, encoding="utf-8")
    return root / "label.csv"


def test_unterminated_quote_refuses_the_sheet_with_its_line(tmp_path):
    # Without the check, row 2's open quote swallows rows 3 and 4 and the run succeeds with one clip.
    _raw_sheet(tmp_path, 'v,1,fine,1.0,train\nv,2,"she said hi,1.0,train\nv,3,ok,0.5,test\nv,4,ok,0.5,valid\n')
    with pytest.raises(SheetError, match=r"label.csv: line 3: a double-quoted value runs over a line break on to "
                                         r"line 5.*unterminated double quote"):
        run(tmp_path)


def test_unterminated_quote_on_the_last_row_refuses_the_sheet(tmp_path):
    _raw_sheet(tmp_path, 'v,1,fine,1.0,train\nv,2,"she said hi,1.0,train\n')
    with pytest.raises(SheetError, match=r"line 3: .* to the end of the file"):
        run(tmp_path)


def test_unquoted_comma_is_reported_as_too_many_fields_with_the_line(tmp_path):
    _raw_sheet(tmp_path, 'v,1,fine,1.0,train\nv,2,well, it was fine,1.0,train\nv,3,"ok, quoted",0.5,test\n'
                         'v,4,short,0.5\n')
    result = run(tmp_path)
    rejected = {r["key"]: r["reason"] for r in result.rejected}
    assert rejected["v$_$2"] == ("line 3 has 6 fields but the header has 5 (an unquoted comma inside a value? "
                                 "put the transcript in double quotes)")
    assert rejected["v$_$4"] == "line 5 has 4 fields but the header has 5"
    assert next(r for r in result.rejected if r["key"] == "v$_$2")["mode"] == ""  # not the shifted "1.0"
    assert {r["key"] for r in result.manifest} == {"v$_$1", "v$_$3"}
    assert next(r for r in result.manifest if r["key"] == "v$_$3")["text"] == "ok, quoted"


@pytest.mark.parametrize("raw,reason", [
    ("1_0", "label '1_0' is not a plain decimal number"),
    ("0x1", "label '0x1' is not a plain decimal number"),
    ("infinity", "label is 'infinity', not a finite number"),
    ("٣", "label '٣' is not a plain decimal number"),  # float() reads Arabic-Indic digits
])
def test_labels_must_be_plain_decimal_numbers(tmp_path, raw, reason):
    _raw_sheet(tmp_path, f"v,1,fine,1.0,train\nv,2,fine,{raw},train\n")
    result = run(tmp_path)
    assert {r["key"]: r["reason"] for r in result.rejected} == {"v$_$2": reason}


@pytest.mark.parametrize("raw,stored", [("-2.4", "-2.4"), ("+1", "1.0"), ("1.", "1.0"), (".5", "0.5"),
                                        ("-0", "-0.0"), ("2e-1", "0.2")])
def test_plain_decimal_labels_are_accepted(tmp_path, raw, stored):
    _raw_sheet(tmp_path, f"v,1,fine,{raw},train\n")
    (row,) = run(tmp_path).manifest
    assert row["label"] == stored


def test_every_data_row_is_in_the_manifest_or_rejected(tmp_path):
    """Blank lines are not rows; every other line of the sheet ends up in exactly one of the two tables."""
    body = ('v,1,fine,1.0,train\n\nv,2,well, it was fine,1.0,train\nv,3,"ok, ""quoted""",0.5,test\n'
            'v,4,ok,1_0,valid\nv,5,no media,1.0,train\n')
    _raw_sheet(tmp_path, body)
    result = run(tmp_path)
    keys = [r["key"] for r in result.manifest] + [r["key"] for r in result.rejected]
    assert sorted(keys) == [f"v$_${i}" for i in range(1, 6)]


# ------------------------------------------------------------------ headers and ids that would mislabel clips
def test_a_header_that_repeats_a_column_refuses_the_sheet(tmp_path):
    # Without the check the second `label` silently wins: 1.5 would be stored as -3.
    write_clip(tmp_path / "Raw" / "v" / "1.mp4", 0.5)
    (tmp_path / "label.csv").write_text("video_id,clip_id,text,label,mode,label\nv,1,fine,1.5,train,-3\n",
                                        encoding="utf-8")
    with pytest.raises(SheetError, match=r"label.csv: the header names a column more than once \('label' in "
                                         r"columns 4 and 6\)"):
        run(tmp_path)


def test_ids_that_join_to_the_same_key_are_both_quarantined(tmp_path):
    # ("a$_", "b") and ("a", "_$b") both join to "a$_$_$b": each row is refused, neither can shadow the other.
    for video_id, clip_id in (("a$_", "b"), ("a", "_$b"), ("v", "1")):
        write_clip(tmp_path / "Raw" / video_id / f"{clip_id}.mp4", 0.5)
    write_sheet(tmp_path, [{"video_id": "a$_", "clip_id": "b"}, {"video_id": "a", "clip_id": "_$b"},
                           {"video_id": "v", "clip_id": "1"}])
    result = run(tmp_path)
    assert [r["key"] for r in result.manifest] == ["v$_$1"]
    rejected = [(r["video_id"], r["clip_id"], r["reason"]) for r in result.rejected]
    assert [(v, c) for v, c, _ in rejected] == [("a$_", "b"), ("a", "_$b")]
    for video_id, clip_id, reason in rejected:
        assert reason.startswith(f"video_id {video_id!r} and clip_id {clip_id!r} join to the key 'a$_$_$b'")


def test_an_id_with_surrounding_spaces_is_refused_not_trimmed(tmp_path):
    # The clip exists under its padded name; trimming would report it missing at Raw/padded/2.mp4.
    write_clip(tmp_path / "Raw" / " padded " / "2.mp4", 0.5)
    write_clip(tmp_path / "Raw" / "v" / "1.mp4", 0.5)
    write_sheet(tmp_path, [{"video_id": " padded ", "clip_id": "2"}, {"video_id": "v", "clip_id": "1"}])
    result = run(tmp_path)
    assert [r["key"] for r in result.manifest] == ["v$_$1"]
    (row,) = result.rejected
    assert (row["video_id"], row["key"]) == (" padded ", " padded $_$2")
    assert row["reason"].startswith("video_id ' padded ' begins or ends with white space: ids are used exactly "
                                    "as written")


# ------------------------------------------------------------------ large sheets: a summary in the log, memory declared
def test_rejected_rows_are_summarised_in_the_log_and_listed_in_full_in_rejected_tsv(tmp_path, caplog):
    write_clip(tmp_path / "Raw" / "v" / "1.mp4", 0.5)
    rows = [{"video_id": "v", "clip_id": "1"}] + [{"video_id": "w", "clip_id": str(i)} for i in range(30)] \
        + [{"video_id": "x", "clip_id": str(i), "label": "nan"} for i in range(5)]
    write_sheet(tmp_path, rows)
    with caplog.at_level("WARNING", logger="mfon.manifest"):
        result = run(tmp_path)
    write_ingest(result, tmp_path / "manifest.tsv", tmp_path / "rejected.tsv")
    assert len(read_tsv(tmp_path / "rejected.tsv")) == 35
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "rejected 35 of 36 rows: 30 x media file is missing, 5 x label is …, not a finite number"
    assert len(lines) == 1 + 10 + 1 and lines[1] == "rejected x$_$0: label is 'nan', not a finite number"
    assert lines[-1] == "... and 25 more: rejected.tsv lists every one with its reason"


def test_the_memory_ingest_declares_grows_with_the_sheet(tmp_path):
    from mfon.manifest import ingest_mem_mb

    small = write_sheet(tmp_path, [{"video_id": "v", "clip_id": str(i)} for i in range(100)])
    assert ingest_mem_mb(small) == 1000 and ingest_mem_mb(tmp_path / "absent.csv") == 1000
    big = tmp_path / "big.csv"
    with open(big, "w", encoding="utf-8") as fh:  # the shape of a million-row sheet: 85 MB
        fh.write("video_id,clip_id,text,label,mode\n")
        fh.writelines(f"vid{i:07d},{i % 20},and it was a really rather good film in the end,1.5,train\n"
                      for i in range(1_000_000))
    # benchmarks/ingest_scale.py measured 1.4 GB for such a sheet; the declaration keeps a margin
    assert 1_600 < ingest_mem_mb(big) < 3_000


def test_ingest_scale_benchmark_prints_time_and_peak_memory_against_the_declaration():
    import subprocess
    import sys

    from conftest import PROJECT_ROOT

    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks" / "ingest_scale.py"), "--rows", "3000"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "sheet: 3,006 rows" in proc.stdout and "kept 6, rejected 3,000" in proc.stdout
    assert "the rule declares mem_mb=1000 (within it)" in proc.stdout, proc.stdout


def test_rejected_rows_are_counted_on_the_console_with_the_file_that_lists_them(tmp_path, caplog):
    # 6 rows, 2 rejected: the console said only "probing clips: 5/5" (one was rejected before probing)
    from mfon.logutil import PROGRESS_LOGGER
    from mfon.manifest import ingest_to_files

    for clip in "12346":
        write_clip(tmp_path / "Raw" / "v" / f"{clip}.mp4", 0.5)
    rows = [{"video_id": "v", "clip_id": c} for c in "12345"] + [{"video_id": "v", "clip_id": "6", "label": "x"}]
    sheet = write_sheet(tmp_path, rows)
    rejected = tmp_path / "qc" / "rejected.tsv"
    with caplog.at_level("INFO", logger=PROGRESS_LOGGER):
        ingest_to_files(sheet, tmp_path, tmp_path / "manifest.tsv", rejected, tmp_path / "refused.tsv")
    console = [r.getMessage() for r in caplog.records if r.name == PROGRESS_LOGGER]
    assert len(console) == 2 and console[0].startswith("probing clips: 5/5"), console
    assert console[1] == ("rejected 2 of 6 rows (1 x label … is not a plain decimal number, 1 x media file is "
                          f"missing): every one with its reason in {rejected}")
    assert len(read_tsv(rejected)) == 2
