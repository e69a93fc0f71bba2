"""MMSA processed pickles imported into the project's own manifest and HDF5 files: round trip, safety, provenance."""

from __future__ import annotations

import collections
import io
import os
import pickle
import shutil
import warnings

import numpy as np
import pytest

from mfon.layout import run_outputs
from mfon.tsv import read_tsv
from mfon.data import FeatureSources, load_split, split_counts
from mfon.errors import MfonError
from mfon.features.text import load_tokenizer, tokenize_texts
from mfon.h5store import FeatureFile
from mfon.importers import mmsa
from mfon.importers.mmsa import check_sha256, import_mmsa_pickle, load_mmsa_pickle
from mfon.importers.safe_pickle import SafeUnpickler

from mmsa_fixtures import LAYOUTS, fixture_filename, write_all_fixtures, write_mmsa_fixture

PACKAGED = "packaged:all-MiniLM-L6-v2"
SEQUENCES = {"acoustic": ("audio", "audio_lengths"), "visual": ("vision", "vision_lengths")}


def outputs(folder):
    return {"out_manifest": folder / "manifest.tsv", "out_rejected": folder / "qc" / "rejected.tsv",
            "out_clip_status": folder / "qc" / "clip_status.tsv",
            "out_text": folder / "features" / "text_features.h5",
            "out_visual": folder / "features" / "visual_features.h5",
            "out_acoustic": folder / "features" / "acoustic_features.h5"}


def sources_of(folder) -> FeatureSources:
    out = outputs(folder)
    return FeatureSources(manifest=out["out_manifest"], clip_status=out["out_clip_status"], text=out["out_text"],
                          visual=out["out_visual"], acoustic=out["out_acoustic"])


def run_import(pickle_path, folder, dataset, **kwargs):
    max_length = LAYOUTS[dataset]["L"] if dataset in LAYOUTS else 50
    kwargs.setdefault("text_settings", {"model": PACKAGED, "max_length": max_length})
    return import_mmsa_pickle(pickle_path, dataset=dataset, **outputs(folder), **kwargs)


def raw(path):
    with open(path, "rb") as fh:
        return pickle.load(fh)  # our own fixture: trusted


def dump(data, path):
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=4)
    return path


@pytest.fixture(scope="module")
def pickles(tmp_path_factory):
    """The three fixtures in MMSA's layout (MOSI/Processed/unaligned_50.pkl, ...)."""
    root = tmp_path_factory.mktemp("mmsa")
    paths = write_all_fixtures(root)
    return {d: p for d, p in zip(LAYOUTS, paths)}


@pytest.fixture(scope="module")
def imported(pickles, tmp_path_factory):
    """Each fixture imported (retokenized). Their names are MMSA's but their hashes are not: allow_unknown_sha."""
    out = {}
    for dataset, path in pickles.items():
        folder = tmp_path_factory.mktemp(f"results_{dataset}")
        out[dataset] = (folder, run_import(path, folder, dataset, allow_unknown_sha=True))
    return out


# ------------------------------------------------------------------------------------------------------ fixtures
def test_fixtures_have_mmsa_layout_shapes_and_small_sizes(pickles):
    expected = {"mosi": ((375, 5), (500, 20), 50), "mosei": ((500, 74), (500, 35), 50),
                "sims": ((400, 33), (55, 709), 39)}
    for dataset, path in pickles.items():
        assert path.parent.name == "Processed" and path.parent.parent.name == dataset.upper()
        assert path.name == fixture_filename(dataset)
        assert path.stat().st_size < 16e6
        data = load_mmsa_pickle(path)
        assert set(data) == {"train", "valid", "test"}
        audio, vision, length = expected[dataset]
        for split, n in zip(("train", "valid", "test"), (24, 8, 8)):
            s = data[split]
            assert s["audio"].shape == (n, *audio) and s["vision"].shape == (n, *vision)
            assert s["text_bert"].shape == (n, 3, length) and s["text"].shape == (n, length, 768)
            assert len(s["raw_text"]) == len(s["id"]) == len(s["regression_labels"]) == n
            assert all("$_$" in i for i in s["id"])
            scale = 1.0 if dataset == "sims" else 3.0
            assert np.all(np.abs(s["regression_labels"]) <= scale)
            assert np.all(np.asarray(s["audio_lengths"]) < audio[0])
            for key in ("audio", "vision"):  # zero padding beyond the length
                lengths = np.asarray(s[f"{key}_lengths"])
                assert all(not s[key][i, lengths[i]:].any() for i in range(n))
            assert ("regression_labels_V" in s) == (dataset == "sims")
        assert not np.all(np.isfinite(data["train"]["audio"]))  # NaN / inf injected
    assert pickles["mosi"].stat().st_size < 10e6


