"""MMSA export: the layout MMSA reads, and export -> import gives back the same features, labels and lengths."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mfon.tsv import read_tsv, write_tsv
from mfon.data import FeatureSources
from mfon.errors import MfonError
from mfon.exporters.mmsa import export_mmsa_pickle
from mfon.h5store import FeatureFile
from mfon.importers.mmsa import load_mmsa_pickle, import_mmsa_pickle

from conftest import PROJECT_ROOT
from mmsa_fixtures import write_mmsa_fixture

MAX_LENGTH = {"mosi": 50, "sims": 39}
TEXT_MODEL = "packaged:all-MiniLM-L6-v2"  # the fixtures' ids are bert-base-uncased's, whose vocabulary it shares


def _import(pickle_path: Path, out: Path, dataset: str) -> FeatureSources:
    sources = FeatureSources.for_dataset(out.parent, out.name)
    import_mmsa_pickle(pickle_path, dataset=dataset, out_manifest=sources.manifest,
                       out_rejected=out / "qc" / "rejected.tsv", out_clip_status=sources.clip_status,
                       out_text=sources.text, out_visual=sources.visual, out_acoustic=sources.acoustic,
                       text_mode="pickle_ids", text_settings={"max_length": MAX_LENGTH[dataset]},
                       allow_unknown_sha=True)
    return sources


def _clips(sources: FeatureSources) -> dict:
    out = {}
    for modality in ("text", "visual", "acoustic"):
        with FeatureFile(getattr(sources, modality)) as ff:
            out[modality] = {k: ff.clip(k) for k in ff.keys()}
    return out


@pytest.fixture(params=["mosi", "sims"])
def imported(request, tmp_path):
    """A dataset in the project's own files (made here by importing a synthetic MMSA-layout pickle)."""
    dataset = request.param
    source = write_mmsa_fixture(tmp_path / "source.pkl", dataset, n_per_split=(12, 4, 4), seed=5)
    return dataset, _import(source, tmp_path / "results" / dataset, dataset), tmp_path


def test_export_has_mmsa_layout(imported):
    dataset, sources, tmp_path = imported
    made = export_mmsa_pickle(sources, tmp_path / "mmsa" / "unaligned.pkl", family=dataset, text_model=TEXT_MODEL)
    data = load_mmsa_pickle(tmp_path / "mmsa" / "unaligned.pkl")  # the restricted unpickler admits it
    assert sorted(data) == ["test", "train", "valid"]
    for split, n in (("train", 12), ("valid", 4), ("test", 4)):
        arrays = data[split]
        expected = {"id", "raw_text", "text_bert", "text", "audio", "vision", "audio_lengths", "vision_lengths",
                    "regression_labels", "annotations", "classification_labels"}
        if dataset == "sims":
            expected |= {"regression_labels_T", "regression_labels_A", "regression_labels_V"}
        assert set(arrays) == expected
        assert arrays["text_bert"].shape == (n, 3, MAX_LENGTH[dataset]) and arrays["text_bert"].dtype == np.float32
        # text: the text model's frozen states per token (the packaged MiniLM: 384 wide), 0 at padding
        assert arrays["text"].shape == (n, MAX_LENGTH[dataset], 384) and arrays["text"].dtype == np.float32
        mask = arrays["text_bert"][:, 1].astype(bool)
        assert not arrays["text"][~mask].any() and np.abs(arrays["text"][mask]).sum(axis=-1).min() > 0
        assert arrays["audio"].dtype == np.float32 and arrays["audio"].shape[0] == n
        assert arrays["audio"].shape[1] == made["padded_frames"]["audio"]
        assert arrays["audio_lengths"].max() <= arrays["audio"].shape[1]
        for i, length in enumerate(arrays["vision_lengths"]):
            assert not arrays["vision"][i, length:].any()  # zero padding after each clip's length
        labels = arrays["regression_labels"]
        classes = arrays["classification_labels"]
        if dataset == "mosi":
            np.testing.assert_array_equal(classes, np.sign(labels) + 1)
        else:
            np.testing.assert_array_equal(classes, (labels > -0.1).astype(int) + (labels > 0.1))
        assert set(arrays["annotations"]) <= {"Negative", "Neutral", "Positive"}
    assert made["text"]["width"] == 384 and made["mmsa_config"]["feature_dims"][0] == 384


