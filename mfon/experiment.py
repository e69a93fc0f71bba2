"""From a dataset's resolved settings to what one training run needs (and nothing more).

The workflow passes these dicts to the training rules as ``params``: a teacher sees only the knobs that shape
a teacher, so changing an MFON-only knob (an MPA depth, a loss weight, a learning rate) never retrains teachers.
"""

from __future__ import annotations

import copy

from .models import VARIANTS, apply_variant

TEACHER_MODEL_KEYS = ("d_model", "n_heads", "ffn_multiplier", "teacher_head_hidden", "fidelity")


def teacher_settings(settings: dict, modality: str) -> dict:
    """Model knobs, training knobs and runtime of the teacher of ``modality``."""
    model = settings["model"]
    subset = {key: copy.deepcopy(model[key]) for key in TEACHER_MODEL_KEYS}
    for key in ("max_len", "teacher_layers", "teacher_dropout"):
        subset[key] = {modality: model[key][modality]}
    return {"model": subset, "training": {**settings["teacher_training"],
                                          "standardize": settings["training"]["standardize"]},
            "runtime": settings["runtime"]}


def variant_settings(settings: dict, variant: str) -> dict:
    """Model (with the variant's overrides), loss, training and runtime of one MFON variant."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {sorted(VARIANTS)}")
    base = copy.deepcopy(settings["model"])
    base["max_len"] = {**base["max_len"], "text": settings["text"]["max_length"]}
    base["text_model"] = settings["text"]["model"]
    model, loss = apply_variant(variant, base, settings["loss"])
    model_dict = model.to_dict()
    # Input sizes come from the feature files at training time, not from config.
    for key in ("d_visual", "d_acoustic"):
        model_dict.pop(key, None)
    return {"model": model_dict, "loss": loss.to_dict(), "training": settings["training"],
            "runtime": settings["runtime"], "teachers": teachers_needed(model.optimised, loss.alpha)}


def teachers_needed(optimised: list[str], alpha: float) -> list[str]:
    """Teachers a variant distils from: the optimised non-text modalities, when L_va is on."""
    return [m for m in ("visual", "acoustic") if m in optimised] if alpha > 0 else []


def search_trial_settings(settings: dict, trial: int) -> dict:
    """Run settings of search trial ``trial``: the full model with the trial's sampled overrides."""
    from .search import apply_overrides, sample_trial

    search = settings["experiment"]["search"]
    overrides = sample_trial(search["space"], search["seed"], trial)
    return {**variant_settings(apply_overrides(settings, overrides), "mfon"), "overrides": overrides}


def tuned_settings(settings: dict, overrides: dict) -> dict:
    """Run settings of the full model with the search's winning overrides."""
    from .search import apply_overrides

    return variant_settings(apply_overrides(settings, overrides), "mfon")