def test_poisoned_fixture_flips_only_test_labels(tmp_path):
    clean = raw(write_mmsa_fixture(tmp_path / "a.pkl", "sims", seed=3))
    poisoned = raw(write_mmsa_fixture(tmp_path / "b.pkl", "sims", seed=3, poison_test_labels=True))
    for split in ("train", "valid"):
        assert np.array_equal(clean[split]["regression_labels"], poisoned[split]["regression_labels"])
    for key in ("regression_labels", "regression_labels_V"):
        assert np.array_equal(poisoned["test"][key], -clean["test"][key])
    assert np.array_equal(clean["test"]["audio"], poisoned["test"]["audio"], equal_nan=True)


# --------------------------------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("dataset", ["mosi", "mosei", "sims"])
def test_round_trip_preserves_every_clip_label_length_and_split(dataset, pickles, imported):
    folder, summary = imported[dataset]
    data = raw(pickles[dataset])
    manifest = read_tsv(folder / "manifest.tsv")
    assert read_tsv(folder / "qc" / "rejected.tsv") == []
    expected_keys = [str(k) for s in ("train", "valid", "test") for k in data[s]["id"]]
    assert [r["key"] for r in manifest] == expected_keys
    assert summary["clips"] == {"train": 24, "valid": 8, "test": 8} and summary["quarantined"] == 0
    rows = {r["key"]: r for r in manifest}
    nonfinite = {"acoustic": 0, "visual": 0}
    with FeatureFile(folder / "features" / "acoustic_features.h5") as fa, \
            FeatureFile(folder / "features" / "visual_features.h5") as fv:
        files = {"acoustic": fa, "visual": fv}
        for split in ("train", "valid", "test"):
            s = data[split]
            for i, key in enumerate(s["id"]):
                row = rows[str(key)]
                video_id, clip_id = str(key).split("$_$")
                assert (row["video_id"], row["clip_id"], row["mode"]) == (video_id, clip_id, split)
                assert np.float32(row["label"]) == s["regression_labels"][i]
                assert row["text"] == s["raw_text"][i] and row["annotation"] == s["annotations"][i]
                assert row["media_path"] == f"mmsa:{pickles[dataset].name}" and row["duration_s"] == ""
                if dataset == "sims":
                    for column in ("T", "A", "V"):
                        assert np.float32(row[f"label_{column}"]) == s[f"regression_labels_{column}"][i]
                else:
                    assert row["label_T"] == row["label_A"] == row["label_V"] == ""
                for modality, (values_key, lengths_key) in SEQUENCES.items():
                    n = int(np.asarray(s[lengths_key])[i])
                    clip = files[modality].clip(str(key))
                    original = s[values_key][i, :n]
                    bad = ~np.isfinite(original)
                    assert clip["features"].shape == (n, original.shape[1]) and clip["features"].dtype == np.float32
                    assert np.array_equal(clip["features"], np.where(bad, 0.0, original))
                    assert clip["valid"].tolist() == [1] * n
                    assert clip["attrs"]["n_frames"] == n and clip["attrs"]["nonfinite_replaced"] == int(bad.sum())
                    assert clip["attrs"]["video_id"] == video_id and clip["attrs"]["clip_id"] == clip_id
                    nonfinite[modality] += int(bad.sum())
        assert nonfinite["acoustic"] > 0
        assert summary["nonfinite_replaced"] == nonfinite
        for modality, ff in files.items():
            attrs = ff.attrs
            assert attrs["nonfinite_replaced"] == nonfinite[modality]
            assert attrs["extractor"] == "mmsa-pickle" and attrs["frame_rate"] == 0.0
            assert attrs["modality"] == modality and attrs["dataset"] == dataset and attrs["schema_version"] == 1
            assert len(attrs["dim_names"]) == data["train"][SEQUENCES[modality][0]].shape[2]
            assert attrs["source_file"] == pickles[dataset].name and len(attrs["source_sha256"]) == 64
            assert attrs["source_verified"] == 0 and "does not match" in attrs["source_warning"]
            assert len(attrs["config_hash"]) == 64 and attrs["manifest_sha256"] == \
                mmsa.file_sha256(folder / "manifest.tsv")
            assert {"created_utc", "settings_json", "versions_json", "feature_set"} <= set(attrs)
    feature_sets = {"mosi": ("COVAREP", "FACET"), "mosei": ("COVAREP", "FACET"), "sims": ("librosa", "OpenFace")}
    with FeatureFile(folder / "features" / "acoustic_features.h5") as fa:
        assert fa.attrs["feature_set"].startswith(feature_sets[dataset][0])
    status = read_tsv(folder / "qc" / "clip_status.tsv")
    assert len(status) == 40 and all(r["usable"] == "1" and r["ingest"] == r["text"] == "ok" for r in status)


