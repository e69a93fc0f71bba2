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

from mfon.tsv import read_tsv
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
    "experiment": {"variants": ["mfon", "text_only", "visual_only"], "seeds": [1111]},
    "analysis": {"outputs": False},  # what reruns here is about features, training and tables; figures: test_report
}
TINY_DATASET = {"name": "tiny", "root": "data/tiny", "acoustic": {"pool_rate": 25},
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


def copy_workflow(dest: Path, names=WORKFLOW_FILES) -> Path:
    """A copy of the project's workflow files at ``dest`` (so that a test may edit its code)."""
    dest.mkdir(parents=True)
    for name in names:
        src = PROJECT_ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dest / name)
    return dest


def finished_copy(base: Path, config: dict, dataset: dict, files=WORKFLOW_FILES) -> tuple[Path, Path]:
    """A copy of the workflow (so that editing its code is safe) and a finished run of it on ``dataset``."""
    workflow, workdir = copy_workflow(base / "workflow", files), base / "run"
    (workdir / "config" / "datasets").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    (workdir / "config" / "datasets" / f"{dataset['name']}.yaml").write_text(yaml.safe_dump(dataset))
    proc = snakemake(workflow, workdir, "--cores", "2")
    (base / "console.txt").write_text(proc.stdout + proc.stderr)  # what the terminal showed
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
    # The shards are temporary: once merged, only the merged files remain.
    assert list((results / "features" / "shards").glob("*")) == []


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
    changed = {**TINY_CONFIG, "acoustic": {"feature_set": "eGeMAPSv02", "pool_rate": 50}}
    (workdir / "changed.yaml").write_text(yaml.safe_dump(changed))
    out = snakemake(workflow, workdir, "-n", "--cores", "2", "--configfile", str(workdir / "changed.yaml")).stdout
    jobs = planned_jobs(out)
    rules = {rule for rule, _ in jobs}
    assert {"features_shard", "merge_features", "clip_status"} <= rules, out
    assert not rules & {"text_features", "ingest", "demo_corpus"}, out
    assert shard_modalities(jobs) == {"acoustic"}, out
    assert {"train_teacher", "train_mfon", "table"} <= rules, "features changed: what was trained on them reruns"
    merged = {output for rule, output in jobs if rule == "merge_features"}
    assert merged == {"results/tiny/features/acoustic_features.h5"}, out
    # Nothing that reads only other modalities: no visual teacher, no visual-only or text-only run.
    trained = {output for rule, output in jobs if rule in ("train_teacher", "teacher_targets", "train_mfon")}
    assert trained == {"results/tiny/teachers/acoustic/seed1111/checkpoint.pt",
                       "results/tiny/teachers/acoustic/seed1111/targets.h5",
                       "results/tiny/mfon/mfon/seed1111/checkpoint.pt"}, out
    statuses = {output for rule, output in jobs if rule == "modality_clip_status"}
    assert statuses == {"results/tiny/qc/acoustic_clip_status.tsv"}, out


