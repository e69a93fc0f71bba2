"""From a dataset's resolved settings to what one training run needs (and nothing more).

The workflow passes these dicts to the training rules as ``params``: a teacher sees only the knobs that shape
a teacher, so changing an MFON-only knob (an MPA depth, a loss weight, a learning rate) never retrains teachers.
Runtime knobs (threads, GPUs, device, precision) are not in them: they change a run's numbers at most within
float rounding, so the rules pass them as threads/resources (and each run records them). Torch-free: the workflow calls this while it plans.
"""

from __future__ import annotations

import copy

from .config import canonical, deep_merge
from .models.config import ModelConfig
from .variants import VARIANTS

TEACHER_MODEL_KEYS = ("d_model", "n_heads", "ffn_multiplier", "teacher_head_hidden", "fidelity")

#: The visual settings each backend reads (the others cannot change its features). ``device`` is a
#: runtime resource of the pyfeat backend, not a setting of its result.
VISUAL_BACKEND_KEYS = {
    "mediapipe": ("backend", "fps", "max_side", "min_detection_confidence", "no_face_policy"),
    "pyfeat": ("backend", "fps", "max_side", "no_face_policy"),
    "openface_csv": ("backend", "csv_root", "columns", "csv_extension", "fps", "no_face_policy"),
    "facet_export": ("backend", "csv_root", "columns", "csv_extension", "fps", "no_face_policy"),
}


#: The settings a named experiment may change (README "Experiments side by side"): those of training runs. The
#: others (the dataset's own fields, ingest, features, baselines) make files every experiment shares.
EXPERIMENT_SECTIONS = ("model", "teacher_training", "training", "loss", "runtime", "experiment", "paper")


def shared_setting_changes(default: dict, named: dict) -> list[str]:
    """The dotted keys where the settings of a named experiment (``named``) differ from the default's in what
    every experiment shares (the keys outside :data:`EXPERIMENT_SECTIONS`), sorted; [] when none."""
    def differing(a, b, prefix: str) -> list[str]:
        if isinstance(a, dict) and isinstance(b, dict):
            return [d for key in sorted(set(a) | set(b), key=str)
                    for d in differing(a.get(key), b.get(key), f"{prefix}{key}.")]
        return [] if a == b else [prefix.rstrip(".")]

    keys = sorted((set(default) | set(named)) - set(EXPERIMENT_SECTIONS), key=str)
    return [d for key in keys for d in differing(default.get(key), named.get(key), f"{key}.")]


def extraction_settings(settings: dict, modality: str) -> dict:
    """The settings that shape ``modality``'s extracted features, canonical (the extraction rules' params)."""
    section = settings[modality]
    if modality == "visual":
        section = {key: section[key] for key in VISUAL_BACKEND_KEYS[section["backend"]]}
    return canonical(section)


def teacher_settings(settings: dict, modality: str) -> dict:
    """Model knobs and training knobs of the teacher of ``modality``."""
    model = settings["model"]
    subset = {key: copy.deepcopy(model[key]) for key in TEACHER_MODEL_KEYS}
    for key in ("max_len", "teacher_layers", "teacher_dropout"):
        subset[key] = {modality: model[key][modality]}
    return canonical({"model": subset, "training": {**settings["teacher_training"],
                                                    "standardize": settings["training"]["standardize"]}})


def variant_model(settings: dict, variant: str) -> ModelConfig:
    """The validated model configuration of ``variant`` (input sizes still the defaults)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {list(VARIANTS)}")
    base = copy.deepcopy(settings["model"])
    base["max_len"] = {**base["max_len"], "text": settings["text"]["max_length"]}
    base["text_model"] = settings["text"]["model"]
    return ModelConfig.from_dict(deep_merge(base, VARIANTS[variant]["model"]))


def variant_settings(settings: dict, variant: str) -> dict:
    """Model (with the variant's overrides), loss and training of one MFON variant, plus what it reads."""
    model = variant_model(settings, variant)
    model_dict = model.to_dict()
    # Input sizes come from the feature files at training time, not from config.
    for key in ("d_visual", "d_acoustic"):
        model_dict.pop(key, None)
    loss = {**settings["loss"], **VARIANTS[variant]["loss"]}
    return canonical({"model": model_dict, "loss": loss, "training": settings["training"],
                      "modalities": list(model.modalities),
                      "teachers": teachers_needed(model.optimised, loss["alpha"])})


def teachers_needed(optimised: list[str], alpha: float) -> list[str]:
    """Teachers a variant distils from: the optimised non-text modalities, when L_va is on."""
    return [m for m in ("visual", "acoustic") if m in optimised] if alpha > 0 else []


def search_trial_settings(settings: dict, trial: int) -> dict:
    """Run settings of search trial ``trial``: the full model with the trial's sampled overrides."""
    from .search import apply_overrides, sample_trial

    search = settings["experiment"]["search"]
    overrides = sample_trial(search["space"], search["seed"], trial)
    return {**variant_settings(apply_overrides(settings, overrides), "mfon"), "overrides": canonical(overrides)}


def tuned_settings(settings: dict, overrides: dict) -> dict:
    """Run settings of the full model with the search's winning overrides."""
    from .search import apply_overrides

    return variant_settings(apply_overrides(settings, overrides), "mfon")


def job_runtime(resources) -> dict:
    """Where a training job runs (device, bf16 autocast), from its Snakemake resources."""
    return {"device": resources.device, "bf16": bool(resources.bf16)}
