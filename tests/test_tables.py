"""Metric tables: mean and population std over seeds, percent metrics x100, clip counts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from mfon.layout import TABLE_RUN_FILES, run_outputs
from mfon.tsv import write_tsv
from mfon.errors import MfonError
from mfon.tables import build_table

CLIPS = {"train": {"clips": 10, "used": 9, "quarantined": 1}, "valid": {"clips": 3, "used": 3, "quarantined": 0},
         "test": {"clips": 4, "used": 4, "quarantined": 0}}


def run(tmp_path, name, seed, acc, mae):
    """The files of a finished run the table checks, as training writes them: metrics, predictions, checkpoint."""
    outputs = run_outputs(tmp_path / name / f"seed{seed}")
    files = {name: Path(outputs[name]) for name in TABLE_RUN_FILES}
    path = files["metrics"]
    path.parent.mkdir(parents=True)
    metrics = {"MAE": mae, "Has0_acc_2": acc, "Corr": 0.5}
    path.write_text(json.dumps({"seed": seed, "test": metrics, "valid": metrics, "clips": CLIPS}))
    rows = [{"key": f"v$_${i}", "split": split, "truth": 1.0, "prediction": 0.5}
            for split in ("valid", "test") for i in range(CLIPS[split]["used"])]
    write_tsv(path.parent / "predictions.tsv", rows, ["key", "split", "truth", "prediction"])
    torch.save({"format": "mfon-checkpoint-v1", "state_dict": {"w": torch.zeros(2)}}, path.parent / "checkpoint.pt")
    return files


def test_mean_and_population_std_with_percent_scaling(tmp_path):
    runs = {"mfon": [run(tmp_path, "mfon", 1111, 0.80, 0.70), run(tmp_path, "mfon", 1112, 0.84, 0.74)],
            "text_only": [run(tmp_path, "text_only", 1111, 0.75, 0.9)]}
    rows = build_table(runs, tmp_path / "t.csv", dataset="demo")
    mfon = rows[0]
    assert mfon["Has0_acc_2_mean"] == pytest.approx(82.0) and mfon["Has0_acc_2_std"] == pytest.approx(2.0)
    assert mfon["MAE_mean"] == pytest.approx(0.72) and mfon["MAE_std"] == pytest.approx(0.02)  # ddof=0
    assert mfon["n_seeds"] == 2 and mfon["seeds"] == "1111 1112"
    assert mfon["clips_train"] == 9 and mfon["quarantined_train"] == 1
    with open(tmp_path / "t.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["variant"] for r in table] == ["mfon", "text_only"] and table[1]["Has0_acc_2_std"] == "0.0"


def test_variant_without_runs_is_an_error(tmp_path):
    with pytest.raises(MfonError, match="no finished run"):
        build_table({"mfon": []}, tmp_path / "t.csv", dataset="demo")


def test_paper_columns_beside_each_reported_metric(tmp_path):
    runs = {"mfon": [run(tmp_path, "mfon", 1111, 0.85, 0.70)], "custom": [run(tmp_path, "custom", 1111, 0.5, 1.0)]}
    rows = build_table(runs, tmp_path / "t.csv", dataset="mosi", paper="mosi")
    assert rows[0]["Has0_acc_2_paper"] == 84.84 and rows[0]["Has0_acc_2_diff"] == pytest.approx(0.16)
    assert rows[0]["MAE_paper"] == 0.725 and rows[0]["MAE_diff"] == pytest.approx(-0.025)
    assert "Has0_acc_2_paper" not in rows[1]  # the paper has no such row
    header = (tmp_path / "t.csv").read_text().splitlines()[0].split(",")
    assert header.index("Has0_acc_2_paper") == header.index("Has0_acc_2_std") + 1


def _break_emptied(files):  # what a killed --forcerun leaves: Snakemake removed the old outputs
    for path in files["metrics"].parent.iterdir():
        path.unlink()


def _break_empty_checkpoint(files):
    files["checkpoint"].write_bytes(b"")


def _break_no_predictions(files):
    files["predictions"].unlink()


def _break_truncated_metrics(files):
    files["metrics"].write_text(files["metrics"].read_text()[:20])


def _break_other_seed(files):
    files["metrics"].write_text(files["metrics"].read_text().replace('"seed": 1112', '"seed": 1111'))


def _break_stale_predictions(files):
    rows = [{"key": "v$_$0", "split": "test", "truth": 1.0, "prediction": 0.5}]
    write_tsv(files["predictions"], rows, ["key", "split", "truth", "prediction"])


@pytest.mark.parametrize("damage,message", [
    (_break_emptied, "metrics.json is missing, predictions.tsv is missing, checkpoint.pt is missing"),
    (_break_empty_checkpoint, "checkpoint.pt is empty"),
    (_break_no_predictions, "predictions.tsv is missing"),
    (_break_truncated_metrics, "metrics.json is not valid JSON"),
    (_break_other_seed, "metrics.json is of seed 1111, the folder of seed 1112"),
    (_break_stale_predictions, "predictions.tsv has 1 test clips, metrics.json counts 4"),
])
def test_an_incomplete_run_fails_the_table_naming_its_folder(tmp_path, damage, message):
    runs = {"mfon": [run(tmp_path, "mfon", 1111, 0.80, 0.70), run(tmp_path, "mfon", 1112, 0.84, 0.74)]}
    build_table(runs, tmp_path / "t.csv", dataset="demo")
    before = (tmp_path / "t.csv").read_bytes()
    damage(runs["mfon"][1])
    with pytest.raises(MfonError) as err:
        build_table(runs, tmp_path / "t.csv", dataset="demo")
    assert str(err.value).startswith(f"{tmp_path / 'mfon' / 'seed1112'}: {message}")
    assert "delete" in str(err.value) and "rerun snakemake" in str(err.value)
    assert (tmp_path / "t.csv").read_bytes() == before  # the old table is not rewritten from stale numbers
