"""The paper's protocol on synthetic MMSA pickles: search never reads test labels; every dataset's table path runs."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mfon.layout import run_outputs
from mfon.config import dataset_settings, deep_merge, validate_config
from mfon.data import FeatureSources
from mfon.experiment import search_trial_settings, teacher_settings
from mfon.importers.mmsa import import_mmsa_pickle
from mfon.search import summarize_search
from mfon.mfon_training import train_mfon
from mfon.teacher_training import train_teacher

from conftest import PROJECT_ROOT
from mmsa_fixtures import write_mmsa_fixture

# Sizes small enough for CPU minutes; everything else comes from the shipped dataset files.
TEST_SIZE = {
    "text": {"model": "packaged:all-MiniLM-L6-v2"},
    "model": {"d_model": 16, "n_heads": 2, "max_len": {"visual": 40, "acoustic": 40},
              "mpa_layers": {"visual": 1, "acoustic": 1}, "teacher_layers": {"visual": 1, "acoustic": 1},
              "fusion_hidden": [16], "teacher_head_hidden": [8]},
    "teacher_training": {"epochs": 1, "batch_size": 8},
    "training": {"epochs": 2, "batch_size": 8, "grad_accum": 1},
    "runtime": {"device": "cpu", "gpus": 0},
    "experiment": {"seeds": [1111], "ablation_variants": ["text_only", "mfon"],
                   "search": {"trials": 2}},
    # The shipped files list the paper's six baselines, MISA among them, which refuses a 384-wide text model at
    # planning time (tests/test_baselines.py); this path is MFON's.
    "baselines": {"models": []},
}
PICKLES = {"mosi": "MOSI/Processed/unaligned_50.pkl", "mosei": "MOSEI/Processed/unaligned_50.pkl",
           "sims": "SIMS/Processed/unaligned_39.pkl"}


def shipped_dataset(name: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / "config" / "datasets" / f"{name}.yaml").read_text())


def test_shipped_dataset_files_carry_the_authors_settings():
    mosi, mosei, sims = (shipped_dataset(n) for n in ("mosi", "mosei", "sims"))
    assert mosi["loss"] == {"alpha": 0.5, "beta": 0.5} and mosei["loss"] == {"alpha": 0.3, "beta": 0.001}
    assert sims["loss"] == {"alpha": 0.5, "beta": 0.005} and sims["experiment"]["metrics"] == "sims"
    assert mosi["model"]["mpa_layers"] == {"visual": 2, "acoustic": 5}
    assert sims["model"]["mpa_layers"] == {"visual": 5, "acoustic": 2} and sims["model"]["mpa_dropout"] == 0.6
    assert mosei["training"]["lr"]["visual"] == 0.0001 and mosei["training"]["weight_decay"]["text"] == 0.01
    assert sims["training"]["weight_decay"]["visual"] == 0.01 and sims["teacher_training"]["label"] == "unimodal"
    assert mosi["text"]["model"] == "bert-base-uncased" and sims["text"]["model"] == "bert-base-chinese"
    assert all(d["experiment"]["search"]["trials"] == 100 for d in (mosi, mosei, sims))


def imported(tmp_path: Path, poison: bool) -> FeatureSources:
    pickle = write_mmsa_fixture(tmp_path / "unaligned_50.pkl", "mosi", n_per_split=(32, 12, 12), seed=3,
                                poison_test_labels=poison)
    sources = FeatureSources.for_dataset(tmp_path / "results", "mosi")
    import_mmsa_pickle(pickle, dataset="mosi", out_manifest=sources.manifest,
                       out_rejected=sources.clip_status.parent / "rejected.tsv", out_clip_status=sources.clip_status,
                       out_text=sources.text, out_visual=sources.visual, out_acoustic=sources.acoustic,
                       text_settings={"model": "packaged:all-MiniLM-L6-v2", "max_length": 50},
                       allow_unknown_sha=True)
    return sources


def test_search_selection_ignores_test_labels(tmp_path):
    """Poisoned test labels (sign-flipped) must change neither what trials score nor which one wins."""
    own = deep_merge(shipped_dataset("mosi"), TEST_SIZE)
    own["experiment"]["search"] = {"trials": 3, "seed": 0, "metric": "MAE", "space": {
        "training.lr.fusion": {"log_uniform": [1e-4, 1e-2]}, "loss.beta": {"choice": [0.0, 0.5]}}}
    (tmp_path / "mosi.yaml").write_text(yaml.safe_dump(own))
    settings = dataset_settings(validate_config({"datasets": {"mosi": "mosi.yaml"}}), "mosi", tmp_path)
    winners = []
    for poison in (False, True):
        root = tmp_path / ("poisoned" if poison else "clean")
        sources = imported(root, poison)
        teachers = {}
        for modality in ("visual", "acoustic"):
            run = teacher_settings(settings, modality)
            train_teacher(sources, modality, model=run["model"], training=run["training"], runtime=settings["runtime"],
                          seed=1111, outputs=run_outputs(root / "teachers" / modality))
            teachers[modality] = root / "teachers" / modality / "checkpoint.pt"
        paths, overrides = [], []
        for trial in range(3):
            run = search_trial_settings(settings, trial)
            train_mfon(sources, {m: teachers[m] for m in run["teachers"]}, model=run["model"],
                       training=run["training"], loss=run["loss"], runtime=settings["runtime"], seed=1111,
                       outputs=run_outputs(root / f"trial{trial}"), eval_splits=("valid",))
            paths.append(root / f"trial{trial}" / "metrics.json")
            overrides.append(run["overrides"])
            assert "test" not in json.loads(paths[-1].read_text())
            assert {r["split"] for r in csv.DictReader(open(root / f"trial{trial}" / "predictions.tsv"),
                                                       delimiter="\t")} == {"valid"}
        best = summarize_search(paths, overrides, root / "search.csv", root / "best.json")
        winners.append((best["trial"], [json.loads(p.read_text())["valid"] for p in paths]))
    assert winners[0] == winners[1]


@pytest.fixture(scope="module")
def fixture_workdir(tmp_path_factory):
    """A working directory with the three fixture pickles in MMSA's layout and test-size dataset files."""
    workdir = tmp_path_factory.mktemp("repro")
    (workdir / "config" / "datasets").mkdir(parents=True)
    for name, relative in PICKLES.items():
        pickle = workdir / "data" / relative
        pickle.parent.mkdir(parents=True)
        write_mmsa_fixture(pickle, name, n_per_split=(24, 8, 8), seed=1)
        own = deep_merge(shipped_dataset(name), TEST_SIZE)
        own["source"]["allow_unknown_sha"] = True  # synthetic pickles are not MMSA's published files
        (workdir / "config" / "datasets" / f"{name}.yaml").write_text(yaml.safe_dump(own))
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(
        {"datasets": {n: f"config/datasets/{n}.yaml" for n in PICKLES}, "targets": list(PICKLES)}))
    return workdir


