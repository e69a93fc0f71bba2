"""Real Snakemake runs of the feature stage on a tiny demo corpus, and what a change reruns."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from mfon.atomic import read_tsv
from mfon.h5store import ROOT_ATTRIBUTES, FeatureFile

from conftest import PROJECT_ROOT

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
WORKFLOW_FILES = ("Snakefile", "rules", "workflow_scripts", "mfon", "config", "envs")

TINY_CONFIG = {
    "datasets": {"tiny": "config/datasets/tiny.yaml"},
    "targets": ["tiny"],
    "extraction": {"shards": 2},
    "acoustic": {"feature_set": "eGeMAPSv02"},
    "visual": {"fps": 5},
    "text": {"max_length": 24},
    "model": {"d_model": 16, "n_heads": 2, "max_len": {"visual": 10, "acoustic": 50},
              "mpa_layers": {"visual": 1, "acoustic": 1}, "teacher_layers": {"visual": 1, "acoustic": 1},
              "fusion_hidden": [16], "teacher_head_hidden": [8]},
    "teacher_training": {"epochs": 1, "batch_size": 4},
    "training": {"epochs": 1, "batch_size": 4, "grad_accum": 1},
    "runtime": {"gpus": 1},
    "experiment": {"variants": ["mfon", "text_only"], "seeds": [1111]},
    "analysis": {"outputs": False},  # what reruns here is about features, training and tables; figures: test_report
}
TINY_DATASET = {"name": "tiny", "root": "data/tiny",
                "demo": {"n_speakers": 3, "clips_per_speaker": 3, "seed": 3, "min_duration": 1.0,
                         "max_duration": 1.5}}
N_CLIPS = 9


def snakemake(workflow: Path, workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run([*SNAKEMAKE, "-s", str(workflow / "Snakefile"), "--directory", str(workdir), *args],
                          capture_output=True, text=True, env=env, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def planned_jobs(output: str) -> set[tuple[str, str]]:
    """(rule, first output) of every job in a dry run's listing."""
    jobs, rule = set(), None
    for line in output.splitlines():
        match = re.match(r"^(?:local)?rule (\w+):", line)
        if match:
            rule = match.group(1)
            if rule == "all":
                jobs.add(("all", ""))
        elif rule and line.strip().startswith("output:"):
            jobs.add((rule, line.split(":", 1)[1].strip().split(",")[0]))
            rule = None
    return jobs


def finished_copy(base: Path, config: dict, dataset: dict, files=WORKFLOW_FILES) -> tuple[Path, Path]:
    """A copy of the workflow (so that editing its code is safe) and a finished run of it on ``dataset``."""
    workflow, workdir = base / "workflow", base / "run"
    workflow.mkdir()
    for name in files:
        src = PROJECT_ROOT / name
        if src.is_dir():
            shutil.copytree(src, workflow / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, workflow / name)
    (workdir / "config" / "datasets").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    (workdir / "config" / "datasets" / f"{dataset['name']}.yaml").write_text(yaml.safe_dump(dataset))
    snakemake(workflow, workdir, "--cores", "2")
    return workflow, workdir


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return finished_copy(tmp_path_factory.mktemp("wf"), TINY_CONFIG, TINY_DATASET)


