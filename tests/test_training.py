"""Training runs on small feature files written with the pipeline's own writer: outputs, determinism, checkpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from mfon.layout import RESUME_FILE, run_outputs
from mfon.tsv import read_tsv, write_tsv
from mfon.data import FeatureSources
from mfon.errors import MfonError
from mfon.features.text import tokenize_manifest
from mfon.h5store import SCHEMA_VERSION, write_feature_file
from mfon.manifest import MANIFEST_COLUMNS
from mfon.qc import STATUS_COLUMNS
from mfon.data import Standardizer, load_split
from mfon.models import TeacherEncoder
from mfon.checkpoints import load_checkpoint, load_teacher
from mfon.mfon_training import train_mfon
from mfon.teacher_targets import read_teacher_targets, write_teacher_targets
from mfon.teacher_training import train_teacher
from mfon.training import SplitBatches, _batches, cpu_has_bf16, predict_split

MODEL = {"d_model": 16, "n_heads": 2, "max_len": {"text": 16, "visual": 12, "acoustic": 20},
         "mpa_layers": {"visual": 1, "acoustic": 1}, "teacher_layers": {"visual": 1, "acoustic": 1},
         "teacher_dropout": {"visual": 0.0, "acoustic": 0.0}, "fusion_hidden": [16], "teacher_head_hidden": [8],
         "text_model": "packaged:all-MiniLM-L6-v2", "modalities": ["text", "visual", "acoustic"], "guide": "text"}
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
                                          runtime=RUNTIME, seed=1111, outputs=run_outputs(out / modality))
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
    # The settings it was given and what the data fixed, no dataclass default (such as d_acoustic) added.
    assert state["config"]["model"] == {**MODEL, "d_visual": 4, "modalities": ["visual"], "guide": "visual"}


def test_mismatched_checkpoint_is_refused_with_a_message(teachers, sources, tmp_path):
    out, _ = teachers
    with pytest.raises(MfonError, match="d_model=16 does not match the MFON model's d_model=32"):
        load_teacher(out / "visual" / "checkpoint.pt", sources, d_model=32)
    other = FeatureSources(**{**sources.__dict__, "visual": tmp_path / "visual.h5"})
    write_modality(other.visual, "visual", ["s0$_$0"], [np.zeros((3, 7), np.float32)], 7, {"set": "other"})
    with pytest.raises(MfonError, match="trained on visual features made with other settings"):
        load_teacher(out / "visual" / "checkpoint.pt", other, d_model=16)
    (tmp_path / "evil.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(MfonError, match="not a checkpoint this project wrote, or a damaged one") as err:
        load_checkpoint(tmp_path / "evil.pt")
    assert "rerun snakemake" in str(err.value) and "weights_only" not in str(err.value)


def test_checkpoint_with_arbitrary_objects_is_not_unpickled(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("unpickled!",))

    torch.save({"format": "mfon-checkpoint-v1", "x": Payload()}, tmp_path / "bad.pt")
    with pytest.raises(MfonError, match="not a checkpoint this project wrote") as err:
        load_checkpoint(tmp_path / "bad.pt")
    # torch's own message advises weights_only=False ("arbitrary code execution"): never passed on.
    assert "weights_only" not in str(err.value) and "arbitrary code" not in str(err.value)


def test_mfon_run_is_deterministic_and_logs_every_loss_term(teachers, sources, tmp_path):
    out, _ = teachers
    paths = {m: out / m / "checkpoint.pt" for m in ("visual", "acoustic")}
    model = MODEL
    runs = [train_mfon(sources, paths, model=model, training=TRAINING, loss=LOSS, runtime=RUNTIME, seed=7,
                       outputs=run_outputs(tmp_path / f"run{i}")) for i in range(2)]
    assert runs[0]["test"] == runs[1]["test"]
    assert (tmp_path / "run0" / "predictions.tsv").read_text() == (tmp_path / "run1" / "predictions.tsv").read_text()
    history = read_tsv(tmp_path / "run0" / "history.tsv")
    assert {"train_total", "train_task", "train_va", "train_icl", "valid_mse"} <= set(history[0])
    assert float(history[0]["train_va"]) > 0 and float(history[0]["train_icl"]) > 0
    assert runs[0]["clips"]["test"] == {"clips": 8, "used": 8, "quarantined": 0}
    other = train_mfon(sources, paths, model=model, training=TRAINING, loss=LOSS, runtime=RUNTIME, seed=8,
                       outputs=run_outputs(tmp_path / "run2"))
    assert other["test"] != runs[0]["test"]


def test_predictions_and_metrics_say_how_they_were_made(teachers):
    out, _ = teachers
    rows = read_tsv(out / "visual" / "predictions.tsv")
    assert all(len(r["truth"].split(".")[-1]) <= 6 for r in rows)  # no float32 artefacts like 1.100000023841858
    metrics = json.loads((out / "visual" / "metrics.json").read_text())
    assert (metrics["device"], metrics["precision"], metrics["threads"]) == ("cpu", "fp32", 1)
    assert load_checkpoint(out / "visual" / "checkpoint.pt")["run"]["precision"] == "fp32"
    assert not (out / "visual" / RESUME_FILE).exists()  # removed once the run completed


# ------------------------------------------------------------------------------------------ teacher targets
@pytest.fixture(scope="module")
def targets(teachers, sources, tmp_path_factory):
    out, _ = teachers
    folder = tmp_path_factory.mktemp("targets")
    for m in ("visual", "acoustic"):
        write_teacher_targets(out / m / "checkpoint.pt", sources, folder / f"{m}.h5")
    return {m: folder / f"{m}.h5" for m in ("visual", "acoustic")}


@pytest.mark.parametrize("modality", ["visual", "acoustic"])
def test_teacher_targets_equal_a_fresh_teacher_forward_per_clip(teachers, sources, targets, modality):
    out, _ = teachers
    state = load_checkpoint(out / modality / "checkpoint.pt")
    teacher = load_teacher(out / modality / "checkpoint.pt", sources, d_model=16).eval()
    max_len = {modality: MODEL["max_len"][modality]}
    with h5py.File(targets[modality]) as h5:
        assert set(h5) == {"train", "valid", "test"} and h5.attrs["modality"] == modality
    for split in ("train", "test"):
        data = load_split(sources, split, max_len=max_len, modalities=(modality,),
                          standardizer=Standardizer.from_state(state["standardizer"]))
        stored = read_teacher_targets(targets[modality], sources, modality, 16, data)
        assert stored.shape == (len(data), 16)
        for i, seq in enumerate(data.sequences[modality]):
            x = torch.zeros(1, max_len[modality], seq.shape[1])  # one clip, padded to max_len
            x[0, : len(seq)] = torch.from_numpy(seq)
            with torch.no_grad():
                fresh = teacher.encode(x, torch.tensor([len(seq)]))[0]
            assert torch.allclose(stored[i], fresh, atol=1e-5), (split, data.keys[i])


def test_teacher_targets_of_another_modality_or_clip_set_are_refused(targets, sources, tmp_path):
    data = load_split(sources, "train", max_len={"visual": 12}, modalities=("visual",))
    with pytest.raises(MfonError, match="holds acoustic vectors of width 16, expected visual"):
        read_teacher_targets(targets["acoustic"], sources, "visual", 16, data)
    with h5py.File(targets["visual"]) as src, h5py.File(tmp_path / "partial.h5", "w") as dst:
        dst.attrs.update(dict(src.attrs))
        dst.create_dataset("train/keys", data=src["train/keys"][1:])
        dst.create_dataset("train/vectors", data=src["train/vectors"][1:])
    with pytest.raises(MfonError, match=r"no teacher vector for clip s0\$_\$0"):
        read_teacher_targets(tmp_path / "partial.h5", sources, "visual", 16, data)
    # A damaged file (its superblock overwritten) is named with the remedy, not h5py's bare error.
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(b"\0" * 64 + targets["visual"].read_bytes()[64:])
    with pytest.raises(MfonError, match=r"damaged\.h5: its teacher vectors cannot be read, the file is damaged"):
        read_teacher_targets(damaged, sources, "visual", 16, data)


def test_mfon_reads_stored_targets_without_running_a_teacher(teachers, sources, targets, tmp_path, monkeypatch):
    out, _ = teachers
    model = MODEL
    checkpoints = {m: out / m / "checkpoint.pt" for m in ("visual", "acoustic")}
    from_checkpoints = train_mfon(sources, checkpoints, model=model, training=TRAINING, loss=LOSS,
                                  runtime=RUNTIME, seed=7, outputs=run_outputs(tmp_path / "a"))

    def no_teacher(*args, **kwargs):
        raise AssertionError("a teacher ran during MFON training")

    monkeypatch.setattr(TeacherEncoder, "encode", no_teacher)
    monkeypatch.setattr(TeacherEncoder, "forward", no_teacher)
    stored = train_mfon(sources, {}, model=model, training=TRAINING, loss=LOSS, runtime=RUNTIME, seed=7,
                        outputs=run_outputs(tmp_path / "b"), teacher_targets=targets)
    assert stored["test"] == from_checkpoints["test"]
    assert float(read_tsv(tmp_path / "b" / "history.tsv")[0]["train_va"]) > 0
    with pytest.raises(MfonError, match="fidelity: paper recomputes the teachers"):
        train_mfon(sources, {}, model={**model, "fidelity": "paper"}, training=TRAINING, loss=LOSS,
                   runtime=RUNTIME, seed=7, outputs=run_outputs(tmp_path / "c"), teacher_targets=targets)


# ------------------------------------------------------------------------------------- batching, paper mode
def test_length_buckets_cover_every_clip_once_with_similar_lengths():
    lengths = np.random.default_rng(0).integers(1, 500, size=1000)
    g = torch.Generator().manual_seed(3)
    batches = _batches(1000, 10, g, lengths)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    shuffled = np.mean([np.ptp(lengths[b]) for b in _batches(1000, 10, torch.Generator().manual_seed(3))])
    assert spread < 0.25 * shuffled
    again = _batches(1000, 10, torch.Generator().manual_seed(3), lengths)
    assert all((a == b).all() for a, b in zip(batches, again))


def count_steps(monkeypatch) -> list[int]:
    calls = []
    original = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    return calls


@pytest.mark.parametrize("fidelity, steps", [("fixed", 6), ("paper", 1)])
def test_paper_teachers_accumulate_four_batches_and_drop_the_remainder(sources, tmp_path, monkeypatch,
                                                                     fidelity, steps):
    """32 train clips in batches of 6 = 6 micro-batches per epoch: fixed steps on each; the authors' teacher
    loop steps once per 4 (summed) and never flushes the last 2."""
    calls = count_steps(monkeypatch)
    train_teacher(sources, "acoustic", model={**MODEL, "fidelity": fidelity},
                  training={**TEACHER_TRAINING, "epochs": 1, "batch_size": 6}, runtime=RUNTIME, seed=1,
                  outputs=run_outputs(tmp_path))
    assert len(calls) == steps


def test_paper_mfon_drops_the_last_micro_batches_of_an_epoch(teachers, sources, tmp_path, monkeypatch):
    out, _ = teachers
    calls = count_steps(monkeypatch)
    model = {**MODEL, "fidelity": "paper"}
    training = {**TRAINING, "epochs": 1, "batch_size": 6, "grad_accum": 4}  # 6 micro-batches: 1 step, 2 dropped
    train_mfon(sources, {m: out / m / "checkpoint.pt" for m in ("visual", "acoustic")}, model=model,
               training=training, loss=LOSS, runtime=RUNTIME, seed=7, outputs=run_outputs(tmp_path / "paper"))
    assert len(calls) == 1
    train_mfon(sources, {}, model=MODEL, training=training, loss={"alpha": 0.0, "beta": 0.5}, runtime=RUNTIME,
               seed=7, outputs=run_outputs(tmp_path / "fixed"))
    assert len(calls) == 1 + 2  # fixed: 4 + a flushed remainder of 2


# --------------------------------------------------------------------------------------------- recipe knobs
def test_recipe_knobs_change_training_and_are_refused_in_paper_mode(sources, tmp_path):
    plain = train_mfon(sources, {}, model=MODEL, training=TRAINING, loss={"alpha": 0.0, "beta": 0.5},
                       runtime=RUNTIME, seed=7, outputs=run_outputs(tmp_path / "plain"))
    for name, knobs in (("clip", {"grad_clip_norm": 0.01}), ("warmup", {"lr_schedule": "warmup_linear"}),
                        ("plateau", {"lr_schedule": "plateau", "plateau_patience": 0, "plateau_factor": 0.1,
                                     "epochs": 3}),
                        ("buckets", {"bucket_by_length": True})):
        run = train_mfon(sources, {}, model=MODEL, training={**TRAINING, **knobs}, loss={"alpha": 0.0, "beta": 0.5},
                         runtime=RUNTIME, seed=7, outputs=run_outputs(tmp_path / name))
        assert np.isfinite(run["valid"]["MAE"]) and run["valid"] != plain["valid"], name
    with pytest.raises(MfonError, match="fidelity: paper trains with the authors' recipe"):
        train_mfon(sources, {}, model={**MODEL, "fidelity": "paper"},
                   training={**TRAINING, "grad_clip_norm": 1.0}, loss={"alpha": 0.0, "beta": 0.5},
                   runtime=RUNTIME, seed=7, outputs=run_outputs(tmp_path / "refused"))


def test_evaluation_batches_are_sorted_by_length_and_predictions_keep_the_split_order(teachers, sources):
    out, _ = teachers
    teacher = load_teacher(out / "visual" / "checkpoint.pt", sources, MODEL["d_model"])
    splits = {"valid": load_split(sources, "valid", max_len=MODEL["max_len"], modalities=("visual",))}
    sorted_batches = SplitBatches(splits, MODEL["max_len"], 3, pad_to_max=False)
    lengths = [int(b["visual_lengths"].max()) for b in sorted_batches.batches("valid")]
    assert lengths == sorted(lengths) and len(set(lengths)) > 1
    in_order = SplitBatches(splits, MODEL["max_len"], 3, pad_to_max=True)  # paper: split order, max_len padding

    def forward(batch):
        return teacher(batch["visual"], batch["visual_lengths"])

    cpu = torch.device("cpu")
    np.testing.assert_allclose(predict_split(teacher, forward, sorted_batches, "valid", cpu),
                               predict_split(teacher, forward, in_order, "valid", cpu), atol=1e-5)


def test_a_job_trains_on_the_threads_it_is_given(sources, tmp_path, monkeypatch):
    import mfon.mfon_training

    seen = set()

    class CountingLoss(mfon.mfon_training.MFONLoss):
        def __call__(self, *args, **kwargs):
            seen.add(torch.get_num_threads())
            return super().__call__(*args, **kwargs)

    monkeypatch.setattr(mfon.mfon_training, "MFONLoss", CountingLoss)
    before = torch.get_num_threads()
    try:
        run = train_mfon(sources, {}, model=MODEL, training={**TRAINING, "epochs": 1}, loss={"alpha": 0.0, "beta": 0.5},
                         runtime=RUNTIME, seed=7, outputs=run_outputs(tmp_path / "run"), threads=2)
    finally:
        torch.set_num_threads(before)
    assert seen == {2} and run["threads"] == 2


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bfloat16 arithmetic")
def test_cpu_bf16_autocast_trains_close_to_fp32_and_says_so(sources, tmp_path):
    loss = {"alpha": 0.0, "beta": 0.5}
    fp32, bf16 = (train_mfon(sources, {}, model=MODEL, training=TRAINING, loss=loss, runtime={**RUNTIME, "bf16": b},
                             seed=7, outputs=run_outputs(tmp_path / str(b))) for b in (False, True))
    assert (fp32["precision"], bf16["precision"]) == ("fp32", "bf16-autocast")
    assert fp32["valid"] != bf16["valid"] and abs(fp32["valid"]["MAE"] - bf16["valid"]["MAE"]) < 0.1


def test_cpu_bf16_is_refused_in_paper_mode_and_without_native_support(sources, tmp_path, monkeypatch):
    kwargs = dict(training=TRAINING, loss={"alpha": 0.0, "beta": 0.5}, runtime={**RUNTIME, "bf16": True}, seed=7,
                  outputs=run_outputs(tmp_path / "refused"))
    with pytest.raises(MfonError, match="runtime.bf16 on CPU: fidelity paper trains in fp32"):
        train_mfon(sources, {}, model={**MODEL, "fidelity": "paper"}, **kwargs)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    with pytest.raises(MfonError, match="this CPU has no native bfloat16 arithmetic"):
        train_mfon(sources, {}, model=MODEL, **kwargs)
    assert not (tmp_path / "refused" / "metrics.json").exists()


# ------------------------------------------------------------------------------------------------- resume
RUN_SCRIPT = """
import json, sys
from pathlib import Path
from mfon.data import FeatureSources
from mfon.layout import run_outputs
from mfon.mfon_training import train_mfon
args = json.loads(sys.argv[1])
sources = FeatureSources(**{k: Path(v) for k, v in args["sources"].items()})
train_mfon(sources, {m: Path(p) for m, p in args["teachers"].items()}, model=args["model"],
           training=args["training"], loss=args["loss"], runtime=args["runtime"], seed=7,
           outputs=run_outputs(Path(args["out_dir"])), threads=1)
