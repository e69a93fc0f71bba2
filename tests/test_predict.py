"""`mfon predict`: one new clip through the run's own feature path gives the run's own prediction for it.

A tiny real run is built with the pipeline's functions (demo clips -> ingest -> acoustic/visual extraction ->
tokenization -> clip status -> teachers -> MFON, laid out under results/<dataset>/ like the workflow), then a clip
of its valid/test split is predicted from its video and transcript alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mfon.layout import run_outputs
from mfon.tsv import read_tsv
from mfon.checkpoints import load_mfon_model
from mfon.data import FeatureSources, Standardizer, collate, load_split
from mfon.demo import generate_demo_corpus
from mfon.errors import MfonError
from mfon.extraction import extract_shard
from mfon.features.text import tokenize_manifest
from mfon.manifest import ingest, write_ingest
from mfon.predict import Predictor, extract_modality, model_inputs, predict_clip
from mfon.qc import clip_status
from mfon.mfon_training import train_mfon
from mfon.teacher_training import train_teacher

from mediafactory import write_clip

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATASET = "tiny"
SEED = 7
SETTINGS = {
    "acoustic": {"feature_set": "eGeMAPSv02", "sample_rate": 16000, "pool_rate": 25},
    "visual": {"backend": "mediapipe", "fps": 5, "max_side": 640, "min_detection_confidence": 0.5,
               "no_face_policy": "keep", "device": "cpu"},
    "text": {"model": "packaged:all-MiniLM-L6-v2", "max_length": 16},
}
# max_len below the clips' lengths (1-1.5 s: 5-8 visual frames at 5 fps, 25-38 acoustic frames at 25 Hz),
# so that truncation is part of what must match.
MODEL = {"d_model": 16, "n_heads": 2, "max_len": {"text": 16, "visual": 6, "acoustic": 30},
         "mpa_layers": {"visual": 1, "acoustic": 1}, "teacher_layers": {"visual": 1, "acoustic": 1},
         "teacher_dropout": {"visual": 0.0, "acoustic": 0.0}, "fusion_hidden": [16], "teacher_head_hidden": [8],
         "text_model": "packaged:all-MiniLM-L6-v2"}
RUNTIME = {"device": "cpu", "bf16": False, "gpus": 0, "threads": 1}
TEACHER_TRAINING = {"epochs": 1, "batch_size": 8, "lr": 0.005, "weight_decay": 0.0, "amsgrad": True,
                    "label": "label", "early_stopping_patience": None, "standardize": True}
TRAINING = {"epochs": 1, "batch_size": 8, "grad_accum": 1, "amsgrad": False, "early_stopping_patience": None,
            "standardize": True, "lr": {"text": 1e-4, "acoustic": 1e-3, "visual": 1e-3, "fusion": 1e-3},
            "weight_decay": {"text": 0.0, "acoustic": 0.0, "visual": 0.0, "fusion": 0.0}}
LOSS = {"alpha": 0.5, "beta": 0.5}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished tiny run: (run folder, manifest rows by key, predictions by key)."""
    tmp = tmp_path_factory.mktemp("predict")
    label_csv = generate_demo_corpus(tmp / "data", n_speakers=3, clips_per_speaker=2, min_duration=1.0,
                                     max_duration=1.5, seed=1)
    base = tmp / "results" / DATASET
    sources = FeatureSources.for_dataset(tmp / "results", DATASET)
    (base / "qc").mkdir(parents=True)
    (base / "features").mkdir()
    write_ingest(ingest(label_csv, tmp / "data"), sources.manifest, base / "qc" / "rejected.tsv")
    for modality in ("acoustic", "visual"):
        extract_shard(sources.manifest, getattr(sources, modality), base / "qc" / f"{modality}_report.tsv",
                      modality=modality, dataset=DATASET, settings=SETTINGS[modality])
    tokenize_manifest(sources.manifest, sources.text, dataset=DATASET, settings=SETTINGS["text"])
    clip_status(base / "qc" / "rejected.tsv", sources.manifest, base / "qc" / "acoustic_report.tsv",
                base / "qc" / "visual_report.tsv", sources.text, sources.clip_status)
    teachers = {}
    for modality in ("visual", "acoustic"):
        out = base / "teachers" / modality / f"seed{SEED}"
        train_teacher(sources, modality, model=MODEL, training=TEACHER_TRAINING, runtime=RUNTIME, seed=SEED,
                      outputs=run_outputs(out))
        teachers[modality] = out / "checkpoint.pt"
    run_dir = base / "mfon" / "mfon" / f"seed{SEED}"
    train_mfon(sources, teachers, model={**MODEL, "modalities": ["text", "visual", "acoustic"], "guide": "text"},
               training=TRAINING, loss=LOSS, runtime=RUNTIME, seed=SEED, outputs=run_outputs(run_dir), variant="mfon")
    manifest = {r["key"]: r for r in read_tsv(sources.manifest)}
    predictions = {r["key"]: float(r["prediction"]) for r in read_tsv(run_dir / "predictions.tsv")}
    return run_dir, manifest, predictions


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "mfon.cli", "predict", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=PROJECT_ROOT, timeout=120)


