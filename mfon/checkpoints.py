"""Checkpoints that say how they were made: saving, safe loading (tensors and plain data only), and the checks
that a checkpoint fits the features it is used with and that its stored config fits its weights.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .atomic import atomic_path
from .data import FeatureSources, Standardizer
from .errors import MfonError
from .models.config import ModelConfig
from .models.encoders import TeacherEncoder
from .models.mfon import build_model
from .provenance import package_versions

CHECKPOINT_FORMAT = "mfon-checkpoint-v1"
REMAKE = "delete it and rerun snakemake, which trains that run again"


def save_checkpoint(path: Path, *, kind: str, model: torch.nn.Module, config: dict, provenance: dict,
                    standardizer: Standardizer | None, extra: dict | None = None) -> None:
    state = {"format": CHECKPOINT_FORMAT, "kind": kind, "state_dict": model.state_dict(), "config": config,
             "provenance": provenance, "standardizer": standardizer.to_state() if standardizer else None,
             "versions": package_versions(), **(extra or {})}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, *, kind: str | None = None, sources: FeatureSources | None = None,
                    modalities: tuple[str, ...] = ("text", "visual", "acoustic")) -> dict:
    """Load a checkpoint safely (tensors and plain data only) and check it fits ``sources``."""
    path = Path(path)
    if not path.is_file():
        raise MfonError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for foreign or corrupt files
        # torch's own message suggests loading with weights_only=False, which would run code from the file:
        # never repeated here.
        raise MfonError(f"{path}: not a checkpoint this project wrote, or a damaged one ({type(exc).__name__}); "
                        f"{REMAKE}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        made = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise MfonError(f"{path}: not a checkpoint this project wrote (format {made}); {REMAKE}")
    if kind is not None and state["kind"] != kind:
        raise MfonError(f"{path}: is a {state['kind']} checkpoint, expected {kind}")
    if sources is not None:
        checked = tuple(m for m in modalities if m in state["provenance"])
        current = sources.provenance(checked)
        for modality in checked:
            made, now = state["provenance"][modality], current[modality]
            if made["config_hash"] != now["config_hash"] or made["dims"] != now["dims"]:
                raise MfonError(
                    f"{path}: was trained on {modality} features made with other settings "
                    f"({made['feature_set']}, {made['dims']} dims, config {made['config_hash'][:12]}) than "
                    f"{getattr(sources, modality)} ({now['feature_set']}, {now['dims']} dims, "
                    f"config {now['config_hash'][:12]}); retrain it or use the matching features")
    return state


def stored_model_config(path: Path, state: dict) -> ModelConfig:
    """The model config a checkpoint stores, or a message saying why it is not valid."""
    try:
        return ModelConfig.from_dict(state["config"]["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MfonError(f"{path}: its stored model config is not valid ({exc})") from exc


def built_from_checkpoint(path: Path, build):
    """The network the checkpoint's stored config describes, or a message saying why it cannot be built."""
    try:
        return build()
    except (KeyError, TypeError, ValueError, AssertionError, RuntimeError) as exc:
        raise MfonError(f"{path}: its stored model config cannot build a model ({type(exc).__name__}: {exc})") from exc


def fit_weights(path: Path, model: torch.nn.Module, weights: dict) -> torch.nn.Module:
    """Load ``weights`` into ``model`` (built from the checkpoint's stored config) or say what does not fit."""
    expected = model.state_dict()
    shapes = [f"{name} is {tuple(weights[name].shape)} in the weights but {tuple(t.shape)} by the config"
              for name, t in expected.items() if name in weights and tuple(weights[name].shape) != tuple(t.shape)]
    missing = [name for name in expected if name not in weights]
    unexpected = [name for name in weights if name not in expected]

    def listed(items: list[str]) -> str:
        return "; ".join(items[:3]) + (f"; and {len(items) - 3} more" if len(items) > 3 else "")

    parts = [f"{len(shapes)} tensor(s) of another shape ({listed(shapes)})" if shapes else "",
             f"{len(missing)} tensor(s) the config needs are not in the weights ({listed(missing)})" if missing else "",
             f"{len(unexpected)} tensor(s) in the weights have no place in the config ({listed(unexpected)})"
             if unexpected else ""]
    if any(parts):
        raise MfonError(f"{path}: its stored model config does not fit its weights: "
                        + ", ".join(p for p in parts if p)
                        + ". The checkpoint was edited or put together from two runs; retrain the run")
    model.load_state_dict(weights)
    return model


def load_mfon_model(path: Path, *, sources: FeatureSources | None = None) -> tuple[torch.nn.Module, dict]:
    """An MFON checkpoint's network in eval mode (built from its stored config, the weights checked against it)
    and the checkpoint's state; with ``sources``, refused when trained on other features."""
    state = load_checkpoint(path, kind="mfon", sources=sources)
    config = stored_model_config(path, state)
    model = fit_weights(path, built_from_checkpoint(path, lambda: build_model(config)), state["state_dict"])
    model.eval()
    return model, state


def load_teacher(path: Path, sources: FeatureSources, d_model: int) -> TeacherEncoder:
    """A frozen teacher; refuses one trained on other features or with another width."""
    teacher, _ = load_teacher_state(path, sources, d_model)
    return teacher


def load_teacher_state(path: Path, sources: FeatureSources, d_model: int | None) -> tuple[TeacherEncoder, dict]:
    state = load_checkpoint(path, kind="teacher", sources=sources, modalities=("visual", "acoustic"))
    config = ModelConfig.from_dict(state["config"]["model"])
    if d_model is not None and config.d_model != d_model:
        raise MfonError(f"{path}: teacher width d_model={config.d_model} does not match the MFON model's "
                        f"d_model={d_model}; retrain the teachers with the same model.d_model")
    with torch.random.fork_rng(devices=[]):  # its init is overwritten: it must not move the run's RNG
        teacher = TeacherEncoder(config, state["config"]["modality"])
    teacher.load_state_dict(state["state_dict"])
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher, state
