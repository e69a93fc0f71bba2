"""Configuration: schema validation with defaults, per-dataset resolution, canonical forms and hashing.

The schema (config/schema/config.schema.yaml) is the one place where knobs and their defaults are documented.
The effective settings of a section for a dataset are, later entries winning (README "Configuration"):

1. the schema's defaults,
2. the global section of config/config.yaml,
3. the dataset file's section (config/datasets/NAME.yaml),
4. command-line overrides: ``--configfile`` files, then ``--config`` values.

Values given on the command line arrive as text (Snakemake reads ``--config`` with YAML's base loader), so
every value is brought to the type its schema entry declares ("50" -> 50.0 for a number) before validation,
and numbers are normalised (an integer-valued ``number`` is a float, an ``integer`` an int): the same
settings always give the same values, hashes and rule params.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import ConfigError
from .layout import check_experiment_name

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "config" / "schema" / "config.schema.yaml"
SECTIONS = ("ingest", "extraction", "acoustic", "visual", "text", "model", "teacher_training", "training", "loss",
            "runtime", "experiment", "baselines")


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    return load_yaml(path)


def load_yaml(path: str | Path) -> Any:
    """A YAML file's content; a mapping that repeats a key is refused (YAML loaders let the last one win)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        repeated = _repeated_keys(yaml.compose(text, Loader=yaml.SafeLoader), "", set())
        if repeated:
            raise ConfigError(f"{path}: " + "; ".join(repeated) + ": the later one would silently replace the "
                              f"earlier. Keep one (merge the two into one section)")
        return yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc


def refuse_repeated_keys(paths) -> None:
    """Raise ConfigError for the first of ``paths`` (config files Snakemake has read) that repeats a key."""
    for path in paths:
        load_yaml(path)


