"""Recovery after a killed forced rerun (README "After a killed run"): a real tiny pipeline, a real kill.

Slow (a full tiny pipeline run, then two retrained runs): ``pytest -m slow tests/test_recovery.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from test_workflow import SNAKEMAKE, planned_jobs, run, snakemake  # noqa: F401  (run: the module's fixture)

pytestmark = pytest.mark.slow
RUNS = ("results/tiny/mfon/mfon/seed1111", "results/tiny/mfon/text_only/seed1111")


def test_killed_forcerun_is_recovered_by_rebuilding_the_table(run):
    workflow, workdir = run
    table = workdir / "results" / "tiny_table.csv"
    before = table.read_bytes()
    log = workdir / "forcerun.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([*SNAKEMAKE, "-s", str(workflow / "Snakefile"), "--directory", str(workdir),
                                 "--cores", "2", "--forcerun", "train_mfon"], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.monotonic() + 300
    while "rule train_mfon" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and its jobs, as a power loss or `kill -9` would
    proc.wait()
    assert all(not list((workdir / r).iterdir()) for r in RUNS), "the forced rerun removed the old run files"

    locked = snakemake(workflow, workdir, "-n", "--cores", "2", check=False)
    assert "Directory cannot be locked" in locked.stdout + locked.stderr  # the kill left Snakemake's lock
    snakemake(workflow, workdir, "--unlock")
    # Snakemake's own view: the table exists, so the missing run files are like removed temporary files.
    assert planned_jobs(snakemake(workflow, workdir, "-n", "--cores", "2").stdout) == set()
    # The README's recovery: rebuilding the tables retrains exactly the runs whose files are missing.
    planned = planned_jobs(snakemake(workflow, workdir, "-n", "--cores", "2", "--forcerun", "table",
                                     "ablation_table").stdout)
    assert planned == {("all", ""), ("table", "results/tiny_table.csv"),
                       *(("train_mfon", f"{r}/checkpoint.pt") for r in RUNS)}, planned
    snakemake(workflow, workdir, "--cores", "2", "--forcerun", "table", "ablation_table")
    assert all((workdir / r / "metrics.json").is_file() for r in RUNS)
    assert table.read_bytes() == before  # deterministic: the same table as before the kill
