"""Training runs on small feature files written with the pipeline's own writer: outputs, determinism, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mfon.tsv import read_tsv, write_tsv
from mfon.data import FeatureSources
from mfon.errors import MfonError
from mfon.features.text import tokenize_manifest
from mfon.h5store import SCHEMA_VERSION, write_feature_file
from mfon.manifest import MANIFEST_COLUMNS
from mfon.qc import STATUS_COLUMNS
from mfon.training import load_checkpoint, load_teacher, train_mfon, train_teacher

MODEL = {"d_model": 16, "n_heads": 2, "max_len": {"text": 16, "visual": 12, "acoustic": 20},
         "mpa_layers": {"visual": 1, "acoustic": 1}, "teacher_layers": {"visual": 1, "acoustic": 1},
         "teacher_dropout": {"visual": 0.0, "acoustic": 0.0}, "fusion_hidden": [16], "teacher_head_hidden": [8],
         "text_model": "packaged:all-MiniLM-L6-v2"}
RUNTIME = {"device": "cpu", "bf16": False, "gpus": 0, "threads": 1}
TEACHER_TRAINING = {"epochs": 8, "batch_size": 8, "lr": 0.005, "weight_decay": 0.0, "amsgrad": True,
                    "label": "label", "early_stopping_patience": None, "standardize": True}
TRAINING = {"epochs": 2, "batch_size": 8, "grad_accum": 2, "amsgrad": False, "early_stopping_patience": None,
            "standardize": True, "lr": {"text": 1e-4, "acoustic": 1e-3, "visual": 1e-3, "fusion": 1e-3},
            "weight_decay": {"text": 0.0, "acoustic": 0.0, "visual": 0.0, "fusion": 0.0}}
LOSS = {"alpha": 0.5, "beta": 0.5}
WORDS = {-1: "terrible awful film", 0: "an ordinary film", 1: "a great lovely film"}


def write_modality(path, modality, keys, sequences, dims, settings):
    with write_feature_file(path) as writer:
        writer.set_root_attrs({"schema_version": SCHEMA_VERSION, "modality": modality, "dataset": "syn",
                               "config_hash": str(hash(json.dumps(settings, sort_keys=True))).ljust(64, "0"),
                               "settings_json": settings, "versions_json": {}, "manifest_sha256": "x" * 64,
                               "dim_names": [f"d{i}" for i in range(dims)], "frame_rate": 10.0,
                               "feature_set": settings["set"]})
        for key, seq in zip(keys, sequences):
            writer.add_clip(key, {"features": seq, "valid": np.ones(len(seq), np.uint8)})


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """48 clips whose label is carried partly by each modality (visual dim 0, acoustic dim 1, text words)."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("syn")
    (root / "features").mkdir()
    (root / "qc").mkdir()
    n = 48
    u = rng.normal(size=(n, 3))
    labels = np.clip(u.sum(axis=1), -3, 3).round(1)
    keys = [f"s{i // 4}$_${i % 4}" for i in range(n)]
    modes = ["train"] * 32 + ["valid"] * 8 + ["test"] * 8
    rows = [{"key": k, "video_id": k.split("$_$")[0], "clip_id": k.split("$_$")[1], "mode": m, "label": str(y),
             "text": WORDS[int(np.sign(round(t)))]} for k, m, y, t in zip(keys, modes, labels, u[:, 0])]
    write_tsv(root / "manifest.tsv", rows, MANIFEST_COLUMNS)
    write_tsv(root / "qc" / "clip_status.tsv", [{**r, "usable": 1} for r in rows], STATUS_COLUMNS)
    visual = [np.c_[np.full((t, 1), u[i, 1]), rng.normal(size=(t, 3))].astype(np.float32) + 5.0
              for i, t in enumerate(rng.integers(4, 12, size=n))]
    acoustic = [np.c_[rng.normal(size=(t, 1)), np.full((t, 1), u[i, 2])].astype(np.float32) * 100.0
                for i, t in enumerate(rng.integers(8, 30, size=n))]
    write_modality(root / "features" / "visual_features.h5", "visual", keys, visual, 4, {"set": "v4"})
    write_modality(root / "features" / "acoustic_features.h5", "acoustic", keys, acoustic, 2, {"set": "a2"})
    tokenize_manifest(root / "manifest.tsv", root / "features" / "text_features.h5", dataset="syn",
                      settings={"model": "packaged:all-MiniLM-L6-v2", "max_length": 16})
    return FeatureSources(manifest=root / "manifest.tsv", clip_status=root / "qc" / "clip_status.tsv",
                          text=root / "features" / "text_features.h5",
                          visual=root / "features" / "visual_features.h5",
                          acoustic=root / "features" / "acoustic_features.h5")


