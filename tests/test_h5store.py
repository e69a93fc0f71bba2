"""HDF5 feature files: round trip, no variable-length types, atomic writes, summaries."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from mfon.cli import main
from mfon.errors import MfonError
from mfon.h5store import (ATTRS_CHECKSUM, SCHEMA_VERSION, FeatureFile, FeatureReadError, summarize, verify,
                          write_feature_file)


def write_example(path, n_clips=3):
    rng = np.random.default_rng(0)
    with write_feature_file(path) as writer:
        writer.set_root_attrs({"schema_version": SCHEMA_VERSION, "modality": "acoustic", "dataset": "t",
                               "dim_names": ["loudness", "f0"], "settings_json": {"x": [1, 2]},
                               "frame_rate": 100.0, "pool_rate": None})
        for i in range(n_clips):
            values = rng.normal(size=(40 + i, 2)).astype(np.float32)
            writer.add_clip(f"v{i}$_$c", {"features": values, "valid": np.ones(40 + i, np.uint8)},
                            {"video_id": f"v{i}", "clip_id": "c", "text": "ça va"})
    return path


def test_round_trip(tmp_path):
    path = write_example(tmp_path / "a.h5")
    with FeatureFile(path) as ff:
        assert ff.keys() == ["v0$_$c", "v1$_$c", "v2$_$c"]
        clip = ff.clip("v2$_$c")
        assert clip["features"].shape == (42, 2) and clip["features"].dtype == np.float32
        assert clip["attrs"] == {"video_id": "v2", "clip_id": "c", "text": "ça va",
                                 ATTRS_CHECKSUM: clip["attrs"][ATTRS_CHECKSUM]}
        assert ff.attrs["dim_names"] == ["loudness", "f0"] and ff.attrs["n_clips"] == 3
        assert ff.settings == {"x": [1, 2]}


def test_the_writer_builds_the_provenance_header(tmp_path):
    from mfon.config import config_hash
    from mfon.h5store import ROOT_ATTRIBUTES
    from mfon.provenance import file_sha256

    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("key\tvideo_id\nv$_$c\tv\n")
    settings = {"feature_set": "eGeMAPSv02", "pool_rate": None}
    with write_feature_file(tmp_path / "a.h5") as writer:
        writer.write_header(modality="acoustic", dataset="t", settings=settings, manifest=manifest,
                            description={"extractor": "opensmile", "dim_names": ["f0"], "frame_rate": 100.0})
        writer.add_clip("v$_$c", {"features": np.zeros((2, 1), np.float32), "valid": np.ones(2, np.uint8)})
    with FeatureFile(tmp_path / "a.h5") as ff:
        assert set(ROOT_ATTRIBUTES) <= set(ff.attrs)
        assert ff.attrs["config_hash"] == config_hash({"modality": "acoustic", **settings})
        assert ff.attrs["manifest_sha256"] == file_sha256(manifest) and ff.settings == settings
        assert ff.attrs["schema_version"] == SCHEMA_VERSION and "mfon" in ff.versions
        assert ff.attrs["extractor"] == "opensmile" and ff.attrs["dim_names"] == ["f0"]


def test_no_variable_length_types_anywhere(tmp_path):
    path = write_example(tmp_path / "a.h5")
    found = []

    def check(name, obj):
        for key, value in obj.attrs.items():
            dtype = obj.attrs.get_id(key).dtype
            if h5py.check_vlen_dtype(dtype) is not None or h5py.check_string_dtype(dtype) is not None \
                    and h5py.check_string_dtype(dtype).length is None:
                found.append(f"{name}@{key}")
        if isinstance(obj, h5py.Dataset) and h5py.check_vlen_dtype(obj.dtype) is not None:
            found.append(name)

    with h5py.File(path) as h5:
        check("/", h5)
        h5.visititems(check)
        assert h5["clips/v0$_$c/features"].compression == "gzip"
    assert found == []


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "b.h5"
    with pytest.raises(RuntimeError):
        with write_feature_file(path) as writer:
            writer.add_clip("k", {"features": np.zeros((3, 2), np.float32)})
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_summary_names_dims_and_clips(tmp_path):
    text = summarize(write_example(tmp_path / "a.h5"))
    assert "clips: 3" in text and "dims (2): loudness, f0" in text and "frames per clip: min 40" in text


# ------------------------------------------------------------------------------------------- damaged files
def flip_byte(path, dataset: str, where: float = 0.5) -> None:
    """Flip one byte inside the first stored chunk of ``dataset`` (as a failing disk or a bad copy would)."""
    with h5py.File(path, "r") as h5:
        info = h5[dataset].id.get_chunk_info(0)
        offset = info.byte_offset + int(info.size * where)
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


def test_every_dataset_carries_a_checksum_and_values_are_unchanged(tmp_path):
    path = write_example(tmp_path / "a.h5")
    rng = np.random.default_rng(0)
    with h5py.File(path) as h5:
        for i in range(3):
            group = h5[f"clips/v{i}$_$c"]
            assert all(group[name].fletcher32 for name in group)
            np.testing.assert_array_equal(group["features"][()], rng.normal(size=(40 + i, 2)).astype(np.float32))


@pytest.mark.parametrize("dataset", ["features", "valid"])  # gzip-compressed / stored as is (40 bytes)
def test_a_flipped_byte_is_an_error_naming_file_clip_and_dataset(tmp_path, dataset):
    path = write_example(tmp_path / "a.h5")
    with h5py.File(path) as h5:
        assert (h5[f"clips/v1$_$c/{dataset}"].compression is None) == (dataset == "valid")
    flip_byte(path, f"clips/v1$_$c/{dataset}")
    with FeatureFile(path) as ff:
        ff.clip("v0$_$c")  # the other clips still read
        with pytest.raises(FeatureReadError) as err:
            ff.group("v1$_$c")[dataset][:10]  # the way training reads a clip's frames
        with pytest.raises(FeatureReadError):
            ff.clip("v1$_$c")
    message = str(err.value)
    assert str(path) in message and "clip v1$_$c" in message and f"dataset {dataset!r}" in message
    assert "damaged" in message


def test_inspect_verify_reads_every_dataset(tmp_path, capsys):
    good, bad = write_example(tmp_path / "good.h5"), write_example(tmp_path / "bad.h5")
    flip_byte(bad, "clips/v2$_$c/valid")
    assert main(["inspect", "--verify", str(good)]) == 0
    assert "verify: 6 datasets and the attributes of 3 clips read back, all intact" in capsys.readouterr().out
    assert main(["inspect", "--verify", str(good), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert "verify: 6 datasets and the attributes of 3 clips read back, 1 damaged" in out
    assert "clip v2$_$c: dataset 'valid' cannot be read" in out
    assert "damaged feature file(s): " in err and "bad.h5 (1 damaged datasets)" in err and "good.h5" not in err
    flip_byte(good, "clips/v0$_$c/features")  # the summary reads the first clip's frames: a clear error too
    assert main(["inspect", str(good)]) == 1
    assert "clip v0$_$c: dataset 'features' cannot be read, the file is damaged" in capsys.readouterr().err


def test_verify_flags_files_written_without_checksums(tmp_path):
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as h5:  # the layout an older mfon wrote: no fletcher32
        h5.attrs["schema_version"] = SCHEMA_VERSION
        h5.create_dataset("clips/k/valid", data=np.ones(10, np.uint8))
    found = verify(path)
    assert (found.n_datasets, found.unchecked, found.unchecked_attrs, found.problems) == (1, 1, 2, [])
    assert "carry no checksum" in found.report(path)
    assert "no attribute checksum in 2 groups (written by an older mfon)" in found.report(path)


def test_training_data_loading_names_the_damaged_file_and_clip(tmp_path):
    from mfon.tsv import write_tsv
    from mfon.data import FeatureSources, load_split
    from mfon.manifest import MANIFEST_COLUMNS
    from mfon.qc import STATUS_COLUMNS

    path = write_example(tmp_path / "visual_features.h5")
    rows = [{"key": f"v{i}$_$c", "video_id": f"v{i}", "clip_id": "c", "mode": "train", "label": "1.0"}
            for i in range(3)]
    write_tsv(tmp_path / "manifest.tsv", rows, MANIFEST_COLUMNS)
    write_tsv(tmp_path / "clip_status.tsv", [{**r, "usable": 1} for r in rows], STATUS_COLUMNS)
    sources = FeatureSources(manifest=tmp_path / "manifest.tsv", clip_status=tmp_path / "clip_status.tsv",
                             text=tmp_path / "none.h5", visual=path, acoustic=tmp_path / "none.h5")
    assert len(load_split(sources, "train", max_len={"visual": 50}, modalities=("visual",)).keys) == 3
    flip_byte(path, "clips/v2$_$c/features")
    with pytest.raises(FeatureReadError, match=r"visual_features.h5: clip v2\$_\$c: dataset 'features'"):
        load_split(sources, "train", max_len={"visual": 50}, modalities=("visual",))


# ------------------------------------------------------------------ damaged structure and attributes
def _flipped_copy(path, offset: int, dest):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    dest.write_bytes(bytes(data))
    return dest


def _read_everything(path) -> None:
    """Every way the pipeline reads a feature file: attributes, the clip list, each clip's arrays and attributes."""
    with FeatureFile(path) as ff:
        for key in ff.keys():
            group = ff.group(key)
            group.attrs
            group["features"][:10]
            ff.clip(key)


