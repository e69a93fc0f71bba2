"""The extractor registry: every config name resolves to one class with a config dataclass, the names agree with
the config schema, and a config section builds its extractor (with the keys of other backends ignored)."""

from __future__ import annotations

import dataclasses

import pytest

from mfon.config import load_schema
from mfon.errors import ConfigError
from mfon.features.registry import (EXTRACTORS, SELECTOR_KEYS, config_from_settings, create_extractor,
                                    extractor_class, extractor_modules, extractor_name, extractor_names, names_of)


def test_every_entry_resolves_to_a_configured_class():
    for name, entry in EXTRACTORS.items():
        cls = extractor_class(name)
        assert cls.__module__ == entry.module and cls.modality == entry.modality
        assert dataclasses.is_dataclass(cls.config_type)
        assert name in names_of(cls)
    assert names_of(extractor_class("eGeMAPSv02")) == ("eGeMAPSv02", "ComParE_2016")


@pytest.mark.parametrize("modality", sorted(SELECTOR_KEYS))
def test_registry_names_are_the_schema_enum(modality):
    key = SELECTOR_KEYS[modality]
    enum = load_schema()["definitions"][modality]["properties"][key]["enum"]
    assert list(extractor_names(modality)) == enum


def test_modules_per_modality():
    assert extractor_modules("acoustic") == ["mfon.features.opensmile", "mfon.features.covarep"]
    assert extractor_modules("visual") == ["mfon.features.mediapipe_face", "mfon.features.pyfeat",
                                           "mfon.features.facial_csv"]
    assert extractor_modules("text") == ["mfon.features.text"]
    assert set(extractor_modules()) == {e.module for e in EXTRACTORS.values()}


def test_selection_and_errors():
    assert extractor_name("text", {"model": "x"}) == "text"
    assert extractor_name("visual", {"backend": "pyfeat"}) == "pyfeat"
    with pytest.raises(ConfigError, match="unknown visual backend 'py-feat'; allowed: mediapipe, pyfeat"):
        extractor_name("visual", {"backend": "py-feat"})
    with pytest.raises(ConfigError, match="unknown modality 'audio'"):
        create_extractor("audio", {})
    with pytest.raises(ConfigError, match="unknown extractor 'opensmile'"):
        extractor_class("opensmile")


def test_section_fills_only_the_extractors_own_fields():
    section = {"backend": "mediapipe", "fps": 10, "max_side": 320, "min_detection_confidence": 0.6,
               "no_face_policy": "keep", "device": "cpu", "csv_root": None, "columns": None}
    config = config_from_settings(extractor_class("mediapipe").config_type, section)
    assert (config.fps, config.max_side, config.min_detection_confidence) == (10, 320, 0.6)
    assert config.min_tracking_confidence == 0.5 and config.refine_landmarks  # not in the section: defaults
    ex = create_extractor("visual", section)
    assert ex.config == config and ex.frame_rate == 10.0


def test_config_or_options_but_the_right_type():
    cls = extractor_class("covarep_like")
    with pytest.raises(TypeError, match="expected a CovarepLikeConfig"):
        cls(extractor_class("eGeMAPSv02").config_type())
