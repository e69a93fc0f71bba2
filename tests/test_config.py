"""Configuration: schema defaults, per-dataset overrides, clear errors."""

from __future__ import annotations

import copy

import pytest
import yaml

from mfon.config import config_hash, dataset_settings, validate_config
from mfon.errors import ConfigError

from conftest import PROJECT_ROOT


def shipped_config() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "config" / "config.yaml").read_text())


def test_shipped_config_validates_and_fills_defaults():
    config = validate_config(shipped_config())
    demo = dataset_settings(config, "demo", PROJECT_ROOT)
    assert demo["acoustic"]["feature_set"] == "eGeMAPSv02"
    assert demo["visual"]["min_detection_confidence"] == 0.5  # default from the schema
    assert demo["ingest"]["on_bad_clip"] == "quarantine"
    assert demo["splits"] == ["train", "valid", "test"]
    assert demo["demo"]["seed"] == 0


def test_dataset_file_overrides_global_section(tmp_path):
    (tmp_path / "d.yaml").write_text("name: d\nroot: data/d\nlabel_range: [-1, 1]\nacoustic: {pool_rate: 25}\n")
    config = validate_config({"datasets": {"d": "d.yaml"}, "acoustic": {"feature_set": "ComParE_2016"}})
    s = dataset_settings(config, "d", tmp_path)
    assert s["acoustic"] == {"feature_set": "ComParE_2016", "sample_rate": 16000, "pool_rate": 25}
    assert s["label_range"] == [-1, 1]


@pytest.mark.parametrize("patch,fragment", [
    ({"acoustic": {"feature_set": "MFCC"}}, "acoustic.feature_set"),
    ({"visual": {"fps": -1}}, "visual.fps"),
    ({"extraction": {"shards": 0}}, "extraction.shards"),
    ({"text": {"max_length": "long"}}, "text.max_length"),
    ({"unknown_section": {}}, "unknown_section"),
    ({"targets": ["nope"]}, "not listed"),
])
def test_bad_values_are_named(patch, fragment):
    config = copy.deepcopy(shipped_config())
    config.update(patch)
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        validate_config(config)


def test_bad_dataset_file_is_named(tmp_path):
    (tmp_path / "d.yaml").write_text("name: other\nroot: x\n")
    config = validate_config({"datasets": {"d": "d.yaml"}})
    with pytest.raises(ConfigError, match="does not match"):
        dataset_settings(config, "d", tmp_path)
    (tmp_path / "d.yaml").write_text("name: d\nroot: x\nlabel_range: [1, -1]\n")
    with pytest.raises(ConfigError, match="label_range"):
        dataset_settings(config, "d", tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        dataset_settings(validate_config({"datasets": {"d": "missing.yaml"}}), "d", tmp_path)


def test_config_hash_is_order_independent_and_value_sensitive():
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
