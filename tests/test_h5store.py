"""HDF5 feature files: round trip, no variable-length types, atomic writes, summaries."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from mfon.h5store import SCHEMA_VERSION, FeatureFile, summarize, write_feature_file


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
        assert clip["attrs"] == {"video_id": "v2", "clip_id": "c", "text": "ça va"}
        assert ff.attrs["dim_names"] == ["loudness", "f0"] and ff.attrs["n_clips"] == 3
        assert ff.settings == {"x": [1, 2]}


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
