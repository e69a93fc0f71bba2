"""Configuration: schema defaults, per-dataset overrides, clear errors."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from mfon.config import command_line_overrides, config_hash, dataset_settings, validate_config
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


def test_command_line_text_values_get_their_schema_types():
    # Snakemake hands --config values over as text ("50", "true", "null").
    typed = command_line_overrides({"acoustic": {"pool_rate": "50", "sample_rate": "16000"},
                                    "runtime": {"bf16": "true", "threads": "2"},
                                    "visual": {"fps": "null", "backend": "mediapipe"},
                                    "model": {"mpa_layers": {"visual": "3"}, "fusion_hidden": "[64, 32]"},
                                    "datasets": {"d": "d.yaml"}})
    assert typed == {"acoustic": {"pool_rate": 50.0, "sample_rate": 16000},
                     "runtime": {"bf16": True, "threads": 2}, "visual": {"fps": None, "backend": "mediapipe"},
                     "model": {"mpa_layers": {"visual": 3}, "fusion_hidden": [64, 32]}}
    assert type(typed["acoustic"]["pool_rate"]) is float and type(typed["acoustic"]["sample_rate"]) is int


def test_same_settings_written_differently_resolve_identically(tmp_path):
    (tmp_path / "d.yaml").write_text("name: d\nroot: r\nacoustic: {pool_rate: 50}\nvisual: {fps: 5}\n")
    (tmp_path / "e.yaml").write_text("name: e\nroot: r\nvisual: {max_side: 640, fps: 5.0}\nacoustic: {pool_rate: 50.0}\n")
    config = validate_config({"datasets": {"d": "d.yaml", "e": "e.yaml"}})
    d, e = (dataset_settings(config, n, tmp_path) for n in ("d", "e"))
    for section in ("acoustic", "visual", "model", "training"):
        assert repr(d[section]) == repr(e[section]), section


def test_command_line_overrides_win_over_the_dataset_file(tmp_path):
    (tmp_path / "d.yaml").write_text("name: d\nroot: r\nacoustic: {pool_rate: 25}\ntraining: {epochs: 3}\n")
    config = validate_config({"datasets": {"d": "d.yaml"}, "acoustic": {"pool_rate": "50"}})
    assert dataset_settings(config, "d", tmp_path)["acoustic"]["pool_rate"] == 25.0  # file over config.yaml
    s = dataset_settings(config, "d", tmp_path, overrides=command_line_overrides({"acoustic": {"pool_rate": "50"}}))
    assert s["acoustic"]["pool_rate"] == 50.0 and s["training"]["epochs"] == 3


def test_schema_is_the_one_validator_of_model_knobs(tmp_path):
    (tmp_path / "d.yaml").write_text("name: d\nroot: r\nmodel: {mpa_dropout: 1.0}\n")
    with pytest.raises(ConfigError, match="model.mpa_dropout"):
        dataset_settings(validate_config({"datasets": {"d": "d.yaml"}}), "d", tmp_path)
    with pytest.raises(ConfigError, match=r"experiment.variants: unknown variant\(s\) \['mfonn'\]"):
        validate_config({"datasets": {"d": "d.yaml"}, "experiment": {"variants": ["mfonn"]}})


def test_every_variant_resolves_without_torch():
    code = ("import sys; from mfon.config import validate_config, dataset_settings; "
            "from mfon.experiment import variant_settings; from mfon.variants import VARIANTS; "
            f"c = validate_config({{'datasets': {{'demo': 'config/datasets/demo.yaml'}}}}); "
            f"s = dataset_settings(c, 'demo', {str(PROJECT_ROOT)!r}); "
            "[variant_settings(s, v) for v in VARIANTS]; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_visual_params_are_exactly_what_each_backend_reads():
    """The planner's table of visual knobs per backend agrees with the extractors' config dataclasses."""
    import dataclasses

    from mfon.config import load_schema
    from mfon.experiment import VISUAL_BACKEND_KEYS
    from mfon.features.registry import extractor_class, extractor_names

    schema_keys = set(load_schema()["definitions"]["visual"]["properties"])
    for backend in extractor_names("visual"):
        fields = {f.name for f in dataclasses.fields(extractor_class(backend).config_type)}
        expected = (fields & schema_keys) - {"device"} | {"backend", "no_face_policy"}
        assert set(VISUAL_BACKEND_KEYS[backend]) == expected, backend


# ------------------------------------------------------------------ repeated keys and partial nested overrides
def _dry_run(workdir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(PROJECT_ROOT / "Snakefile"), "--directory",
                           str(workdir), "-n", *args], capture_output=True, text=True, timeout=300)


def test_a_repeated_key_in_a_dataset_file_is_refused_with_file_key_and_lines(tmp_path):
    (tmp_path / "d.yaml").write_text("name: d\nroot: r\ntraining: {epochs: 3}\nmodel:\n  d_model: 8\n"
                                     "training:\n  lr: {text: 0.1, text: 0.2}\n")
    with pytest.raises(ConfigError) as err:
        dataset_settings(validate_config({"datasets": {"d": "d.yaml"}}), "d", tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'd.yaml'}: key 'training' on lines 3 and 6; "
                                     "key 'training.lr.text' on lines 7 and 7: the later one would silently replace")


def test_a_repeated_key_in_config_files_stops_the_workflow(tmp_path):
    (tmp_path / "config" / "datasets").mkdir(parents=True)
    (tmp_path / "config" / "datasets" / "d.yaml").write_text("name: d\nroot: data/d\n")
    (tmp_path / "config" / "config.yaml").write_text("datasets: {d: config/datasets/d.yaml}\ntargets: [d]\n"
                                                     "training: {epochs: 2}\ntraining: {epochs: 3}\n")
    proc = _dry_run(tmp_path)
    console = proc.stdout + proc.stderr
    assert "config/config.yaml: key 'training' on lines 3 and 4" in console, console
    (tmp_path / "config" / "config.yaml").write_text("datasets: {d: config/datasets/d.yaml}\ntargets: [d]\n")
    (tmp_path / "more.yaml").write_text("acoustic: {pool_rate: 25}\nacoustic: {pool_rate: 50}\n")
    proc = _dry_run(tmp_path, "--configfile", str(tmp_path / "more.yaml"))
    console = proc.stdout + proc.stderr
    assert f"{tmp_path / 'more.yaml'}: key 'acoustic' on lines 1 and 2" in console, console


def test_one_key_of_a_nested_map_overrides_that_key_only(tmp_path):
    (tmp_path / "d.yaml").write_text("name: d\nroot: r\ntraining: {lr: {text: 0.00002}}\n")
    (tmp_path / "e.yaml").write_text("name: e\nroot: r\n")
    config = validate_config({"datasets": {"d": "d.yaml", "e": "e.yaml"}, "training": {"lr": {"visual": 0.002}}})
    full = {"text": 0.00005, "acoustic": 0.001, "visual": 0.002, "fusion": 0.001}
    assert dataset_settings(config, "e", tmp_path)["training"]["lr"] == full  # config.yaml's section
    assert dataset_settings(config, "d", tmp_path)["training"]["lr"] == {**full, "text": 0.00002}  # dataset file
    cli = command_line_overrides({"training": {"lr": {"acoustic": "0.003"}}})  # --configfile / --config
    assert dataset_settings(config, "e", tmp_path, overrides=cli)["training"]["lr"] == {**full, "acoustic": 0.003}


def test_a_bad_value_in_a_partial_nested_map_is_reported_once(tmp_path):
    (tmp_path / "d.yaml").write_text("name: d\nroot: r\ntraining: {lr: {text: -0.1}}\n")
    with pytest.raises(ConfigError) as err:
        dataset_settings(validate_config({"datasets": {"d": "d.yaml"}}), "d", tmp_path)
    assert str(err.value) == (f"invalid configuration in {tmp_path / 'd.yaml'}:\n"
                              "  training.lr.text: -0.1 is less than the minimum of 0")


def test_a_partial_nested_map_on_the_command_line_is_merged_then_checked(tmp_path):
    (tmp_path / "config" / "datasets").mkdir(parents=True)
    (tmp_path / "config" / "datasets" / "d.yaml").write_text("name: d\nroot: data/d\n")
    (tmp_path / "config" / "config.yaml").write_text("datasets: {d: config/datasets/d.yaml}\ntargets: [d]\n")
    proc = _dry_run(tmp_path, "--config", 'training={"lr": {"text": -0.1}}')
    console = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert console.count("training.lr") == 1 and "training.lr.text: -0.1 is less than the minimum of 0" in console


# ------------------------------------------------------------------------------------------ defaults in one place
def _classes_built_from_config():
    """(class, schema section) of every dataclass that resolved config is turned into."""
    from mfon.features.registry import extractor_class, extractor_names
    from mfon.features.text import TextConfig
    from mfon.losses import LossConfig
    from mfon.models.config import ModelConfig
    from mfon.training import Recipe

    extractors = [(extractor_class(name).config_type, modality)
                  for modality in ("acoustic", "visual") for name in extractor_names(modality)]
    return [(ModelConfig, "model"), (LossConfig, "loss"), (Recipe, "training"), (TextConfig, "text"),
            *dict.fromkeys(extractors)]


@pytest.mark.parametrize("cls,section", _classes_built_from_config(), ids=lambda x: getattr(x, "__name__", x))
def test_dataclass_defaults_are_the_schemas(cls, section):
    """A field named like a key of its schema section defaults to the schema's value (the one home of it)."""
    import dataclasses

    from mfon.config import schema_defaults

    defaults, made = schema_defaults(section), cls()
    shared = [f.name for f in dataclasses.fields(cls) if f.name in defaults]
    assert shared, cls
    for name in shared:  # a per-modality map may add a modality another section sets (model.max_len: text)
        value = getattr(made, name)
        assert (defaults[name].items() <= value.items() if isinstance(value, dict) else value == defaults[name]), name


def test_model_defaults_take_text_settings_from_the_text_section():
    from mfon.config import schema_defaults
    from mfon.models.config import ModelConfig

    text = schema_defaults("text")
    assert ModelConfig().text_model == text["model"] and ModelConfig().max_len["text"] == text["max_length"]


def test_schema_variant_enum_is_the_variants_that_read_visual():
    """analysis.tsne_variants lists exactly the variants of mfon/variants.py with a visual representation."""
    from mfon.config import load_schema
    from mfon.layout import MODALITIES
    from mfon.variants import VARIANTS

    enum = load_schema()["definitions"]["analysis"]["properties"]["tsne_variants"]["items"]["enum"]
    assert enum == [v for v, o in VARIANTS.items() if "visual" in o["model"].get("modalities", MODALITIES)]
