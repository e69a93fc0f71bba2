"""Applying a variant of :data:`mfon.variants.VARIANTS` to the one MFON model's configuration."""

from __future__ import annotations

import copy
from typing import Any, Mapping

from ..losses import LossConfig
from ..variants import VARIANTS
from ..config import deep_merge
from .config import ModelConfig


def apply_variant(name: str, model: ModelConfig | Mapping[str, Any] | None = None,
                  loss: LossConfig | Mapping[str, Any] | None = None) -> tuple[ModelConfig, LossConfig]:
    """The base model/loss configuration (defaults when None) with variant ``name``'s overrides applied."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; known: {sorted(VARIANTS)}")
    base_model = model.to_dict() if isinstance(model, ModelConfig) else dict(model or {})
    base_loss = loss.to_dict() if isinstance(loss, LossConfig) else dict(loss or {})
    overrides = copy.deepcopy(VARIANTS[name])
    return (ModelConfig.from_dict(deep_merge(base_model, overrides["model"])),
            LossConfig.from_dict({**base_loss, **overrides["loss"]}))
