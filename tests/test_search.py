"""Random search: deterministic trials, guarded space, selection on validation metrics only."""

from __future__ import annotations

import json

import pytest

from mfon.errors import ConfigError, MfonError
from mfon.search import apply_overrides, sample_trial, summarize_search

SPACE = {"training.lr.text": {"log_uniform": [1e-5, 1e-4]}, "loss.alpha": {"choice": [0.1, 0.5]},
         "model.mpa_layers.visual": {"int": [1, 3]}, "model.mpa_dropout": {"uniform": [0.0, 0.3]}}


def test_trials_are_deterministic_and_in_range():
    trials = [sample_trial(SPACE, 0, k) for k in range(20)]
    assert trials == [sample_trial(SPACE, 0, k) for k in range(20)]
    assert trials != [sample_trial(SPACE, 1, k) for k in range(20)]
    for t in trials:
        assert 1e-5 <= t["training.lr.text"] <= 1e-4 and t["loss.alpha"] in (0.1, 0.5)
        assert t["model.mpa_layers.visual"] in (1, 2, 3) and 0.0 <= t["model.mpa_dropout"] <= 0.3
    assert {t["model.mpa_layers.visual"] for t in trials} == {1, 2, 3}


@pytest.mark.parametrize("space,fragment", [
    ({"model.d_model": {"choice": [32, 64]}}, "not searchable"),
    ({"teacher_training.lr": {"uniform": [0.1, 0.2]}}, "not searchable"),
    ({"model.teacher_layers.visual": {"int": [1, 2]}}, "not searchable"),
    ({"loss.alpha": {"gauss": [0, 1]}}, "unknown distribution"),
    ({"loss.alpha": {"uniform": [1, 0]}}, "low <= high"),
])
def test_bad_spaces_are_refused(space, fragment):
    with pytest.raises(ConfigError, match=fragment):
        sample_trial(space, 0, 0)


def test_apply_overrides_sets_existing_paths_only():
    settings = {"loss": {"alpha": 0.5}, "training": {"lr": {"text": 5e-5}}}
    out = apply_overrides(settings, {"loss.alpha": 0.1, "training.lr.text": 1e-5})
    assert out == {"loss": {"alpha": 0.1}, "training": {"lr": {"text": 1e-5}}} and settings["loss"]["alpha"] == 0.5
    with pytest.raises(ConfigError, match="no such setting"):
        apply_overrides(settings, {"loss.gamma": 1})


def write_trial(tmp_path, k, mae, corr, with_test=False):
    path = tmp_path / f"trial{k}" / "metrics.json"
    path.parent.mkdir()
    result = {"valid": {"MAE": mae, "Corr": corr}, "best_epoch": 3}
    if with_test:
        result["test"] = {"MAE": 0.1}
    path.write_text(json.dumps(result))
    return path


def test_selection_uses_the_validation_metric(tmp_path):
    paths = [write_trial(tmp_path, 0, 0.9, 0.7), write_trial(tmp_path, 1, 0.8, 0.6), write_trial(tmp_path, 2, 1.0, 0.9)]
    overrides = [{"loss.alpha": a} for a in (0.1, 0.2, 0.3)]
    best = summarize_search(paths, overrides, tmp_path / "s.csv", tmp_path / "best.json", metric="MAE")
    assert best["trial"] == 1 and best["overrides"] == {"loss.alpha": 0.2}
    best = summarize_search(paths, overrides, tmp_path / "s.csv", tmp_path / "best.json", metric="Corr")
    assert best["trial"] == 2  # Corr is maximised
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0].startswith("trial,rank,selected,param:loss.alpha") and len(lines) == 4


def test_a_trial_that_evaluated_test_is_refused(tmp_path):
    paths = [write_trial(tmp_path, 0, 0.9, 0.7, with_test=True)]
    with pytest.raises(MfonError, match="evaluated the test split"):
        summarize_search(paths, [{}], tmp_path / "s.csv", tmp_path / "best.json")