def test_prediction_of_a_held_out_clip_matches_the_runs_own(run):
    run_dir, manifest, predictions = run
    assert predictions, "the run predicted no valid/test clip"
    for key, expected in predictions.items():
        clip = manifest[key]
        result = predict_clip(run_dir, Path(clip["media_path"]), clip["text"], with_teachers=True)
        assert np.isfinite(result["sentiment"])
        assert result["sentiment"] == pytest.approx(expected, abs=1e-4), key
        assert set(result["teachers"]) == {"visual", "acoustic"}
        assert all(np.isfinite(v) for v in result["teachers"].values())
        assert result["frames"] == {"visual": min(6, result["frames_extracted"]["visual"]),
                                    "acoustic": min(30, result["frames_extracted"]["acoustic"])}
        assert 0.0 <= result["face_fraction"] <= 1.0
        assert (result["variant"], result["seed"]) == ("mfon", SEED)


def test_a_clip_gets_the_same_model_inputs_from_predict_as_from_the_pipeline(run):
    """Predict cleans, truncates and standardises a clip with the pipeline's own functions: equal tensors."""
    run_dir, manifest, predictions = run
    key = next(iter(predictions))
    model, state = load_mfon_model(Path(run_outputs(str(run_dir))["checkpoint"]))
    max_len = {m: model.config.max_len[m] for m in ("visual", "acoustic")}
    standardizer = Standardizer.from_state(state["standardizer"])
    data = load_split(FeatureSources.for_dataset(run_dir.parents[3], DATASET), manifest[key]["mode"],
                      max_len=max_len, standardizer=standardizer)
    pipeline = collate(data, [data.keys.index(key)], max_len)
    with Predictor(run_dir) as predictor:
        features = {m: extract_modality(Path(manifest[key]["media_path"]), m, predictor.settings[m])
                    for m in ("visual", "acoustic")}
        predicted = model_inputs(features, predictor._text(manifest[key]["text"]), max_len, standardizer)
    assert set(predicted) == set(pipeline)
    inputs = [name for name in pipeline if name != "label"]  # a new clip has no label
    assert {"text_input_ids", "visual", "visual_lengths", "acoustic", "acoustic_lengths"} <= set(inputs)
    for name in inputs:
        assert predicted[name].dtype == pipeline[name].dtype and torch.equal(predicted[name], pipeline[name]), name


def test_teacher_scores_match_the_teachers_own_predictions(run):
    run_dir, manifest, _ = run
    teachers = run_dir.parents[2] / "teachers"
    key, expected = next(iter({r["key"]: float(r["prediction"])
                               for r in read_tsv(teachers / "acoustic" / f"seed{SEED}" / "predictions.tsv")}.items()))
    clip = manifest[key]
    result = predict_clip(run_dir / "checkpoint.pt", Path(clip["media_path"]), clip["text"], with_teachers=True)
    assert result["teachers"]["acoustic"] == pytest.approx(expected, abs=1e-4)
    visual = {r["key"]: float(r["prediction"])
              for r in read_tsv(teachers / "visual" / f"seed{SEED}" / "predictions.tsv")}
    assert result["teachers"]["visual"] == pytest.approx(visual[key], abs=1e-4)


def test_unimodal_variant_needs_neither_transcript_nor_face(run):
    run_dir, manifest, _ = run
    sources = FeatureSources.for_dataset(run_dir.parents[3], DATASET)
    out = run_dir.parents[1] / "acoustic_only" / f"seed{SEED}"
    train_mfon(sources, {}, model={**MODEL, "modalities": ["acoustic"], "guide": "acoustic"}, training=TRAINING,
               loss={"alpha": 0.0, "beta": 0.0}, runtime=RUNTIME, seed=SEED, outputs=run_outputs(out),
               variant="acoustic_only")
    row = read_tsv(out / "predictions.tsv")[0]
    result = predict_clip(out, Path(manifest[row["key"]]["media_path"]), None)
    assert result["sentiment"] == pytest.approx(float(row["prediction"]), abs=1e-4)
    assert result["frames"] == {"acoustic": 30} and result["face_fraction"] is None
    assert result["variant"] == "acoustic_only"


