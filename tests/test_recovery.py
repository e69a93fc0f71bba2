"""Recovery of missing run files (README "After a killed run"): a real tiny pipeline, a real kill, real deletions.

The table declares every run file it checks and the teachers' checkpoints as inputs, so forcing the table makes
Snakemake retrain exactly the runs whose files are missing (resuming a killed one), and the table comes out the
same. Slow (a full tiny pipeline run, then retrained runs): ``pytest -m slow tests/test_recovery.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from mfon import layout
from test_workflow import SNAKEMAKE, TINY_CONFIG, TINY_DATASET, finished_copy, planned_jobs, snakemake

pytestmark = pytest.mark.slow
TABLE = layout.table("tiny")
RUNS = tuple(layout.run_dir("tiny", v, 1111) for v in ("mfon", "text_only"))
#: Three epochs, so that a run killed after its first one leaves a resume state to continue from.
CONFIG = {**TINY_CONFIG, "training": {**TINY_CONFIG["training"], "epochs": 3},
          "experiment": {"variants": ["mfon", "text_only"], "seeds": [1111]}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return finished_copy(tmp_path_factory.mktemp("recovery"), CONFIG, TINY_DATASET)


def dry_run(workflow, workdir, *args):
    return planned_jobs(snakemake(workflow, workdir, "-n", "--cores", "2", *args).stdout)


def rebuilt_table(workflow, workdir, expected):
    """Force the table (the README's recovery), after checking what a dry run of it plans; the table's bytes."""
    planned = dry_run(workflow, workdir, TABLE, "--forcerun", "table")
    assert planned == {("table", TABLE), *expected}, planned
    snakemake(workflow, workdir, "--cores", "2", TABLE, "--forcerun", "table")
    return (workdir / TABLE).read_bytes()


def test_a_deleted_run_checkpoint_is_retrained_when_the_table_is_forced(run):
    workflow, workdir = run
    before = (workdir / TABLE).read_bytes()
    checkpoint = workdir / layout.run_outputs(RUNS[1])["checkpoint"]
    checkpoint.unlink()
    # Snakemake's rule: a missing input of an up-to-date target is like a removed temporary file ...
    assert dry_run(workflow, workdir, TABLE) == set()
    # ... but the bare run's targets include every run's files.
    assert ("train_mfon", layout.run_outputs(RUNS[1])["checkpoint"]) in dry_run(workflow, workdir)
    assert rebuilt_table(workflow, workdir, {("train_mfon", layout.run_outputs(RUNS[1])["checkpoint"])}) == before
    assert checkpoint.is_file()


def test_a_deleted_teacher_checkpoint_is_retrained_with_what_was_made_from_it(run):
    workflow, workdir = run
    before = (workdir / TABLE).read_bytes()
    teacher = layout.run_outputs(layout.teacher_dir("tiny", "visual", 1111))["checkpoint"]
    (workdir / teacher).unlink()
    # Only the full model distils from teachers (text_only has no distillation loss).
    expected = {("train_teacher", teacher), ("teacher_targets", layout.teacher_targets("tiny", "visual", 1111)),
                ("train_mfon", layout.run_outputs(RUNS[0])["checkpoint"])}
    assert rebuilt_table(workflow, workdir, expected) == before  # deterministic on the CPU
    assert (workdir / teacher).is_file()


def test_a_killed_forcerun_resumes_its_runs_when_the_table_is_forced(run):
    workflow, workdir = run
    before = (workdir / TABLE).read_bytes()
    log = workdir / "forcerun.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([*SNAKEMAKE, "-s", str(workflow / "Snakefile"), "--directory", str(workdir),
                                 "--cores", "2", "--forcerun", "train_mfon"], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    resume = [workdir / layout.resume_state(layout.run_outputs(r)) for r in RUNS]
    deadline = time.monotonic() + 300
    while not any(path.is_file() for path in resume):  # a run has completed its first epoch
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and its jobs, as a power loss or `kill -9` would
    proc.wait()
    left = {r: sorted(p.name for p in (workdir / r).iterdir()) for r in RUNS}
    assert [layout.RESUME_FILE] in left.values(), left  # a folder holding only the resume state
    # A job that had not started when it was killed keeps its files.
    killed = [r for r in RUNS if layout.RUN_FILES["checkpoint"] not in left[r]]

    locked = snakemake(workflow, workdir, "-n", "--cores", "2", check=False)
    assert "Directory cannot be locked" in locked.stdout + locked.stderr  # the kill left Snakemake's lock
    snakemake(workflow, workdir, "--unlock")
    assert dry_run(workflow, workdir, TABLE) == set()  # Snakemake's rule, as above
    expected = {("train_mfon", layout.run_outputs(r)["checkpoint"]) for r in killed}
    assert rebuilt_table(workflow, workdir, expected) == before  # the same table as before the kill
    resumed = [r for r in killed if left[r] == [layout.RESUME_FILE]]
    logs = {r: (workdir / layout.log("tiny", "mfon", f"{layout.parse_run_dir(r)['variant']}_seed1111")).read_text()
            for r in resumed}
    assert logs and all("resuming after epoch" in text for text in logs.values()), logs
    assert not any(path.exists() for path in resume)  # removed once each run finished
