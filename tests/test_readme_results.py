"""The README's result blocks are written from results/ and a stale block is caught (what CI runs)."""

from __future__ import annotations

import csv
import shlex
import subprocess
import sys

import pytest

from conftest import PROJECT_ROOT
from mfon import layout
from mfon.errors import MfonError
from mfon.readme_results import BLOCKS, difference, opening_command, render

SCRIPT = PROJECT_ROOT / "scripts" / "readme_results.py"
METRICS = ("Has0_acc_2", "Non0_acc_2", "Has0_F1_score", "Non0_F1_score", "Mult_acc_7", "Corr", "MAE")


def _write_table(path, maes):
    """A table in the layout mfon.tables.build_table writes, one row per variant."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["dataset", "variant", "split", "n_seeds", "seeds"] + [f"{m}_{s}" for m in METRICS for s in ("mean", "std")]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        for variant, mae in maes.items():
            writer.writerow({"dataset": "demo", "variant": variant, "split": "test", "n_seeds": 3,
                             "seeds": "1111 1112 1113", **{f"{m}_mean": 50.0 for m in METRICS},
                             **{f"{m}_std": 1.0 for m in METRICS}, "MAE_mean": mae, "Corr_mean": 0.25})


README = "intro\n\n<!-- results: demo_table -->\nold numbers\n<!-- /results -->\n\nafter\n"


def test_block_is_filled_from_the_table(tmp_path):
    _write_table(tmp_path / BLOCKS["demo_table"], {"mfon": 1.3228, "text_only": 1.4455})
    text = render(README, tmp_path)
    assert "old numbers" not in text and text.startswith("intro\n") and text.endswith("<!-- /results -->\n\nafter\n")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| Model | seeds |") and len(rows) == 3
    assert "1.323 ± 1.000" in rows[1] and "(mfon)" in rows[1] and "1.446 ± 1.000" in rows[2]
    assert render(text, tmp_path) == text  # filling twice changes nothing


def test_check_fails_with_a_diff_when_the_readme_is_stale(tmp_path):
    _write_table(tmp_path / BLOCKS["demo_table"], {"mfon": 1.3228})
    readme = tmp_path / "README.md"
    readme.write_text(README)
    proc = subprocess.run([sys.executable, SCRIPT, "--check", "--readme", readme, "--workdir", tmp_path],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "-old numbers" in proc.stderr and "+| MFON (mfon) | 3 |" in proc.stderr
    subprocess.run([sys.executable, SCRIPT, "--write", "--readme", readme, "--workdir", tmp_path], check=True,
                   capture_output=True)
    assert difference(readme, tmp_path) == ""
    proc = subprocess.run([sys.executable, SCRIPT, "--check", "--readme", readme, "--workdir", tmp_path],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    # The run changes a printed number: the check fails again.
    _write_table(tmp_path / BLOCKS["demo_table"], {"mfon": 1.3300})
    assert "+| MFON (mfon) | 3 |" in difference(readme, tmp_path)


def test_missing_table_and_unknown_block_are_named(tmp_path):
    with pytest.raises(MfonError, match="run the README's main command"):
        render(README, tmp_path)
    with pytest.raises(MfonError, match="'nope' is unknown"):
        render("<!-- results: nope -->\n<!-- /results -->\n", tmp_path)


def test_the_readme_has_its_blocks_and_its_main_command_makes_them():
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    main = shlex.split(opening_command(text, "main").split("&&")[-1])
    tests = opening_command(text, "tests")
    assert main[0] == ".venv/bin/snakemake" and tests.endswith("-m pytest"), (main, tests)
    for name, table in BLOCKS.items():
        assert f"<!-- results: {name} -->" in text, name
        assert table in main, f"the README's main command does not make {table}"
    assert BLOCKS["demo_table"] == layout.table("demo")