def _repeated_keys(node, prefix: str, seen_nodes: set[int]) -> list[str]:
    """"key 'training' on lines 3 and 9" for each mapping key given twice, at any depth (``prefix``: its path)."""
    if node is None or id(node) in seen_nodes:  # an alias repeats a node, not a key
        return []
    seen_nodes.add(id(node))
    found = []
    if isinstance(node, yaml.MappingNode):
        lines: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            name = f"{prefix}{key_node.value}" if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if name is not None and key_node.tag != "tag:yaml.org,2002:merge":
                if (key_node.tag, name) in lines:
                    found.append(f"key {name!r} on lines {lines[key_node.tag, name]} and {line}")
                else:
                    lines[key_node.tag, name] = line
            found += _repeated_keys(value_node, f"{name}." if name is not None else prefix, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _repeated_keys(item, f"{prefix.rstrip('.')}[{i}].", seen_nodes)
    return found


def _with_defaults(validator_class):
    """A validator class that fills in `default` values of absent properties while validating."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if not (isinstance(sub, dict) and "default" in sub):
                    continue
                if name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
                elif isinstance(instance[name], dict) and isinstance(sub["default"], dict):
                    # `lr: {text: 0.1}` sets one group's rate: the other groups keep their defaults.
                    instance[name] = deep_merge(sub["default"], instance[name])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_FillingValidator = _with_defaults(jsonschema.Draft7Validator)


def _resolve(schema: dict, definitions: dict) -> dict:
    """``schema`` with ``$ref`` and ``allOf`` folded in (the subset of JSON schema this project uses)."""
    if "$ref" in schema:
        schema = {**definitions[schema["$ref"].rsplit("/", 1)[-1]],
                  **{k: v for k, v in schema.items() if k != "$ref"}}
        return _resolve(schema, definitions)
    for part in schema.get("allOf", []):
        schema = {**_resolve(part, definitions), **{k: v for k, v in schema.items() if k != "allOf"}}
    return schema


def _from_text(text: str, types: set[str]) -> Any:
    """A command-line string as the first of the schema's ``types`` it reads as; unchanged when none fits."""
    lowered = text.strip().lower()
    if "null" in types and lowered in ("null", "none", "~", ""):
        return None
    if "boolean" in types and lowered in ("true", "false", "yes", "no", "on", "off"):
        return lowered in ("true", "yes", "on")
    for kind, parse in (("integer", int), ("number", float)):
        if kind in types:
            try:
                return parse(text)
            except ValueError:
                pass
    if types & {"array", "object"}:
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            return text
        if isinstance(parsed, (list, dict)):
            return parsed
    return text


def conform(instance: Any, schema: dict, definitions: dict) -> Any:
    """``instance`` with each value brought to its schema type (see the module docstring); a new object."""
    schema = _resolve(schema, definitions)
    types = schema.get("type", [])
    types = {types} if isinstance(types, str) else set(types)
    if "enum" in schema and not types:
        types = {{bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}[type(v)]
                 for v in schema["enum"]}
    if isinstance(instance, str) and types and "string" not in types:
        instance = _from_text(instance, types)
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {k: conform(v, props[k] if k in props else extra if isinstance(extra, dict) else {}, definitions)
                for k, v in instance.items()}
    if isinstance(instance, list):
        items = schema.get("items", {})
        return [conform(v, items if isinstance(items, dict) else {}, definitions) for v in instance]
    if isinstance(instance, bool):
        return instance
    if isinstance(instance, int) and "number" in types and "integer" not in types:
        return float(instance)
    if isinstance(instance, float) and "integer" in types and instance.is_integer():
        return int(instance)
    return instance


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted (recursively) and tuples as lists: one repr per content.

    Rule params are compared by their repr, so every param goes through this.
    """
    if isinstance(value, dict):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


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


@functools.lru_cache(maxsize=None)
def _section_defaults(section: str, nested: tuple[str, ...]) -> dict:
    schema = load_schema()
    fragment = _fragment(schema, section)
    for key in nested:
        fragment = {**_resolve(fragment["properties"][key], schema["definitions"]),
                    "definitions": schema["definitions"]}
    filled: dict = {}
    _validate(filled, fragment, f"the schema's {'.'.join((section, *nested))}", fill_defaults=True)
    return conform(filled, fragment, schema["definitions"])


def schema_defaults(section: str, *nested: str) -> dict:
    """What the schema gives every key of the config section ``section`` (``nested``: of its sub-section, e.g.
    ``"dataset", "demo"``) when a config sets none (a copy)."""
    return copy.deepcopy(_section_defaults(section, nested))


def schema_default(section: str, key: str):
    """A dataclass field defaulting to the schema's default of ``section.key``, so that a class built from
    resolved config restates no default."""
    return dataclasses.field(default_factory=lambda: schema_defaults(section)[key])


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate the top-level configuration in place (typed, defaults filled); returns it."""
    schema = schema or load_schema()
    conformed = conform(config, schema, schema["definitions"])
    config.clear()
    config.update(conformed)
    for section in SECTIONS:
        config.setdefault(section, {})
    _validate(config, schema, "config", fill_defaults=True)
    config.update(conform(config, schema, schema["definitions"]))  # the defaults just filled in, typed
    unknown = [t for t in config.get("targets", []) if t not in config["datasets"]]
    if unknown:
        raise ConfigError(f"invalid configuration in config: targets {unknown} are not listed under `datasets`")
    _check_variants(config, "config")
    try:
        check_experiment_name(config["experiment_name"])
    except ValueError as exc:
        raise ConfigError(f"invalid configuration in config: {exc}") from None
    return config


def command_line_overrides(overrides: dict, schema: dict | None = None) -> dict:
    """The sections given with ``--configfile`` / ``--config``, typed; they win over dataset files."""
    schema = schema or load_schema()
    typed = conform(dict(overrides), schema, schema["definitions"])
    return {section: typed[section] for section in SECTIONS if isinstance(typed.get(section), dict)}


def _check_variants(settings: dict, where: str) -> None:
    """Variant names are checked against the one list of them (mfon.variants.VARIANTS)."""
    from .variants import VARIANTS

    experiment = settings.get("experiment", {})
    for key in ("variants", "ablation_variants"):
        unknown = [v for v in experiment.get(key, []) if v not in VARIANTS]
        if unknown:
            raise ConfigError(f"invalid configuration in {where}:\n  experiment.{key}: unknown variant(s) "
                              f"{unknown}; known: {list(VARIANTS)}")


def deep_merge(base: dict, override: dict) -> dict:
    """Return ``base`` updated recursively by ``override`` (neither is modified)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def dataset_settings(config: dict, name: str, workdir: Path | str = ".", schema: dict | None = None,
                     overrides: dict | None = None) -> dict:
    """The effective settings of dataset ``name``: its own fields plus every section, validated with defaults.

    ``overrides``: sections from the command line (:func:`command_line_overrides`), applied last.
    """
    schema = schema or load_schema()
    overrides = overrides or {}
    if name not in config["datasets"]:
        raise ConfigError(f"unknown dataset {name!r}; configured datasets: {sorted(config['datasets'])}")
    path = Path(workdir) / config["datasets"][name]
    if not path.is_file():
        raise ConfigError(f"dataset file for {name!r} not found: {path}")
    own = conform(load_yaml(path) or {}, _fragment(schema, "dataset"), schema["definitions"])
    # Checked alone first so that an error names this file; defaults fill in what a partial nested map leaves.
    _validate(copy.deepcopy(own), _fragment(schema, "dataset"), str(path), fill_defaults=True)
    if own["name"] != name:
        raise ConfigError(f"{path}: `name: {own['name']}` does not match the dataset key {name!r} in config")
    merged = {key: value for key, value in own.items() if key not in SECTIONS}
    for section in SECTIONS:
        merged[section] = deep_merge(deep_merge(config.get(section, {}), own.get(section, {})),
                                     overrides.get(section, {}))
    _validate(merged, _fragment(schema, "dataset"), str(path), fill_defaults=True)
    _check_variants(merged, str(path))
    merged = conform(merged, _fragment(schema, "dataset"), schema["definitions"])
    if merged["label_range"][0] >= merged["label_range"][1]:
        raise ConfigError(f"{path}: label_range must be [low, high] with low < high")
    if "demo" in merged:
        if merged["demo"]["min_duration"] > merged["demo"]["max_duration"]:
            raise ConfigError(f"{path}: demo.min_duration exceeds demo.max_duration")
    return canonical(merged)


def config_hash(settings: Any) -> str:
    """SHA-256 of the canonical JSON form of ``settings`` (what made an artifact)."""
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def unknown_dataset_message(name: str, known: list[str], *, config_file: str) -> str:
    """Why a target of dataset ``name`` cannot be made: the configured names and the closest one."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (f"unknown dataset {name!r}: the configured datasets are {', '.join(map(repr, known))}.{hint} "
            f"A new dataset is listed under `datasets:` in {config_file} (README 'Run it on your data').")