def test_a_damaged_b_tree_is_a_message_naming_the_file_not_a_raw_h5py_error(tmp_path):
    path = write_example(tmp_path / "a.h5")
    trees = [i for i in range(len(path.read_bytes())) if path.read_bytes().startswith(b"TREE", i)]
    assert len(trees) >= 4  # the clips group's index and the chunk index of each dataset
    for offset in trees:  # a wrong B-tree signature: h5py raises KeyError or RuntimeError
        damaged = _flipped_copy(path, offset, tmp_path / "damaged.h5")
        with pytest.raises(FeatureReadError) as err:
            _read_everything(damaged)
        assert str(err.value).startswith(f"{damaged}: ") and "the file is damaged" in str(err.value)
        assert str(err.value).endswith("Delete the file and rerun to extract it again")
        found = verify(damaged)
        assert found.problems and all(p.startswith(f"{damaged}: ") for p in found.problems), offset


def test_no_flipped_byte_escapes_as_a_raw_error_or_passes_verify_yet_fails_a_read(tmp_path):
    path = write_example(tmp_path / "a.h5")
    outcomes = {"intact": 0, "damaged": 0}
    for offset in range(0, len(path.read_bytes()), 41):  # about 600 single-byte flips over the whole file
        damaged = _flipped_copy(path, offset, tmp_path / "damaged.h5")
        found = verify(damaged)  # raises nothing: every failure is a listed problem
        outcomes["damaged" if found.problems else "intact"] += 1
        try:
            _read_everything(damaged)
        except MfonError:
            assert found.problems, f"byte {offset}: verify said intact but a read fails"
    assert outcomes["damaged"] > 20 and outcomes["intact"] > 20