def test_lint_is_clean():
    proc = subprocess.run([*SNAKEMAKE, "--lint", "-s", str(PROJECT_ROOT / "Snakefile"), "--directory",
                           str(PROJECT_ROOT)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_all_feature_files_exist_with_documented_schema(run):
    _, workdir = run
    results = workdir / "results" / "tiny"
    manifest = read_tsv(results / "manifest.tsv")
    assert len(manifest) == N_CLIPS and read_tsv(results / "qc" / "rejected.tsv") == []
    keys = [row["key"] for row in manifest]
    for modality in ("acoustic", "visual", "text"):
        with FeatureFile(results / "features" / f"{modality}_features.h5") as ff:
            assert set(ROOT_ATTRIBUTES) <= set(ff.attrs), modality
            assert ff.attrs["modality"] == modality and ff.attrs["dataset"] == "tiny"
            assert ff.keys() == keys
            assert len(ff.attrs["config_hash"]) == 64 and "mfon" in ff.versions
            clip = ff.clip(keys[0])
            if modality == "text":
                assert clip["input_ids"].shape == (24,) and clip["attrs"]["text"] == manifest[0]["text"]
                continue
            duration = float(manifest[0]["duration_s"])
            assert clip["features"].shape[1] == len(ff.attrs["dim_names"])
            assert abs(clip["features"].shape[0] - duration * ff.attrs["frame_rate"]) <= 3
            assert np.isfinite(clip["features"]).all()
    with FeatureFile(results / "features" / "visual_features.h5") as ff:
        found = np.concatenate([ff.clip(k)["valid"] for k in keys])
        assert found.mean() > 0.9, "the drawn demo face should be found in nearly every frame"
    status = read_tsv(results / "qc" / "clip_status.tsv")
    assert [row["usable"] for row in status] == ["1"] * N_CLIPS
    assert len(list((results / "features" / "shards").glob("*.h5"))) == 4  # 2 shards x 2 modalities


def test_inspect_cli_prints_provenance(run):
    _, workdir = run
    proc = subprocess.run([sys.executable, "-m", "mfon.cli", "inspect",
                           str(workdir / "results/tiny/features/acoustic_features.h5")],
                          capture_output=True, text=True, check=True)
    assert "modality: acoustic" in proc.stdout and f"clips: {N_CLIPS}" in proc.stdout and "eGeMAPSv02" in proc.stdout


def test_nothing_reruns_when_nothing_changed(run):
    workflow, workdir = run
    out = snakemake(workflow, workdir, "-n", "--cores", "2").stdout
    assert planned_jobs(out) == set(), out


def test_acoustic_change_reruns_acoustic_only(run):
    workflow, workdir = run
    changed = {**TINY_CONFIG, "acoustic": {"feature_set": "eGeMAPSv02", "pool_rate": 25}}
    (workdir / "changed.yaml").write_text(yaml.safe_dump(changed))
    out = snakemake(workflow, workdir, "-n", "--cores", "2", "--configfile", str(workdir / "changed.yaml")).stdout
    jobs = planned_jobs(out)
    rules = {rule for rule, _ in jobs}
    assert {"acoustic_features_shard", "merge_features", "clip_status"} <= rules, out
    assert not rules & {"visual_features_shard", "text_features", "ingest", "demo_corpus"}, out
    assert {"train_teacher", "train_mfon", "table"} <= rules, "features changed: what was trained on them reruns"
    merged = {output for rule, output in jobs if rule == "merge_features"}
    assert merged == {"results/tiny/features/acoustic_features.h5"}, out


def test_editing_visual_module_reruns_visual_only(run):
    workflow, workdir = run
    module = workflow / "mfon" / "features" / "visual.py"
    original, stat = module.read_text(), module.stat()
    try:
        module.write_text(original + "\n# edited\n")
        out = snakemake(workflow, workdir, "-n", "--cores", "2").stdout
    finally:  # later tests share this run
        module.write_text(original)
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    rules = {rule for rule, _ in planned_jobs(out)}
    assert "visual_features_shard" in rules and "clip_status" in rules, out
    assert not rules & {"acoustic_features_shard", "text_features", "ingest"}, out


def test_broken_sheet_stops_with_a_message(tmp_path):
    (tmp_path / "config" / "datasets").mkdir(parents=True)
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(
        {"datasets": {"bad": "config/datasets/bad.yaml"}, "targets": ["bad"]}))
    (tmp_path / "config" / "datasets" / "bad.yaml").write_text(yaml.safe_dump({"name": "bad", "root": "data/bad"}))
    (tmp_path / "data" / "bad").mkdir(parents=True)
    (tmp_path / "data" / "bad" / "label.csv").write_text("video_id,clip_id,text\nv,1,hi\n")
    proc = snakemake(PROJECT_ROOT, tmp_path, "--cores", "1", "results/bad/manifest.tsv", check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs" / "bad" / "ingest.log").read_text()
    assert "missing required column(s) ['label', 'mode']" in log
    assert not (tmp_path / "results" / "bad" / "manifest.tsv").exists()


def test_table_has_one_row_per_variant(run):
    _, workdir = run
    import csv

    with open(workdir / "results" / "tiny_table.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["variant"] for r in rows] == ["mfon", "text_only"]
    for row in rows:
        assert row["n_seeds"] == "1" and row["seeds"] == "1111" and row["quarantined_test"] == "0"
        assert int(row["clips_train"]) + int(row["clips_valid"]) + int(row["clips_test"]) == N_CLIPS
        assert 0 <= float(row["Has0_acc_2_mean"]) <= 100 and float(row["MAE_std"]) == 0.0
    metrics = json.loads((workdir / "results/tiny/mfon/mfon/seed1111/metrics.json").read_text())
    assert set(metrics["test"]) >= {"Has0_acc_2", "Non0_F1_score", "Mult_acc_7", "MAE", "Corr"}


def test_mfon_hyperparameter_change_reruns_mfon_runs_and_table_only(run):
    workflow, workdir = run
    changed = {**TINY_CONFIG, "loss": {"beta": 0.1}}
    (workdir / "beta.yaml").write_text(yaml.safe_dump(changed))
    out = snakemake(workflow, workdir, "-n", "--cores", "2", "--configfile", str(workdir / "beta.yaml")).stdout
    jobs = planned_jobs(out)
    assert {rule for rule, _ in jobs} == {"train_mfon", "table", "all"}, out
    # text_only has no contrastive term, so only the full model's run is stale.
    assert {o for r, o in jobs if r == "train_mfon"} == {"results/tiny/mfon/mfon/seed1111/checkpoint.pt"}, out


def test_adding_a_seed_runs_only_that_seed(run):
    workflow, workdir = run
    changed = {**TINY_CONFIG, "experiment": {**TINY_CONFIG["experiment"], "seeds": [1111, 1112]}}
    (workdir / "seeds.yaml").write_text(yaml.safe_dump(changed))
    out = snakemake(workflow, workdir, "-n", "--cores", "2", "--configfile", str(workdir / "seeds.yaml")).stdout
    jobs = planned_jobs(out)
    assert {rule for rule, _ in jobs} == {"train_teacher", "train_mfon", "table", "all"}, out
    trained = [o for r, o in jobs if r in ("train_teacher", "train_mfon")]
    assert len(trained) == 4 and all("/seed1112/" in o for o in trained), out


FAKE_SLURM = {
    # Records each submission and answers like sbatch --parsable; the jobs never run.
    "sbatch": '#!/bin/sh\necho "$@" >> "$FAKE_SLURM_LOG"\necho 4242\n',
    # Job status queries get "failed"; the account lookup gets nothing (no account guessed).
    "sacct": '#!/bin/sh\ncase "$*" in *Account*) exit 0;; esac\necho "4242|FAILED|1:0"\n',
    "squeue": "#!/bin/sh\nexit 0\n",
    "sinfo": '#!/bin/sh\necho "PARTITION"\necho "main*"\n',
    "scontrol": "#!/bin/sh\nexit 0\n",
}


def test_slurm_profile_requests_gpus_for_training_only(run, tmp_path):
    workflow, shared_workdir = run
    workdir = tmp_path / "run"  # failed (never-run) jobs lose their outputs: work on a copy
    shutil.copytree(shared_workdir, workdir)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in FAKE_SLURM.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "submissions.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_SLURM_LOG": str(log)}
    targets = {"results/tiny/features/shards/visual_0of2.h5": "visual_features_shard",
               "results/tiny/teachers/visual/seed1111/checkpoint.pt": "train_teacher"}
    for target, rule in targets.items():
        subprocess.run([*SNAKEMAKE, "-s", str(workflow / "Snakefile"), "--directory", str(workdir),
                        "--profile", str(PROJECT_ROOT / "slurm"), "--forcerun", rule, "--retries", "0",
                        "--latency-wait", "1", "--jobs", "1", "--slurm-init-seconds-before-status-checks", "1",
                        "--seconds-between-status-checks", "1", "--slurm-status-attempts", "1", target],
                       capture_output=True, text=True, env=env, timeout=300)
    lines = log.read_text().splitlines()
    feature = [line for line in lines if "visual_features_shard" in line]
    training = [line for line in lines if "train_teacher" in line]
    assert feature and training, lines
    assert "--gpus" not in feature[0] and "gpu" not in feature[0].split("--wrap")[0], feature[0]
    assert re.search(r"--gpus[= ]1\b", training[0].split("--wrap")[0]), training[0]
