"""The ablation rows of the paper's Tables 4-5 as configuration overrides of the one MFON model."""

from __future__ import annotations

import copy
from typing import Any, Mapping

from ..losses import LossConfig
from .config import ModelConfig, _merge

_NO_AUX = {"alpha": 0.0, "beta": 0.0}

#: variant name -> {"model": ModelConfig overrides, "loss": LossConfig overrides}
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "mfon": {"model": {}, "loss": {}},
    "no_lva": {"model": {}, "loss": {"alpha": 0.0}},
    "no_licl": {"model": {}, "loss": {"beta": 0.0}},
    "no_lva_licl": {"model": {}, "loss": dict(_NO_AUX)},
    "no_prompt": {"model": {"use_prompt": False}, "loss": {}},
    "visual_query": {"model": {"guide": "visual"}, "loss": {}},
    "acoustic_query": {"model": {"guide": "acoustic"}, "loss": {}},
    "text_only": {"model": {"modalities": ["text"], "guide": "text"}, "loss": dict(_NO_AUX)},
    "visual_only": {"model": {"modalities": ["visual"], "guide": "visual"}, "loss": dict(_NO_AUX)},
    "acoustic_only": {"model": {"modalities": ["acoustic"], "guide": "acoustic"}, "loss": dict(_NO_AUX)},
}


def apply_variant(name: str, model: ModelConfig | Mapping[str, Any] | None = None,
                  loss: LossConfig | Mapping[str, Any] | None = None) -> tuple[ModelConfig, LossConfig]:
    """The base model/loss configuration (defaults when None) with variant ``name``'s overrides applied."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; known: {sorted(VARIANTS)}")
    base_model = model.to_dict() if isinstance(model, ModelConfig) else dict(model or {})
    base_loss = loss.to_dict() if isinstance(loss, LossConfig) else dict(loss or {})
    overrides = copy.deepcopy(VARIANTS[name])
    return (ModelConfig.from_dict(_merge(base_model, overrides["model"])),
            LossConfig.from_dict({**base_loss, **overrides["loss"]}))