@pytest.mark.parametrize("dataset", ["mosi", "sims"])
def test_text_is_retokenized_with_the_configured_tokenizer(dataset, pickles, imported):
    folder, summary = imported[dataset]
    manifest = read_tsv(folder / "manifest.tsv")
    length = LAYOUTS[dataset]["L"]
    expected = tokenize_texts(load_tokenizer(PACKAGED), [r["text"] for r in manifest], length)
    with FeatureFile(folder / "features" / "text_features.h5") as ff:
        assert ff.attrs["tokenizer"] == PACKAGED and ff.attrs["max_length"] == length
        assert ff.attrs["vocab_size"] == 30522 and ff.attrs["source_file"] == pickles[dataset].name
        for i, row in enumerate(manifest):
            clip = ff.clip(row["key"])
            for name in ("input_ids", "attention_mask", "token_type_ids"):
                assert np.array_equal(clip[name], expected[name][i])
            assert clip["attrs"]["text"] == row["text"]
            assert clip["attrs"]["n_tokens"] == int(expected["attention_mask"][i].sum())


@pytest.mark.parametrize("dataset,vocab", [("mosi", "bert-base-uncased"), ("sims", "bert-base-chinese")])
def test_pickle_ids_mode_keeps_the_pickles_token_ids(dataset, vocab, pickles, tmp_path):
    summary = run_import(pickles[dataset], tmp_path, dataset, text_mode="pickle_ids", allow_unknown_sha=True)
    data = raw(pickles[dataset])
    assert summary["text_tokenizer"] == f"pickle:{vocab} (MMSA)"
    with FeatureFile(tmp_path / "features" / "text_features.h5") as ff:
        assert ff.attrs["tokenizer"] == f"pickle:{vocab} (MMSA)" and ff.settings["model"] == vocab
        for split in ("train", "valid", "test"):
            for i, key in enumerate(data[split]["id"]):
                clip = ff.clip(str(key))
                bert = data[split]["text_bert"][i]
                assert clip["input_ids"].dtype == np.int32
                assert np.array_equal(clip["input_ids"], bert[0]) and np.array_equal(clip["attention_mask"], bert[1])
                assert np.array_equal(clip["token_type_ids"], bert[2])
    with pytest.raises(MfonError, match="text_bert holds 50 tokens per clip but text.max_length is 32"):
        run_import(pickles["mosi"], tmp_path / "short", "mosi", text_mode="pickle_ids", allow_unknown_sha=True,
                   text_settings={"model": PACKAGED, "max_length": 32})
    assert not (tmp_path / "short").exists() or not any((tmp_path / "short").rglob("*.*"))  # nothing half-written


def test_imported_files_feed_the_training_data_path(imported):
    folder, _ = imported["sims"]
    sources = sources_of(folder)
    assert split_counts(sources) == {"train": {"clips": 24, "used": 24, "quarantined": 0},
                                     "valid": {"clips": 8, "used": 8, "quarantined": 0},
                                     "test": {"clips": 8, "used": 8, "quarantined": 0}}
    data = load_split(sources, "valid", max_len={"visual": 55, "acoustic": 400})
    assert len(data) == 8 and data.text["input_ids"].shape == (8, 39)
    assert data.sequences["visual"][0].shape[1] == 709 and data.sequences["acoustic"][0].shape[1] == 33
    assert set(data.unimodal_labels) == {"text", "acoustic", "visual"}  # SIMS' own unimodal labels
    prov = sources.provenance()
    assert prov["visual"]["dims"] == 709 and prov["visual"]["feature_set"].startswith("OpenFace")