def test_export_then_import_gives_the_same_features_labels_and_lengths(imported):
    dataset, sources, tmp_path = imported
    export_mmsa_pickle(sources, tmp_path / "mmsa" / "unaligned.pkl", family=dataset, text_model=TEXT_MODEL)
    again = _import(tmp_path / "mmsa" / "unaligned.pkl", tmp_path / "again" / dataset, dataset)
    first, second = read_tsv(sources.manifest), read_tsv(again.manifest)
    columns = ["key", "mode", "label", "text", "label_T", "label_A", "label_V"]
    assert [{c: r[c] for c in columns} for r in first] == [{c: r[c] for c in columns} for r in second]
    a, b = _clips(sources), _clips(again)
    for modality in ("visual", "acoustic"):
        assert list(a[modality]) == list(b[modality])
        for key, clip in a[modality].items():
            np.testing.assert_array_equal(clip["features"], b[modality][key]["features"])
            assert clip["attrs"]["n_frames"] == b[modality][key]["attrs"]["n_frames"]
    for key, clip in a["text"].items():
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            np.testing.assert_array_equal(clip[name], b["text"][key][name])


def test_quarantined_clips_are_left_out_and_truncation_is_recorded(tmp_path):
    source = write_mmsa_fixture(tmp_path / "source.pkl", "mosi", n_per_split=(10, 4, 4), seed=2)
    sources = _import(source, tmp_path / "results" / "mosi", "mosi")
    status = read_tsv(sources.clip_status)
    status[0]["usable"] = "0"
    status[0]["reason"] = "visual: made unusable by the test"
    write_tsv(sources.clip_status, status, list(status[0]))
    made = export_mmsa_pickle(sources, tmp_path / "out.pkl", max_frames={"visual": 7}, text_model=TEXT_MODEL)
    with open(tmp_path / "out.pkl", "rb") as fh:
        data = pickle.load(fh)
    assert status[0]["key"] not in set(data["train"]["id"]) and made["quarantined_not_exported"] == 1
    assert made["clips"] == {"train": 9, "valid": 4, "test": 4}
    assert data["train"]["vision"].shape[1] == 7 and data["train"]["vision_lengths"].max() == 7


def test_cli_exports_and_names_missing_inputs(tmp_path):
    source = write_mmsa_fixture(tmp_path / "source.pkl", "mosi", n_per_split=(6, 3, 3), seed=1)
    _import(source, tmp_path / "results" / "mosi", "mosi")
    cli = [sys.executable, "-m", "mfon.cli", "export-mmsa"]
    proc = subprocess.run([*cli, str(tmp_path / "results" / "mosi"), str(tmp_path / "out.pkl"), "--text-model",
                           TEXT_MODEL],
                          capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert load_mmsa_pickle(tmp_path / "out.pkl")["test"]["id"].shape == (3,)
    proc = subprocess.run([*cli, str(tmp_path / "nowhere"), str(tmp_path / "x.pkl")], capture_output=True,
                          text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 1 and "manifest.tsv" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.pkl").exists()


def test_an_empty_split_is_refused(tmp_path):
    source = write_mmsa_fixture(tmp_path / "source.pkl", "mosi", n_per_split=(6, 3, 3), seed=1)
    sources = _import(source, tmp_path / "results" / "mosi", "mosi")
    status = [{**r, "usable": "0"} if r["mode"] == "valid" else r for r in read_tsv(sources.clip_status)]
    write_tsv(sources.clip_status, status, list(status[0]))
    with pytest.raises(MfonError, match="valid"):
        export_mmsa_pickle(sources, tmp_path / "out.pkl")