def test_verify_checks_every_clips_attributes(tmp_path, capsys):
    path = write_example(tmp_path / "a.h5")
    data = path.read_bytes()
    assert data.count(b"clip_id") == 3
    offset = data.index(b"clip_id") + 4  # "clip_id" -> "clip\xa0id" (0x5F ^ 0xFF) in the first clip
    damaged = _flipped_copy(path, offset, tmp_path / "name.h5")
    assert main(["inspect", "--verify", str(damaged)]) == 1
    out = capsys.readouterr().out
    assert "1 damaged" in out and f"{damaged}: clip v0$_$c: its attributes (" in out and "do not match" in out
    with h5py.File(path, "r+") as h5:  # a changed value
        h5["clips/v1$_$c"].attrs["clip_id"] = np.bytes_(b"d")
    (problem,) = verify(path).problems
    assert problem.startswith(f"{path}: clip v1$_$c: its attributes ('clip_id', 'text', 'video_id') do not match")
    with h5py.File(path, "r+") as h5:  # the root's attributes are checked too
        h5.attrs["frame_rate"] = 50.0
    assert verify(path).problems[0].startswith(f"{path}: its root attributes (")


def test_merged_shards_keep_valid_attribute_checksums(tmp_path):
    from mfon.extraction import merge_shards
    from mfon.manifest import MANIFEST_COLUMNS
    from mfon.tsv import write_tsv

    shard = write_example(tmp_path / "shard.h5")
    write_tsv(tmp_path / "manifest.tsv", [{"key": f"v{i}$_$c"} for i in range(3)], MANIFEST_COLUMNS)
    write_tsv(tmp_path / "report.tsv", [], ["key"])
    with h5py.File(shard, "r+") as h5:
        h5.attrs["config_hash"] = np.bytes_(b"h")
        del h5.attrs[ATTRS_CHECKSUM]
    merge_shards(tmp_path / "manifest.tsv", [shard], [tmp_path / "report.tsv"], tmp_path / "merged.h5",
                 tmp_path / "merged.tsv")
    found = verify(tmp_path / "merged.h5")
    assert (found.problems, found.unchecked_attrs) == ([], 0)