def test_one_epoch_teacher_trains_on_imported_mosi(imported, tmp_path):
    from mfon.teacher_training import train_teacher

    model = {"d_model": 16, "n_heads": 2, "max_len": {"text": 50, "visual": 40, "acoustic": 40},
             "mpa_layers": {"visual": 1, "acoustic": 1}, "teacher_layers": {"visual": 1, "acoustic": 1},
             "teacher_dropout": {"visual": 0.0, "acoustic": 0.0}, "fusion_hidden": [16], "teacher_head_hidden": [8],
             "text_model": PACKAGED}
    training = {"epochs": 1, "batch_size": 8, "lr": 0.005, "weight_decay": 0.0, "amsgrad": True, "label": "label",
                "early_stopping_patience": None, "standardize": True}
    folder, _ = imported["mosi"]
    result = train_teacher(sources_of(folder), "acoustic", model=model, training=training,
                           runtime={"device": "cpu", "bf16": False, "gpus": 0, "threads": 1}, seed=1111,
                           outputs=run_outputs(tmp_path / "teacher"))
    assert (tmp_path / "teacher" / "checkpoint.pt").is_file()
    assert len(read_tsv(tmp_path / "teacher" / "predictions.tsv")) == 16
    assert np.isfinite(result["valid"]["MAE"]) and result["clips"]["train"]["used"] == 24


# ----------------------------------------------------------------------------------------- lengths and aligned
def test_aligned_pickle_without_lengths_derives_them(tmp_path):
    path = write_mmsa_fixture(tmp_path / "MOSI" / "Processed" / "aligned_50.pkl", "mosi", aligned=True)
    data = raw(path)
    assert "audio_lengths" not in data["train"] and data["train"]["audio"].shape[1:] == (50, 5)
    summary = run_import(path, tmp_path / "out", "mosi")  # an unknown variant: accepted, with a warning
    assert summary["lengths_source"]["acoustic"].startswith("derived")
    assert not summary["sha256"]["known"] and summary["sha256"]["warning"]
    with FeatureFile(tmp_path / "out" / "features" / "visual_features.h5") as ff:
        assert ff.attrs["lengths_source"].startswith("derived") and ff.attrs["feature_set"] == \
            "FACET (MMSA aligned_50)"
        for i, key in enumerate(data["train"]["id"]):
            assert ff.clip(str(key))["features"].shape[0] == int(data["train"]["text_bert"][i, 1].sum())


def test_missing_lengths_are_derived_and_long_lengths_clamped(pickles, tmp_path):
    data = raw(pickles["mosei"])
    for split in data.values():
        del split["vision_lengths"]
    data["train"]["audio_lengths"][0] = 9999
    path = dump(data, tmp_path / "custom.pkl")
    summary = run_import(path, tmp_path / "out", "mosei")
    assert summary["lengths_source"] == {"acoustic": "pickle audio_lengths",
                                         "visual": "derived: rows up to the last frame that is not all zero"}
    assert summary["lengths_clamped"] == {"acoustic": 1, "visual": 0}
    key = str(data["train"]["id"][0])
    with FeatureFile(tmp_path / "out" / "features" / "acoustic_features.h5") as ff:
        assert ff.clip(key)["features"].shape[0] == 500
    with FeatureFile(tmp_path / "out" / "features" / "visual_features.h5") as ff:
        for split in ("train", "test"):
            s = raw(pickles["mosei"])[split]
            for i, k in enumerate(s["id"]):
                assert ff.clip(str(k))["features"].shape[0] == s["vision_lengths"][i]


def test_zero_length_sequence_is_kept_as_one_invalid_frame(pickles, tmp_path):
    data = raw(pickles["mosi"])
    data["valid"]["vision_lengths"][2] = 0
    key = str(data["valid"]["id"][2])
    summary = run_import(dump(data, tmp_path / "z.pkl"), tmp_path / "out", "mosi")
    assert summary["empty_sequences"] == {"acoustic": 0, "visual": 1}
    with FeatureFile(tmp_path / "out" / "features" / "visual_features.h5") as ff:
        clip = ff.clip(key)
        assert clip["valid"].tolist() == [0] and not clip["features"].any() and clip["attrs"]["n_frames"] == 0
    status = {r["key"]: r for r in read_tsv(tmp_path / "out" / "qc" / "clip_status.tsv")}
    assert status[key]["visual"] == "empty" and status[key]["usable"] == "1" and "length 0" in status[key]["reason"]


