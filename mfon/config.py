"""Configuration: schema validation with defaults, per-dataset resolution and hashing.

The schema (config/schema/config.schema.yaml) is the one place where knobs are documented. The effective
settings of a section for a dataset are: schema defaults, overridden by the global section of config.yaml,
overridden by the dataset file's section.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "config" / "schema" / "config.schema.yaml"
SECTIONS = ("ingest", "extraction", "acoustic", "visual", "text", "model", "teacher_training", "training", "loss",
            "runtime", "experiment")


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _with_defaults(validator_class):
    """A validator class that fills in `default` values of absent properties while validating."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_FillingValidator = _with_defaults(jsonschema.Draft7Validator)


def _validate(instance: Any, schema: dict, where: str, fill_defaults: bool) -> None:
    cls = _FillingValidator if fill_defaults else jsonschema.Draft7Validator
    errors = sorted(cls(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for err in errors:
            key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
            lines.append(f"  {key}: {err.message}")
        raise ConfigError(f"invalid configuration in {where}:\n" + "\n".join(lines))


def _fragment(schema: dict, definition: str) -> dict:
    """A definition of the schema as a standalone schema (keeps `definitions` for $ref)."""
    return {**schema["definitions"][definition], "definitions": schema["definitions"]}


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate the top-level configuration in place, filling defaults; returns it."""
    schema = schema or load_schema()
    for section in SECTIONS:
        config.setdefault(section, {})
    _validate(config, schema, "config", fill_defaults=True)
    unknown = [t for t in config.get("targets", []) if t not in config["datasets"]]
    if unknown:
        raise ConfigError(f"invalid configuration in config: targets {unknown} are not listed under `datasets`")
    return config


def deep_merge(base: dict, override: dict) -> dict:
    """Return ``base`` updated recursively by ``override`` (neither is modified)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def dataset_settings(config: dict, name: str, workdir: Path | str = ".", schema: dict | None = None) -> dict:
    """The effective settings of dataset ``name``: its own fields plus every section, validated with defaults."""
    schema = schema or load_schema()
    if name not in config["datasets"]:
        raise ConfigError(f"unknown dataset {name!r}; configured datasets: {sorted(config['datasets'])}")
    path = Path(workdir) / config["datasets"][name]
    if not path.is_file():
        raise ConfigError(f"dataset file for {name!r} not found: {path}")
    with open(path, encoding="utf-8") as fh:
        own = yaml.safe_load(fh) or {}
    _validate(own, _fragment(schema, "dataset"), str(path), fill_defaults=False)
    if own["name"] != name:
        raise ConfigError(f"{path}: `name: {own['name']}` does not match the dataset key {name!r} in config")
    merged = {key: value for key, value in own.items() if key not in SECTIONS}
    for section in SECTIONS:
        merged[section] = deep_merge(config.get(section, {}), own.get(section, {}))
    _validate(merged, _fragment(schema, "dataset"), str(path), fill_defaults=True)
    if merged["label_range"][0] >= merged["label_range"][1]:
        raise ConfigError(f"{path}: label_range must be [low, high] with low < high")
    if "demo" in merged:
        if merged["demo"]["min_duration"] > merged["demo"]["max_duration"]:
            raise ConfigError(f"{path}: demo.min_duration exceeds demo.max_duration")
    return merged


def config_hash(settings: Any) -> str:
    """SHA-256 of the canonical JSON form of ``settings`` (what made an artifact)."""
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()
