"""Every Snakemake command the README shows parses and plans as written (a dry run in a copy of the repository).

The commands run from the repository root exactly as printed, with `.venv/bin/snakemake` replaced by this
interpreter's `-m snakemake` and `--dry-run` appended (planning is what a wrong option order breaks; the full
runs they start are covered by tests/test_workflow.py). SLURM commands run with stand-in sbatch/sacct/squeue.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import PROJECT_ROOT
from test_workflow import _fake_slurm, copy_workflow

REPO_FILES = ("Snakefile", "rules", "workflow_scripts", "mfon", "config", "envs", "slurm", "report")


def readme_snakemake_commands() -> list[str]:
    """The README's code-block lines that run Snakemake (the part after `&&` of a chained line). `--report`
    lines are left out: a report needs finished runs, and tests/test_report.py builds one for real."""
    commands = []
    for line in (PROJECT_ROOT / "README.md").read_text().splitlines():
        if not line.startswith("    ") or ".venv/bin/snakemake" not in line:
            continue
        command = line.strip().split("&&")[-1].strip()
        if command.startswith(".venv/bin/snakemake") and "--report" not in command:
            commands.append(command)
    return commands


def test_readme_shows_the_commands_this_test_runs():
    commands = readme_snakemake_commands()
    assert any("--profile slurm" in c for c in commands) and any("--unlock" in c for c in commands), commands
    assert any("--config" in c for c in commands) and len(commands) >= 6, commands


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = copy_workflow(tmp_path_factory.mktemp("readme") / "repo", REPO_FILES)
    # Planning an imported dataset needs its MMSA pickle to exist (a dry run does not read it).
    for dataset in ("MOSI", "MOSEI", "SIMS"):
        (root / "data" / dataset / "Processed").mkdir(parents=True)
    for dataset, name in (("MOSI", "unaligned_50"), ("MOSEI", "unaligned_50"), ("SIMS", "unaligned_39")):
        (root / "data" / dataset / "Processed" / f"{name}.pkl").write_bytes(b"")
    return root


@pytest.mark.parametrize("command", readme_snakemake_commands())
def test_readme_command_plans_as_written(repo, tmp_path, command):
    args = shlex.split(command, comments=True)
    assert args[0] == ".venv/bin/snakemake"
    argv = [sys.executable, "-m", "snakemake", *args[1:]]
    if "--unlock" not in args:
        argv.append("--dry-run")
    env = {**os.environ, **_fake_slurm(tmp_path), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(argv, cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{command}\n{output[-3000:]}"
    if "--unlock" in args:
        assert "Unlocked working directory" in output, output
    else:
        assert re.search(r"^total\s+\d+", output, re.MULTILINE), output