"""


def run_args(sources, teachers_dir, out_dir, **training) -> str:
    return json.dumps({"sources": {k: str(v) for k, v in sources.__dict__.items()},
                       "teachers": {m: str(teachers_dir / m / "checkpoint.pt") for m in ("visual", "acoustic")},
                       "model": MODEL,
                       "training": {**TRAINING, "epochs": 4, **training}, "loss": LOSS, "runtime": RUNTIME,
                       "out_dir": str(out_dir)})


def start_run(script: Path, args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen([sys.executable, str(script), args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def without_seconds(path: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in read_tsv(path)]


def test_a_killed_run_resumes_to_the_same_outputs(teachers, sources, tmp_path):
    out, _ = teachers
    script = tmp_path / "run.py"
    script.write_text(RUN_SCRIPT)
    whole = start_run(script, run_args(sources, out, tmp_path / "whole"))
    assert whole.wait(timeout=600) == 0, whole.stderr.read()

    killed_dir = tmp_path / "killed"
    proc = start_run(script, run_args(sources, out, killed_dir))
    deadline = time.monotonic() + 600
    while not (killed_dir / RESUME_FILE).exists():  # wait for the first completed epoch
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)  # somewhere in a later epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (killed_dir / "checkpoint.pt").exists(), "the run finished before it was killed"
    epoch_at_kill = torch.load(killed_dir / RESUME_FILE, weights_only=True)["epoch"]
    assert 1 <= epoch_at_kill < 4

    again = start_run(script, run_args(sources, out, killed_dir))
    assert again.wait(timeout=600) == 0, again.stderr.read()
    assert not (killed_dir / RESUME_FILE).exists()
    for name in ("checkpoint.pt", "predictions.tsv", "metrics.json"):
        assert (killed_dir / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert without_seconds(killed_dir / "history.tsv") == without_seconds(tmp_path / "whole" / "history.tsv")


def test_sigterm_stops_a_run_at_the_next_epoch_boundary_and_a_rerun_continues_it(teachers, sources, tmp_path):
    # A background run stopped with SIGTERM trained on to its end; now it stops after the epoch under way
    out, _ = teachers
    script = tmp_path / "run.py"
    script.write_text("from mfon.logutil import setup_logging\nsetup_logging()\n" + RUN_SCRIPT)  # log to stderr
    whole = start_run(script, run_args(sources, out, tmp_path / "whole", epochs=8))
    assert whole.wait(timeout=600) == 0, whole.stderr.read()
    stopped_dir = tmp_path / "stopped"
    proc = start_run(script, run_args(sources, out, stopped_dir, epochs=8))
    deadline = time.monotonic() + 600
    while not (stopped_dir / RESUME_FILE).exists():  # the first epoch is done
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=300) == 1
    log = proc.stderr.read()
    epoch = torch.load(stopped_dir / RESUME_FILE, weights_only=True)["epoch"]
    assert 1 <= epoch < 8 and f"stopped by SIGTERM after epoch {epoch} of 8; rerun the same command" in log, log
    assert log.count(" epoch ") - log.count("stopped by SIGTERM after epoch") == epoch  # no epoch begun after it
    assert f"epoch 1/8: " in log and "s to go)" in log  # each epoch line says how long the run has left
    assert not any((stopped_dir / name).exists() for name in ("checkpoint.pt", "metrics.json", "predictions.tsv",
                                                                 "history.tsv")), "outputs that look finished"
    again = start_run(script, run_args(sources, out, stopped_dir, epochs=8))
    assert again.wait(timeout=600) == 0, again.stderr.read()
    for name in ("checkpoint.pt", "predictions.tsv", "metrics.json"):
        assert (stopped_dir / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def test_epoch_lines_say_how_long_the_run_has_left():
    from mfon.training import time_left

    assert time_left([{"seconds": 4.0}, {"seconds": 6.0}], 3) == "; about 15 s to go"
    assert time_left([{"seconds": 10.0}], 30) == "; about 5 min to go"
    assert time_left([{"seconds": 10.0}], 0) == ""  # the last epoch


def test_a_resume_state_of_another_config_is_refused(teachers, sources, tmp_path, monkeypatch, caplog):
    import mfon.mfon_training as training_module

    out, _ = teachers
    paths = {m: out / m / "checkpoint.pt" for m in ("visual", "acoustic")}
    model = MODEL

    def crash(*args, **kwargs):
        raise RuntimeError("killed before the outputs were written")

    with monkeypatch.context() as patch:
        patch.setattr(training_module, "write_run_outputs", crash)
        with pytest.raises(RuntimeError):
            train_mfon(sources, paths, model=model, training=TRAINING, loss=LOSS, runtime=RUNTIME, seed=7,
                       outputs=run_outputs(tmp_path / "run"))
    assert (tmp_path / "run" / RESUME_FILE).exists()
    other = {**TRAINING, "lr": {**TRAINING["lr"], "fusion": 5e-3}}
    with caplog.at_level("WARNING", logger="mfon.training"):
        resumed = train_mfon(sources, paths, model=model, training=other, loss=LOSS, runtime=RUNTIME, seed=7,
                             outputs=run_outputs(tmp_path / "run"))
    assert "written by a run with other settings or inputs" in caplog.text
    fresh = train_mfon(sources, paths, model=model, training=other, loss=LOSS, runtime=RUNTIME, seed=7,
                       outputs=run_outputs(tmp_path / "fresh"))
    assert resumed["test"] == fresh["test"]
    assert len(read_tsv(tmp_path / "run" / "history.tsv")) == TRAINING["epochs"]