# ----------------------------------------------------------------------------------------------- quarantine
def test_bad_labels_are_quarantined_and_listed_never_dropped(pickles, tmp_path):
    data = raw(pickles["sims"])
    data["train"]["regression_labels"][3] = 5.0
    data["valid"]["regression_labels"][0] = np.nan
    data["test"]["regression_labels_V"][1] = -1.5
    bad = {str(data["train"]["id"][3]): "outside", str(data["valid"]["id"][0]): "not a finite number",
           str(data["test"]["id"][1]): "label_V -1.5 is outside"}
    summary = run_import(dump(data, tmp_path / "bad.pkl"), tmp_path / "out", "sims")
    assert summary["quarantined"] == 3 and summary["clips"] == {"train": 23, "valid": 7, "test": 7}
    rejected = {r["key"]: r for r in read_tsv(tmp_path / "out" / "qc" / "rejected.tsv")}
    assert set(rejected) == set(bad)
    for key, reason in bad.items():
        assert reason in rejected[key]["reason"] and rejected[key]["stage"] == "ingest"
    status = {r["key"]: r for r in read_tsv(tmp_path / "out" / "qc" / "clip_status.tsv")}
    assert len(status) == 40
    for key in bad:
        assert status[key]["usable"] == "0" and status[key]["ingest"] == "rejected"
        assert status[key]["reason"].startswith("ingest: ")
    manifest_keys = {r["key"] for r in read_tsv(tmp_path / "out" / "manifest.tsv")}
    assert not manifest_keys & set(bad) and len(manifest_keys) == 37
    with FeatureFile(tmp_path / "out" / "features" / "acoustic_features.h5") as ff:
        assert set(ff.keys()) == manifest_keys
    counts = split_counts(sources_of(tmp_path / "out"))
    assert counts["train"] == {"clips": 24, "used": 23, "quarantined": 1}


def test_label_range_is_the_configured_one(pickles, tmp_path):
    summary = run_import(pickles["mosi"], tmp_path, "mosi", allow_unknown_sha=True, label_range=[-1, 1])
    assert summary["quarantined"] > 0
    assert all("outside the dataset's range [-1.0, 1.0]" in r["reason"]
               for r in read_tsv(tmp_path / "qc" / "rejected.tsv"))


# ------------------------------------------------------------------------------------------- structural errors
@pytest.mark.parametrize("change,message", [
    (lambda d: d["valid"].pop("vision"), "split 'valid', key 'vision': missing"),
    (lambda d: d["test"].update(regression_labels=d["test"]["regression_labels"][:5]),
     "split 'test', key 'regression_labels': has 5 rows but 'id' has 8"),
    (lambda d: d["train"]["id"].__setitem__(5, d["train"]["id"][4]), "clip ids are not unique"),
    (lambda d: d.pop("test"), "missing \\['test'\\]"),
    (lambda d: d["train"].update(audio=d["train"]["audio"][:, :, :3]),
     "key 'audio' has a different feature width per split"),
])
def test_structural_problems_name_the_split_and_key(change, message, pickles, tmp_path):
    data = raw(pickles["mosi"])
    change(data)
    with pytest.raises(MfonError, match=message):
        run_import(dump(data, tmp_path / "broken.pkl"), tmp_path / "out", "mosi")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.*"))


# ----------------------------------------------------------------------------------------------------- safety
class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Odict(collections.OrderedDict):
    pass