def test_each_dataset_table_path_runs_on_fixtures(fixture_workdir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(PROJECT_ROOT / "Snakefile"), "--directory",
                           str(fixture_workdir), "--cores", "2"], capture_output=True, text=True, env=env,
                          timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = fixture_workdir / "results"
    for name in PICKLES:
        with open(results / f"{name}_table.csv", newline="") as fh:
            (row,) = list(csv.DictReader(fh))
        key = "Mult_acc_2" if name == "sims" else "Has0_acc_2"
        assert row["variant"] == "mfon" and row[f"{key}_paper"] and row[f"{key}_diff"]
        assert float(row[f"{key}_paper"]) == {"mosi": 84.84, "mosei": 82.70, "sims": 78.56}[name]
        with open(results / f"{name}_ablation.csv", newline="") as fh:
            assert [r["variant"] for r in csv.DictReader(fh)] == ["text_only", "mfon"]
        with open(results / f"{name}_search.csv", newline="") as fh:
            trials = list(csv.DictReader(fh))
        assert len(trials) == 2 and sum(int(t["selected"]) for t in trials) == 1
        assert (results / name / "mfon_tuned" / "seed1111" / "metrics.json").is_file()
        status = list(csv.DictReader(open(results / name / "qc" / "clip_status.tsv"), delimiter="\t"))
        assert len(status) == 40
    sims = json.loads((results / "sims" / "teachers" / "visual" / "seed1111" / "metrics.json").read_text())
    assert "Mult_acc_3" in sims["test"]  # SIMS metric family throughout


def test_missing_pickle_dry_run_says_where_to_put_it(tmp_path):
    (tmp_path / "config" / "datasets").mkdir(parents=True)
    (tmp_path / "config" / "datasets" / "mosi.yaml").write_text(yaml.safe_dump(shipped_dataset("mosi")))
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump({"datasets": {"mosi": "config/datasets/mosi.yaml"}}))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(PROJECT_ROOT / "Snakefile"), "--directory",
                           str(tmp_path), "-n", "results/mosi_table.csv"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert "MMSA feature pickle not found at 'data/MOSI/Processed/unaligned_50.pkl'" in proc.stdout + proc.stderr