def planned_after_editing(workflow: Path, workdir: Path, module: str) -> set[tuple[str, str]]:
    """The jobs a dry run plans while ``module`` (a file of the workflow's copy) carries an edit."""
    path = workflow / module
    original, stat = path.read_text(), path.stat()
    try:
        path.write_text(original + "\n# edited\n")
        return planned_jobs(snakemake(workflow, workdir, "-n", "--cores", "2").stdout)
    finally:  # later tests share this run
        path.write_text(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def shard_modalities(jobs: set[tuple[str, str]]) -> set[str]:
    """The modalities of the planned extraction shards (their files: features/shards/<modality>_<k>of<n>.h5)."""
    return {Path(output).name.split("_")[0] for rule, output in jobs if rule == "features_shard"}


def test_editing_visual_module_reruns_visual_only(run):
    jobs = planned_after_editing(*run, "mfon/features/mediapipe_face.py")  # the default backend
    rules = {rule for rule, _ in jobs}
    assert shard_modalities(jobs) == {"visual"} and "clip_status" in rules, jobs
    assert not rules & {"text_features", "ingest"}, rules


@pytest.mark.parametrize("module", ["mfon/losses.py", "mfon/mfon_training.py"])
def test_editing_the_mfon_loss_or_trainer_reruns_no_teacher(run, module):
    """The teachers and their stored vectors do not run the MFON loss or trainer, so they are not retrained."""
    assert {rule for rule, _ in planned_after_editing(*run, module)} == {"all", "train_mfon", "table"}


def test_console_shows_every_jobs_progress_with_short_job_headers(run):
    # Each job listed every mfon module it runs as an input: lines of 1,615 characters, progress lines buried
    console = (run[1].parent / "console.txt").read_text().splitlines()
    for job in ["tiny/mfon/mfon_seed1111", "tiny/mfon/text_only_seed1111", "tiny/mfon/visual_only_seed1111",
                "tiny/teachers/visual_seed1111", "tiny/teachers/acoustic_seed1111"]:
        assert any(line.startswith(f"[{job}] epoch 1/1: ") for line in console), (job, console)
    assert any(line.startswith("[tiny/ingest] probing clips: 9/9") for line in console)
    assert not [line for line in console if "/mfon/" in line and ".py" in line]  # no module file in a header
    # Headers listed every input and every changed file (the table's: lines of 1,000+ characters); on the console
    # a long list shows its first files and names Snakemake's log, which keeps the whole header
    assert not [line for line in console if len(line) > 300], [line[:120] for line in console if len(line) > 300]
    log = next((run[1] / ".snakemake" / "log").glob("*.snakemake.log")).read_text().splitlines()
    table_inputs = next(line for line in log if line.startswith("    input: results/tiny/mfon/mfon/seed1111/"))
    assert len(table_inputs) > 300 and table_inputs.count(", ") >= 12, table_inputs
    shortened = next(line for line in console if line.startswith("    input: results/tiny/mfon/mfon/seed1111/"))
    assert re.search(r", … and \d+ more \(all in \.snakemake/log/[^ ]+\.snakemake\.log\)$", shortened), shortened


def test_a_dry_run_lists_every_input_and_editing_the_console_code_reruns_nothing(run):
    workflow, workdir = run
    dry_run = snakemake(workflow, workdir, "-n", "--forceall", "--cores", "2").stdout.splitlines()
    table = next(line for line in dry_run if line.startswith("    input: results/tiny/mfon/mfon/seed1111/"))
    assert "… and" not in table and table.count(", ") >= 12, table  # no log file to name: all on the console
    for module in ("mfon/console.py", "mfon/progress.py"):  # the Snakemake process's display, no job's code
        assert planned_after_editing(workflow, workdir, module) == set(), module


def test_console_estimates_the_whole_runs_training_time_left_after_each_job(run):
    console = (run[1].parent / "console.txt").read_text().splitlines()
    steps = [i for i, line in enumerate(console) if re.fullmatch(r"\d+ of \d+ steps \(\d+%\) done", line)]
    estimates = [console[i + 1] for i in steps]
    assert all(line.startswith("whole run: ") for line in estimates), estimates
    # 5 training jobs of 1 epoch: none timed before the first one ends, then measured rates, then none left
    assert estimates[0] == "whole run: 5 training jobs (5 epochs) to go; a time estimate follows the first " \
                           "finished training job", estimates
    timed = [line for line in estimates if " left" in line]
    assert timed and all(re.fullmatch(r"whole run: [1-4] training jobs? \([1-4] epochs?\) to go: about \d+ s left"
                                      r"(, plus \d of a kind not timed yet)? \(estimate: the measured seconds per "
                                      r"epoch of [1-4] finished jobs?, [12] at a time\)", line) for line in timed), timed
    assert estimates[-1] == "whole run: all training jobs done", estimates


def test_a_module_edit_is_explained_by_its_fingerprint(run):
    workflow, workdir = run
    fingerprint = workdir / "results" / ".code" / "train_mfon.sha256"
    assert "  mfon/losses.py\n" in fingerprint.read_text()
    path = workflow / "mfon" / "losses.py"
    original, stat = path.read_text(), path.stat()
    try:
        path.write_text(original + "\n# edited\n")
        dry_run = snakemake(workflow, workdir, "-n", "--cores", "2").stdout
    finally:
        path.write_text(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "Updated input files: results/.code/train_mfon.sha256" in dry_run, dry_run[-3000:]
    assert planned_jobs(snakemake(workflow, workdir, "-n", "--cores", "2").stdout) == set()  # restored: no rerun


def ingest_bad_sheet(workdir: Path, sheet: str) -> subprocess.CompletedProcess:
    """Ingest of a one-dataset workdir whose label.csv is ``sheet``."""
    (workdir / "config" / "datasets").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(
        {"datasets": {"bad": "config/datasets/bad.yaml"}, "targets": ["bad"]}))
    (workdir / "config" / "datasets" / "bad.yaml").write_text(yaml.safe_dump({"name": "bad", "root": "data/bad"}))
    (workdir / "data" / "bad").mkdir(parents=True)
    (workdir / "data" / "bad" / "label.csv").write_text(sheet)
    return snakemake(PROJECT_ROOT, workdir, "--cores", "1", "results/bad/manifest.tsv", check=False)


def test_broken_sheet_stops_with_a_message(tmp_path):
    proc = ingest_bad_sheet(tmp_path, "video_id,clip_id,text\nv,1,hi\n")
    assert proc.returncode != 0
    log = (tmp_path / "logs" / "bad" / "ingest.log").read_text()
    assert "missing required column(s) ['label', 'mode']" in log
    assert not (tmp_path / "results" / "bad" / "manifest.tsv").exists()


def test_all_clips_rejected_lists_them_and_counts_reasons_on_the_console(tmp_path):
    proc = ingest_bad_sheet(tmp_path, "video_id,clip_id,text,label,mode\nv,1,hi,0.5,train\nv,2,ho,0.1,test\n"
                                      "w,1,ha,9,valid\n")
    assert proc.returncode != 0
    console = proc.stdout + proc.stderr
    assert "no usable clip left: all 3 rows rejected (2 x media file is missing, 1 x label" in console, console
    assert "logs/bad/ingest_rejected.tsv" in console, console
    rejected = read_tsv(tmp_path / "logs" / "bad" / "ingest_rejected.tsv")
    assert sorted((r["video_id"], r["clip_id"]) for r in rejected) == [("v", "1"), ("v", "2"), ("w", "1")]
    assert not (tmp_path / "results" / "bad" / "manifest.tsv").exists()


def test_table_has_one_row_per_variant(run):
    _, workdir = run
    import csv

    with open(workdir / "results" / "tiny_table.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["variant"] for r in rows] == ["mfon", "text_only", "visual_only"]
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
    assert {rule for rule, _ in jobs} == {"train_teacher", "teacher_targets", "train_mfon", "table", "all"}, out
    trained = [o for r, o in jobs if r in ("train_teacher", "teacher_targets", "train_mfon")]
    assert len(trained) == 7 and all("/seed1112/" in o for o in trained), out


FAKE_SLURM = {
    # Records each submission and answers like sbatch --parsable; the jobs never run.
    "sbatch": '#!/bin/sh\necho "$@" >> "$FAKE_SLURM_LOG"\necho 4242\n',
    # Job status queries get "failed"; the account lookup gets nothing (no account guessed).
    "sacct": '#!/bin/sh\ncase "$*" in *Account*) exit 0;; esac\necho "4242|FAILED|1:0"\n',
    "squeue": "#!/bin/sh\nexit 0\n",
    "sinfo": '#!/bin/sh\necho "PARTITION"\necho "main*"\n',
    "scontrol": "#!/bin/sh\nexit 0\n",
}


def _slurm_copy(run, tmp_path):
    """(workflow, a copy of the finished run, the environment of stand-in SLURM commands): failed (never-run)
    jobs lose their outputs, so each SLURM test works on its own copy."""
    workflow, shared_workdir = run
    workdir = tmp_path / "run"
    shutil.copytree(shared_workdir, workdir)
    return workflow, workdir, {**os.environ, **_fake_slurm(tmp_path)}


def test_slurm_profile_requests_gpus_for_training_only(run, tmp_path):
    workflow, workdir, env = _slurm_copy(run, tmp_path)
    log = tmp_path / "submissions.log"
    targets = {"results/tiny/features/shards/visual_0of2.h5": "features_shard",
               "results/tiny/teachers/visual/seed1111/checkpoint.pt": "train_teacher"}
    for target, rule in targets.items():
        subprocess.run([*SNAKEMAKE, "-s", str(workflow / "Snakefile"), "--directory", str(workdir),
                        "--profile", str(PROJECT_ROOT / "slurm"), "--forcerun", rule, "--retries", "0",
                        "--latency-wait", "1", "--jobs", "1", "--slurm-init-seconds-before-status-checks", "1",
                        "--seconds-between-status-checks", "1", "--slurm-status-attempts", "1", target],
                       capture_output=True, text=True, env=env, timeout=300)
    lines = log.read_text().splitlines()
    feature = [line for line in lines if "features_shard" in line]
    training = [line for line in lines if "train_teacher" in line]
    assert feature and training, lines
    assert "--gpus" not in feature[0] and "gpu" not in feature[0].split("--wrap")[0], feature[0]
    assert re.search(r"--gpus[= ]1\b", training[0].split("--wrap")[0]), training[0]


def _reversed_keys(value):
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    return value


def test_restated_settings_in_another_key_order_rerun_nothing(run):
    workflow, workdir = run
    # The current values, in another key order and with numbers written differently (5 vs 5.0), plus
    # defaults spelled out: the same settings, so the same params.
    restated = _reversed_keys({**TINY_CONFIG, "acoustic": {"sample_rate": 16000, **TINY_CONFIG["acoustic"]},
                               "visual": {"fps": 5.0, "max_side": 640, "no_face_policy": "keep"},
                               "loss": {"beta": 0.5, "alpha": 0.5}})
    (workdir / "restated.yaml").write_text(yaml.safe_dump(restated, sort_keys=False))
    out = snakemake(workflow, workdir, "-n", "--cores", "2", "--configfile", str(workdir / "restated.yaml")).stdout
    assert planned_jobs(out) == set(), out


def test_runtime_knobs_rerun_nothing(run):
    workflow, workdir = run
    out = snakemake(workflow, workdir, "-n", "--cores", "2", "--config",
                    'runtime={"threads": 2, "gpus": 0, "device": "cpu", "bf16": true, "train_mem_mb": 999}',
                    'visual={"device": "cuda"}').stdout
    assert planned_jobs(out) == set(), out


def test_numeric_command_line_override_is_typed_and_wins_over_the_dataset_file(run, tmp_path):
    workflow, shared_workdir = run
    workdir = tmp_path / "run"
    shutil.copytree(shared_workdir, workdir)
    # The dataset file says pool_rate 25; the command line says 50 (Snakemake hands it over as the text "50").
    snakemake(workflow, workdir, "--cores", "1", "results/tiny/features/acoustic_features.h5",
              "--config", 'acoustic={"pool_rate": 50}')
    with FeatureFile(workdir / "results/tiny/features/acoustic_features.h5") as ff:
        assert ff.attrs["frame_rate"] == 50.0 and ff.settings["pool_rate"] == 50.0


def test_slurm_profile_demo_asks_for_no_gpu_and_small_jobs(tmp_path):
    """A dry run of the shipped demo under --profile slurm: the resources its training jobs would ask for."""
    shutil.copytree(PROJECT_ROOT / "config", tmp_path / "config")
    env = {**os.environ, **_fake_slurm(tmp_path)}
    proc = subprocess.run([*SNAKEMAKE, "-s", str(PROJECT_ROOT / "Snakefile"), "--directory", str(tmp_path),
                           "--profile", str(PROJECT_ROOT / "slurm"), "-n", "results/demo_table.csv"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    training = [block for block in re.split(r"\n(?=rule \w+:)", proc.stdout)
                if re.match(r"rule (train_teacher|train_mfon):", block)]
    assert len(training) == 36, proc.stdout  # 6 teachers + 10 variants x 3 seeds
    for block in training:
        resources = re.search(r"resources: (.*)", block).group(1)
        assert re.search(r"\bgpu=0\b", resources), block
        assert int(re.search(r"\bmem_mb=(\d+)", resources).group(1)) <= 2500, block
        assert int(re.search(r"\bruntime=(\d+)", resources).group(1)) <= 20, block


def test_slurm_profile_runs_cheap_rules_on_the_submitting_host(run, tmp_path):
    workflow, workdir, env = _slurm_copy(run, tmp_path)
    submissions = tmp_path / "submissions.log"

    def under_slurm(*args):
        return subprocess.run([*SNAKEMAKE, "-s", str(workflow / "Snakefile"), "--directory", str(workdir),
                               "--profile", str(PROJECT_ROOT / "slurm"), "--retries", "0", "--latency-wait", "1",
                               "--slurm-init-seconds-before-status-checks", "1",
                               "--seconds-between-status-checks", "1", "--slurm-status-attempts", "1", *args],
                              capture_output=True, text=True, env=env, timeout=300)

    # The table is a local job: it runs here and nothing is submitted.
    proc = under_slurm("--forcerun", "table", "results/tiny_table.csv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not submissions.exists() or submissions.read_text() == "", submissions.read_text()
    # Demo generation runs here too; the first cluster job after it (ingest) is submitted.
    under_slurm("--forcerun", "demo_corpus", "results/tiny/manifest.tsv")
    lines = submissions.read_text().splitlines()
    assert any("ingest" in line for line in lines), lines
    assert not any("demo_corpus" in line for line in lines), lines


def _fake_slurm(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in FAKE_SLURM.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_SLURM_LOG": str(tmp_path / "submissions.log")}


def test_dry_run_benchmark_prints_its_time():
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "benchmarks" / "dry_run.py"), "--repeats", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"best wall \d+\.\d+ s", proc.stdout), proc.stdout
    jobs = int(proc.stdout.splitlines()[-2].split()[-1])
    assert jobs > 300, proc.stdout  # 200 shards, 50 ablation runs, 100 trials, ... were all planned