def test_pickle_naming_code_is_refused_and_nothing_runs(pickles, tmp_path):
    marker = tmp_path / "executed"
    data = raw(pickles["mosi"])
    data["train"]["annotations"] = _Payload(marker)
    evil = dump(data, tmp_path / "evil.pkl")
    with pytest.raises(MfonError, match=r"evil\.pkl: refused to load (os|posix|nt)\.system"):
        load_mmsa_pickle(evil)
    with pytest.raises(MfonError, match="refused to load"):
        run_import(evil, tmp_path / "out", "mosi")
    assert not marker.exists()
    odd = dump({"train": _Odict(a=np.zeros(2))}, tmp_path / "odd.pkl")
    with pytest.raises(MfonError, match=r"odd\.pkl: refused to load \S*_Odict"):
        load_mmsa_pickle(odd)
    plain = dump({"train": collections.OrderedDict(a=1)}, tmp_path / "plain.pkl")
    with pytest.raises(MfonError, match="refused to load collections.OrderedDict"):
        load_mmsa_pickle(plain)
    for name, blob in (("eval", b"cbuiltins\neval\n(S'1'\ntR."), ("getattr", b"cbuiltins\ngetattr\n.")):
        with pytest.raises(MfonError, match=f"refused to load builtins.{name}"):
            SafeUnpickler(io.BytesIO(blob), source="x.pkl").load()
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises(MfonError, match="junk.pkl: not a readable MMSA pickle"):
        load_mmsa_pickle(tmp_path / "junk.pkl")


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy1_and_numpy2_pickles_load(protocol):
    data = {"train": {"audio": np.arange(12, dtype=np.float32).reshape(1, 3, 4), "id": np.array(["a$_$1"]),
                      "raw_text": np.array(["fine"], dtype=object), "audio_lengths": [3], "x": np.float64(2.5),
                      "empty": b"", "names": {"a", "b"}}}
    blob = pickle.dumps(data, protocol=protocol)
    variants = [blob]
    if protocol == 2:  # text GLOBAL opcodes: rewrite numpy 2's module names into numpy 1's, as MMSA's files have
        variants.append(blob.replace(b"numpy._core", b"numpy.core"))
        assert b"numpy.core.multiarray" in variants[1]
    for variant in variants:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # importing numpy.core would warn under numpy 2
            loaded = SafeUnpickler(io.BytesIO(variant)).load()
        assert np.array_equal(loaded["train"]["audio"], data["train"]["audio"])
        assert loaded["train"]["id"].tolist() == ["a$_$1"] and loaded["train"]["x"] == 2.5
        assert loaded["train"]["names"] == {"a", "b"} and loaded["train"]["empty"] == b""


# ----------------------------------------------------------------------------------------------------- SHA-256
def test_unknown_name_is_accepted_with_the_warning_in_every_file(pickles, tmp_path):
    path = tmp_path / "my_mosi_features.pkl"
    shutil.copy(pickles["mosi"], path)
    summary = run_import(path, tmp_path / "out", "mosi")
    assert summary["sha256"]["known"] is False and summary["sha256"]["matched"] is None
    for modality in ("text", "visual", "acoustic"):
        with FeatureFile(tmp_path / "out" / "features" / f"{modality}_features.h5") as ff:
            assert ff.attrs["source_verified"] == 0 and ff.attrs["source_sha_known"] == 0
            assert "publishes no SHA-256 for mosi/my_mosi_features" in ff.attrs["source_warning"]
            assert ff.attrs["source_sha256"] == summary["sha256"]["sha256"]
            assert ff.settings["source_sha256"] == summary["sha256"]["sha256"]  # part of the config hash


def test_wrong_hash_for_a_known_name_is_refused(pickles, tmp_path, monkeypatch):
    with pytest.raises(MfonError, match="does not match MMSA's published 78e0f8b5"):
        run_import(pickles["mosi"], tmp_path / "out", "mosi")
    assert not (tmp_path / "out").exists()
    path = tmp_path / "fixture_v1.pkl"
    shutil.copy(pickles["mosi"], path)
    monkeypatch.setitem(mmsa.KNOWN_SHA256_PREFIXES, ("mosi", "fixture_v1"), "00000000")
    with pytest.raises(MfonError, match="allow_unknown_sha"):
        run_import(path, tmp_path / "out", "mosi")
    assert not (tmp_path / "out").exists()
    digest = mmsa.file_sha256(path)
    monkeypatch.setitem(mmsa.KNOWN_SHA256_PREFIXES, ("mosi", "fixture_v1"), digest[:8])
    result = check_sha256(path, "mosi", "fixture_v1")
    assert result["known"] and result["matched"] and result["verified"] and not result["warning"]
    summary = run_import(path, tmp_path / "out", "cmu-mosi")  # aliases name the same MMSA dataset
    assert summary["sha256"]["verified"]
    with FeatureFile(tmp_path / "out" / "features" / "visual_features.h5") as ff:
        assert ff.attrs["source_verified"] == 1 and ff.attrs["source_warning"] == ""
    assert mmsa.KNOWN_SHA256_PREFIXES[("sims", "unaligned_39")] == "c9e20c13"
    assert mmsa.KNOWN_SHA256_PREFIXES[("mosei", "unaligned_50")] == "ad8b23d5"
