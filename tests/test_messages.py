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


def test_export_mmsa_before_the_feature_stage_names_the_target_at_once(tmp_path):
    # `mfon export-mmsa results/demo OUT.pkl` after ingest only: it failed after 49 s of imports; now at once
    import subprocess
    import sys
    import time

    from conftest import PROJECT_ROOT

    dataset = tmp_path / "results" / "demo"
    (dataset / "qc").mkdir(parents=True)
    (dataset / "manifest.tsv").write_text("key\n")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mfon.cli", "export-mmsa", str(dataset), str(tmp_path / "out.pkl")],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"mfon: error: {dataset}: not made yet: {dataset}/qc/clip_status.tsv, {dataset}/features/text_features.h5, "
        f"{dataset}/features/visual_features.h5, {dataset}/features/acoustic_features.h5. Make them with "
        "`snakemake --cores all results/demo/qc/clip_status.tsv` (the feature stage), or the MMSA file itself with "
        "`snakemake --cores all results/demo/mmsa/unaligned.pkl`")
    assert time.monotonic() - started < 10  # no torch, no h5py
    assert not (tmp_path / "out.pkl").exists()


@pytest.mark.parametrize("extra", [(), ("--config", 'experiment={"seeds": [7]}'), ("results/demo/manifest.tsv",)])
def test_report_on_files_not_made_says_what_is_missing_and_which_options(repo, extra):
    # `snakemake --report` after a run made with other --config values: ~100 "Missing metadata" lines, then a failure
    proc = snakemake(repo, repo, "--report", "report.html", *extra, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Missing metadata" not in output, output[-3000:]
    assert "--report: " in output and "files it reports on are not made (e.g. results/demo" in output, output
    assert "give --report the same ones" in output
    if extra[:1] == ("--config",):
        assert "this command's values: {'experiment': {'seeds': [7]}}" in output, output
    if extra[:1] == ("results/demo/manifest.tsv",):
        assert "--report: 1 of the 1 files it reports on are not made (e.g. results/demo/manifest.tsv)" in output


def test_a_dry_run_is_not_checked_as_a_report(repo):
    proc = snakemake(repo, repo, "-n", "results/demo/manifest.tsv")
    assert "--report: " not in proc.stdout + proc.stderr


def test_config_with_a_dotted_key_fails_in_snakemake_and_the_readme_form_plans(repo):
    # README "Configuration" says so: Snakemake parses --config before the workflow loads, so nothing can catch it
    proc = snakemake(repo, repo, "-n", "results/demo/features/acoustic_features.h5", "--config",
                     "acoustic.pool_rate=50", check=False)
    assert proc.returncode != 0 and "Config entry must start with a valid identifier" in proc.stdout + proc.stderr
    proc = snakemake(repo, repo, "-n", "results/demo/features/acoustic_features.h5", "--config",
                     'acoustic={"pool_rate": 50}')  # typed by the schema: tests/test_config.py
    assert "rule features_shard:" in proc.stdout and "acoustic_0of" in proc.stdout, proc.stdout[-3000:]
