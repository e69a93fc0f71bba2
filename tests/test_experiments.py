"""Named experiments (README "Experiments side by side"): a recipe run beside the default one, both kept."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from test_workflow import TINY_CONFIG, TINY_DATASET, finished_copy, planned_jobs, snakemake

CONFIG = {**TINY_CONFIG, "experiment": {"variants": ["mfon"], "seeds": [1111]}}
DEFAULT_RUN = "results/tiny/mfon/mfon/seed1111"
NAMED_RUN = "results/tiny/experiments/low_beta/mfon/mfon/seed1111"


def recipe(workdir, name, **sections):
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"experiment_name": name, **sections}))
    return str(path)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """A finished default run, then a finished named experiment of another loss weight; the file times of the
    default's runs, teachers and features before the named one ran, and the named one's dry-run listing."""
    workflow, workdir = finished_copy(tmp_path_factory.mktemp("experiments"), CONFIG, TINY_DATASET)
    shared = [p for p in (workdir / "results/tiny").rglob("*") if p.is_file()]
    before = {p: p.stat().st_mtime_ns for p in shared}
    low_beta = recipe(workdir, "low_beta", loss={"beta": 0.01})
    planned = snakemake(workflow, workdir, "-n", "--cores", "2", "--configfile", low_beta).stdout
    snakemake(workflow, workdir, "--cores", "2", "--configfile", low_beta)
    return workflow, workdir, before, planned


def test_a_named_experiment_trains_only_its_own_runs(both):
    _, _, _, planned = both
    jobs = planned_jobs(planned)
    # The teachers' settings are the default's: they and the features are shared, not retrained.
    assert {rule for rule, _ in jobs} == {"train_mfon", "table", "experiments_table", "all"}, planned
    assert {o for r, o in jobs if r == "train_mfon"} == {f"{NAMED_RUN}/checkpoint.pt"}, planned
    assert ("table", "results/tiny/experiments/low_beta/table.csv") in jobs, planned


def test_the_default_runs_survive_untouched(both):
    workflow, workdir, before, _ = both
    assert {p: p.stat().st_mtime_ns for p in before} == before
    default = json.loads((workdir / DEFAULT_RUN / "metrics.json").read_text())
    named = json.loads((workdir / NAMED_RUN / "metrics.json").read_text())
    assert default["test"] != named["test"], "another loss weight trains another model"
    # Back to the default: nothing of either experiment reruns (the experiments table is up to date too).
    assert planned_jobs(snakemake(workflow, workdir, "-n", "--cores", "2").stdout) == set()


def test_the_experiments_table_lists_both(both):
    _, workdir, _, _ = both
    with open(workdir / "results/tiny_experiments.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["experiment"], r["variant"]) for r in rows] == [("default", "mfon"), ("low_beta", "mfon")]
    for row, run in zip(rows, (DEFAULT_RUN, NAMED_RUN)):
        metrics = json.loads((workdir / run / "metrics.json").read_text())
        assert float(row["MAE_mean"]) == round(metrics["test"]["MAE"], 4) and row["seeds"] == "1111"
    markdown = (workdir / "results/tiny_experiments.md").read_text()
    assert "default: MFON (mfon)" in markdown and "low_beta: MFON (mfon)" in markdown
    with open(workdir / "results/tiny/experiments/low_beta/table.csv", newline="") as fh:
        assert [r["variant"] for r in csv.DictReader(fh)] == ["mfon"]


def test_other_teacher_settings_train_the_experiments_own_teachers(both):
    workflow, workdir, _, _ = both
    out = snakemake(workflow, workdir, "-n", "--cores", "2", "--configfile",
                    recipe(workdir, "long_teacher", teacher_training={"epochs": 2})).stdout
    jobs = planned_jobs(out)
    teachers = {o for r, o in jobs if r in ("train_teacher", "train_experiment_teacher")}
    assert teachers == {f"results/tiny/experiments/long_teacher/teachers/{m}/seed1111/checkpoint.pt"
                        for m in ("visual", "acoustic")}, out
    assert {o for r, o in jobs if r == "train_mfon"} == {
        "results/tiny/experiments/long_teacher/mfon/mfon/seed1111/checkpoint.pt"}, out


def test_a_bad_experiment_name_is_refused_in_one_line(both):
    """The names themselves: tests/test_layout.py."""
    workflow, workdir, _, _ = both
    proc = snakemake(workflow, workdir, "-n", "--cores", "2", "--config", "experiment_name=../up", check=False)
    assert proc.returncode != 0
    line = next(line for line in (proc.stdout + proc.stderr).splitlines() if "experiment_name" in line)
    assert "'../up' cannot name a results folder" in line, proc.stderr


def test_an_experiment_that_changes_features_is_refused(both):
    workflow, workdir, _, _ = both
    proc = snakemake(workflow, workdir, "-n", "--cores", "2", "--configfile",
                     recipe(workdir, "other_rate", acoustic={"pool_rate": 50}), check=False)
    assert proc.returncode != 0
    assert "experiment 'other_rate' changes acoustic.pool_rate of dataset 'tiny'" in proc.stdout + proc.stderr


def test_a_named_experiment_draws_no_figures_of_the_default(both):
    workflow, workdir, _, _ = both
    proc = snakemake(workflow, workdir, "-n", "--cores", "2", "results/tiny/plots/training_overview.png",
                     "--configfile", recipe(workdir, "low_beta", loss={"beta": 0.01}), check=False)
    assert proc.returncode != 0
    assert "experiment 'low_beta': the figures and analysis files of 'tiny' are drawn for the default experiment" \
        in proc.stdout + proc.stderr


def test_a_named_experiments_search_lies_in_its_folder(both):
    workflow, workdir, _, _ = both
    search = {"variants": ["mfon"], "seeds": [1111],
              "search": {"trials": 2, "space": {"loss.beta": {"uniform": [0.0, 0.5]}}}}
    out = snakemake(workflow, workdir, "-n", "--cores", "2", "--configfile",
                    recipe(workdir, "searched", experiment=search)).stdout
    made = {output for rule, output in planned_jobs(out) if rule != "all"}
    home = "results/tiny/experiments/searched"
    assert made == {f"{home}/search/trial0/checkpoint.pt", f"{home}/search/trial1/checkpoint.pt", f"{home}/search.csv",
                    f"{home}/mfon_tuned/seed1111/checkpoint.pt", f"{home}/table.csv",
                    "results/tiny_experiments.csv"}, out
