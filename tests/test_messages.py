"""What a user who mistypes gets: one message that says what is wrong and what exists (real dry runs)."""

from __future__ import annotations

import pytest

from test_workflow import copy_workflow, snakemake


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("messages") / "repo")


@pytest.mark.parametrize("target, name, closest", [
    ("results/mosii_table.csv", "mosii", "mosi"),
    ("results/dmeo/features/visual_features.h5", "dmeo", "demo"),
    ("results/my_data_ablation.csv", "my_data", None),
])
def test_unknown_dataset_target_names_the_configured_ones(repo, target, name, closest):
    proc = snakemake(repo, repo, "-n", target, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"unknown dataset {name!r}: the configured datasets are 'demo', 'mosi', 'mosei', 'sims'." in output
    assert (f"Did you mean {closest!r}?" in output) == (closest is not None), output[-2000:]
    assert "MissingRuleException" not in output


def test_a_configured_dataset_still_plans(repo):
    proc = snakemake(repo, repo, "-n", "results/demo_table.csv")
    assert "unknown_dataset" not in proc.stdout and "rule table:" in proc.stdout.replace("localrule", "rule")