@pytest.fixture(scope="module")
def teachers(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("teachers")
    results = {}
    for modality in ("visual", "acoustic"):
        results[modality] = train_teacher(sources, modality, model=MODEL, training=TEACHER_TRAINING,
                                          runtime=RUNTIME, seed=1111, out_dir=out / modality)
    return out, results


def test_teacher_learns_its_modality_and_writes_every_output(teachers):
    out, results = teachers
    for modality in ("visual", "acoustic"):
        folder = out / modality
        assert {p.name for p in folder.iterdir()} == {"checkpoint.pt", "metrics.json", "predictions.tsv",
                                                       "history.tsv"}
        history = read_tsv(folder / "history.tsv")
        assert len(history) == 8 and {"train_total", "valid_mse", "valid_MAE", "seconds"} <= set(history[0])
        predictions = read_tsv(folder / "predictions.tsv")
        assert {r["split"] for r in predictions} == {"valid", "test"} and len(predictions) == 16
        # Each modality carries a third of the label: its teacher must correlate with it on held-out clips.
        assert results[modality]["valid"]["Corr"] > 0.3, results[modality]
        assert results[modality]["best_epoch"] == 1 + int(np.argmin([float(r["valid_mse"]) for r in history]))


def test_checkpoint_round_trip_reproduces_predictions(teachers, sources):
    out, _ = teachers
    teacher = load_teacher(out / "visual" / "checkpoint.pt", sources, d_model=16)
    assert all(not p.requires_grad for p in teacher.parameters())
    state = load_checkpoint(out / "visual" / "checkpoint.pt")
    assert state["kind"] == "teacher" and state["provenance"]["visual"]["dims"] == 4
    assert set(state["standardizer"]["mean"]) == {"visual"}


def test_mismatched_checkpoint_is_refused_with_a_message(teachers, sources, tmp_path):
    out, _ = teachers
    with pytest.raises(MfonError, match="d_model=16 does not match the MFON model's d_model=32"):
        load_teacher(out / "visual" / "checkpoint.pt", sources, d_model=32)
    other = FeatureSources(**{**sources.__dict__, "visual": tmp_path / "visual.h5"})
    write_modality(other.visual, "visual", ["s0$_$0"], [np.zeros((3, 7), np.float32)], 7, {"set": "other"})
    with pytest.raises(MfonError, match="trained on visual features made with other settings"):
        load_teacher(out / "visual" / "checkpoint.pt", other, d_model=16)
    (tmp_path / "evil.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(MfonError, match="not a loadable mfon checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")


def test_checkpoint_with_arbitrary_objects_is_not_unpickled(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("unpickled!",))

    torch.save({"format": "mfon-checkpoint-v1", "x": Payload()}, tmp_path / "bad.pt")
    with pytest.raises(MfonError, match="not a loadable mfon checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")


def test_mfon_run_is_deterministic_and_logs_every_loss_term(teachers, sources, tmp_path):
    out, _ = teachers
    paths = {m: out / m / "checkpoint.pt" for m in ("visual", "acoustic")}
    model = {**MODEL, "modalities": ["text", "visual", "acoustic"], "guide": "text"}
    runs = [train_mfon(sources, paths, model=model, training=TRAINING, loss=LOSS, runtime=RUNTIME, seed=7,
                       out_dir=tmp_path / f"run{i}") for i in range(2)]
    assert runs[0]["test"] == runs[1]["test"]
    assert (tmp_path / "run0" / "predictions.tsv").read_text() == (tmp_path / "run1" / "predictions.tsv").read_text()
    history = read_tsv(tmp_path / "run0" / "history.tsv")
    assert {"train_total", "train_task", "train_va", "train_icl", "valid_mse"} <= set(history[0])
    assert float(history[0]["train_va"]) > 0 and float(history[0]["train_icl"]) > 0
    assert runs[0]["clips"]["test"] == {"clips": 8, "used": 8, "quarantined": 0}
    other = train_mfon(sources, paths, model=model, training=TRAINING, loss=LOSS, runtime=RUNTIME, seed=8,
                       out_dir=tmp_path / "run2")
    assert other["test"] != runs[0]["test"]