def test_cli_prints_the_same_number_as_json_and_a_summary(run):
    run_dir, manifest, predictions = run
    key = next(iter(predictions))
    clip = manifest[key]
    proc = _cli(run_dir, clip["media_path"], "--text", clip["text"], "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["sentiment"] == pytest.approx(predictions[key], abs=1e-4)
    assert "teachers" not in result
    proc = _cli(run_dir / "checkpoint.pt", clip["media_path"], "--text", clip["text"], "--teachers")
    assert proc.returncode == 0, proc.stderr
    assert f"sentiment: {predictions[key]:+.3f}" in proc.stdout
    assert "teachers:  visual" in proc.stdout and "frames:" in proc.stdout and "face:" in proc.stdout
    # MediaPipe/TFLite/absl lines (`W0000 ... inference_feedback_manager.cc:114] ...`) go to a log the console names
    assert ".cc:" not in proc.stderr, proc.stderr
    (note,) = [line for line in proc.stderr.splitlines() if "native-library messages" in line]
    log = Path(note.rsplit(" in ", 1)[1])
    assert ".cc:" in log.read_text()
    log.unlink()


def test_errors_name_the_file(run, tmp_path):
    run_dir, manifest, predictions = run
    clip = manifest[next(iter(predictions))]
    video, text = Path(clip["media_path"]), clip["text"]
    with pytest.raises(MfonError, match="run folder or checkpoint not found: .*nowhere"):
        predict_clip(tmp_path / "nowhere", video, text)
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(MfonError, match="holds no checkpoint.pt"):
        predict_clip(tmp_path / "empty_run", video, text)
    teacher = run_dir.parents[2] / "teachers" / "visual" / f"seed{SEED}"
    with pytest.raises(MfonError, match="is a teacher checkpoint, expected mfon"):
        predict_clip(teacher, video, text)
    silent = write_clip(tmp_path / "silent.mp4", seconds=1.0, audio=False)
    with pytest.raises(MfonError, match=f"{silent}: has no audio stream"):
        predict_clip(run_dir, silent, text)
    with pytest.raises(MfonError, match="pass it with --text"):
        predict_clip(run_dir, video, None)
    with pytest.raises(MfonError, match=r"checkpoint.pt: the transcript is empty"):
        predict_clip(run_dir, video, "  ")
    # Teachers of another seed are not there: the message names the expected path.
    other = tmp_path / "results" / DATASET / "mfon" / "mfon" / f"seed{SEED}"
    other.mkdir(parents=True)
    (other / "checkpoint.pt").symlink_to(run_dir / "checkpoint.pt")
    expected = tmp_path / "results" / DATASET / "teachers" / "visual" / f"seed{SEED}" / "checkpoint.pt"
    with pytest.raises(MfonError, match=f"teacher checkpoint not found: {expected}"):
        predict_clip(other, video, text, with_teachers=True)
    proc = _cli(run_dir, silent, "--text", text)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(f"mfon: error: {silent}: has no audio stream")


def test_cli_empty_transcript_says_it_is_empty(run):
    run_dir, manifest, predictions = run
    proc = _cli(run_dir, manifest[next(iter(predictions))]["media_path"], "--text", "")
    assert proc.returncode == 1
    assert "the transcript is empty" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("edit,message", [
    (lambda s: s["config"]["model"].update(d_model=32),
     r"tensor\(s\) of another shape \(\S+ is \(16, \d+\) in the weights but \(32, \d+\) by the config"),
    (lambda s: s["config"]["model"].update(fusion_hidden=[16, 8]),
     r"tensor\(s\) the config needs are not in the weights \(fusion\."),
    (lambda s: s["state_dict"].update(extra_layer=s["state_dict"][next(iter(s["state_dict"]))]),
     r"1 tensor\(s\) in the weights have no place in the config \(extra_layer\)"),
    (lambda s: s["config"]["model"].update(n_heads=3),
     r"its stored model config (is not valid|cannot build a model)"),
])
def test_checkpoint_whose_config_does_not_fit_its_weights_says_what(run, tmp_path, edit, message):
    import torch

    run_dir, manifest, predictions = run
    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    edit(state)
    torch.save(state, tmp_path / "edited.pt")
    clip = manifest[next(iter(predictions))]
    with pytest.raises(MfonError) as err:
        predict_clip(tmp_path / "edited.pt", Path(clip["media_path"]), clip["text"])
    assert str(err.value).startswith(f"{tmp_path / 'edited.pt'}: its stored model config")
    assert re.search(message, str(err.value)), str(err.value)


def test_checkpoint_without_recorded_feature_settings_is_refused(run, tmp_path):
    import torch

    run_dir, manifest, predictions = run
    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    for modality in ("text", "visual", "acoustic"):
        del state["provenance"][modality]["settings"]
    torch.save(state, tmp_path / "old.pt")
    clip = manifest[next(iter(predictions))]
    with pytest.raises(MfonError, match="does not record the .* feature settings"):
        predict_clip(tmp_path / "old.pt", Path(clip["media_path"]), clip["text"])


def test_real_mosi_clip_gives_a_finite_score(run, shared_data):
    run_dir, _, _ = run
    video = shared_data / "mosi_clips" / "Oz06ZWiO20M_6.mp4"
    text = ("and sucker punch is a failer but like a really ambitious weird the interesting idiosyncratic "
            "failure")
    result = predict_clip(run_dir, video, text, with_teachers=True)
    assert np.isfinite(result["sentiment"]) and all(np.isfinite(v) for v in result["teachers"].values())
    assert result["frames_extracted"]["visual"] > result["frames"]["visual"] == 6  # 7.5 s at 5 fps, truncated
    assert result["face_fraction"] > 0.5


# ------------------------------------------------------------------------------------------------- batch mode
def test_batch_over_a_sheet_equals_single_clip_predictions(run, tmp_path):
    run_dir, manifest, predictions = run
    root = run_dir.parents[4] / "data"
    keys = list(predictions)
    lines = ["video_id,clip_id,text"]
    for key in keys:
        clip = manifest[key]
        lines.append(f'{clip["video_id"]},{clip["clip_id"]},"{clip["text"]}"')
    lines += [f"{manifest[keys[0]]['video_id']},nowhere,some words", "v,x,well, no quotes"]
    (tmp_path / "sheet.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.tsv"
    proc = _cli(run_dir, "--sheet", tmp_path / "sheet.csv", "--root", root, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(keys)} of {len(keys) + 2} clips scored, 2 failed" in proc.stderr
    rows = read_tsv(out)
    assert [r["clip_id"] for r in rows] == [manifest[k]["clip_id"] for k in keys] + ["nowhere", "x"]
    for key, row in zip(keys, rows):
        clip = manifest[key]
        single = predict_clip(run_dir, Path(clip["media_path"]), clip["text"])
        assert row["status"] == "ok" and row["reason"] == ""
        assert float(row["sentiment"]) == pytest.approx(single["sentiment"], abs=1e-6)
        assert float(row["sentiment"]) == pytest.approx(predictions[key], abs=1e-4)  # the run's own
    assert rows[-2]["status"] == "failed" and "nowhere.mp4: media file is missing" in rows[-2]["reason"]
    (warning,) = [line for line in proc.stderr.splitlines() if "nowhere.mp4" in line]
    assert warning.count("nowhere.mp4") == 1, warning  # the path once
    assert rows[-1]["status"] == "failed"
    assert rows[-1]["reason"] == (f"line {len(keys) + 3} has 4 fields but the header has 3 (an unquoted comma "
                                  "inside a value? put the transcript in double quotes)")


def test_batch_over_a_folder_reads_transcripts_beside_the_videos(run, tmp_path):
    run_dir, manifest, predictions = run
    keys = list(predictions)[:2]
    folder = tmp_path / "clips"
    folder.mkdir()
    for i, key in enumerate(keys):
        (folder / f"c{i}.mp4").symlink_to(manifest[key]["media_path"])
    (folder / "c0.txt").write_text(manifest[keys[0]]["text"] + "\n")
    from mfon.predict import Predictor, folder_clips, predict_batch

    with Predictor(run_dir) as predictor:
        rows = predict_batch(predictor, folder_clips(folder))
    assert [(r["clip_id"], r["status"]) for r in rows] == [("c0", "ok"), ("c1", "failed")]
    assert rows[0]["sentiment"] == pytest.approx(predictions[keys[0]], abs=1e-4)
    assert rows[1]["reason"] == f"no transcript: the model reads one; put it in {folder / 'c1.txt'}"


def test_ensemble_over_the_seeds_of_a_variant_is_their_mean(run):
    run_dir, manifest, predictions = run
    variant_dir = run_dir.parent
    other = variant_dir / f"seed{SEED + 1}"
    if not (other / "checkpoint.pt").exists():
        sources = FeatureSources.for_dataset(run_dir.parents[3], DATASET)
        teachers = {m: run_dir.parents[2] / "teachers" / m / f"seed{SEED}" / "checkpoint.pt"
                    for m in ("visual", "acoustic")}
        train_mfon(sources, teachers, model={**MODEL, "modalities": ["text", "visual", "acoustic"], "guide": "text"},
                   training=TRAINING, loss=LOSS, runtime=RUNTIME, seed=SEED + 1, outputs=run_outputs(other),
                   variant="mfon")
    key = next(iter(predictions))
    clip = manifest[key]
    video = Path(clip["media_path"])
    each = [predict_clip(variant_dir / f"seed{s}", video, clip["text"])["sentiment"] for s in (SEED, SEED + 1)]
    assert each[0] != pytest.approx(each[1], abs=1e-6)  # two different models
    result = predict_clip(variant_dir, video, clip["text"])
    assert result["seeds"] == {SEED: pytest.approx(each[0], abs=1e-6), SEED + 1: pytest.approx(each[1], abs=1e-6)}
    assert result["sentiment"] == pytest.approx(np.mean(each), abs=1e-6) and result["seed"] == [SEED, SEED + 1]
    proc = _cli(variant_dir, video, "--text", clip["text"])
    assert proc.returncode == 0, proc.stderr
    assert f"mean of seeds {SEED} {each[0]:+.3f}, {SEED + 1} {each[1]:+.3f}" in proc.stdout
    (variant_dir / "seed99").mkdir()  # an unfinished seed is an error, not left out of the mean
    try:
        with pytest.raises(MfonError, match=r"seed folder\(s\) without checkpoint.pt: .*seed99"):
            predict_clip(variant_dir, video, clip["text"])
    finally:
        (variant_dir / "seed99").rmdir()


@pytest.mark.parametrize("args,message", [
    (["RUN"], "give one clip (VIDEO), a label sheet (--sheet) or a folder of videos (--folder)"),
    (["RUN", "VIDEO", "--folder", "TMP"], "not VIDEO and --folder"),
    (["TMP/nowhere", "VIDEO"], "run folder or checkpoint not found: TMP/nowhere"),
    (["RUN", "TMP/none.mp4"], "TMP/none.mp4: media file is missing"),
    (["RUN", "VIDEO", "--text", ""], "the transcript is empty"),
    (["RUN", "--sheet", "TMP/none.csv"], "TMP/none.csv: label sheet not found"),
    (["RUN", "--folder", "TMP", "--text", "hi"], "--text is for one clip"),
    (["RUN", "--folder", "TMP", "--json"], "--json is for one clip"),
    (["RUN", "VIDEO", "--out", "TMP/x.tsv"], "--out is for batch mode"),
])
def test_argument_errors_are_reported_before_any_model_loads(run, tmp_path, args, message):
    run_dir, manifest, predictions = run
    video = manifest[next(iter(predictions))]["media_path"]
    argv = [a.replace("RUN", str(run_dir)).replace("VIDEO", video).replace("TMP", str(tmp_path)) for a in args]
    code = ("import sys; from mfon.cli import main; rc = main(sys.argv[1:]); "
            "print('torch loaded' if 'torch' in sys.modules else 'torch not loaded'); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "predict", *argv], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout.strip() == "torch not loaded"
    assert proc.stderr.startswith("mfon: error: ") and message.replace("TMP", str(tmp_path)) in proc.stderr


def test_version():
    from mfon import __version__

    proc = subprocess.run([sys.executable, "-m", "mfon.cli", "--version"], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"mfon {__version__}"


def test_a_named_experiments_run_finds_its_own_teacher_or_else_the_default(tmp_path):
    from mfon import layout
    from mfon.predict import teacher_checkpoint

    run = tmp_path / layout.run_outputs(layout.run_dir("demo", "mfon", 1111, experiment="low_lr"))["checkpoint"]
    own, default = (tmp_path / layout.run_outputs(layout.teacher_dir("demo", "visual", 1111, e))["checkpoint"]
                    for e in ("low_lr", None))
    assert teacher_checkpoint(run, "visual", 1111) == default  # the experiment shares the default's teachers
    own.parent.mkdir(parents=True)
    own.write_bytes(b"weights")
    assert teacher_checkpoint(run, "visual", 1111) == own
