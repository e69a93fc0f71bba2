"""MFON model code: configuration, building blocks, encoders, the model.

Typical use::

    from mfon.models import ModelConfig, build_model, TeacherEncoder, distillation_targets, parameter_groups
    from mfon.losses import MFONLoss

    model = build_model(ModelConfig(d_model=768))
    out = model(batch)                                  # ModelOutput(prediction, guide_vector, pooled)
    targets = distillation_targets(teachers, batch, model.config.fidelity)
    terms = MFONLoss({"alpha": 0.5, "beta": 0.5})(out, batch["label"], targets)
    terms["loss"].backward()
"""

from typing import TYPE_CHECKING

# Submodules load on first use (PEP 562), so that the torch-free parts (``mfon.models.config``) can be
# imported without torch: the workflow imports them while it plans.
_EXPORTS = {
    "config": ("FIDELITIES", "ModelConfig", "ModelConfigError"),
    "encoders": ("TeacherEncoder", "TextEncoder", "distillation_targets"),
    "layers": ("CrossModalEncoder", "CrossModalLayer", "MLPHead", "PackedFrames", "SinusoidalPositions",
               "key_padding_mask", "triangular_mask"),
    "mfon": ("MFON", "ModelOutput", "build_model", "parameter_groups"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = list(_HOME)

if TYPE_CHECKING:  # the same names, for type checkers and for mfon.codegraph (which reads imports)
    from .config import FIDELITIES, ModelConfig, ModelConfigError
    from .encoders import TeacherEncoder, TextEncoder, distillation_targets
    from .layers import (CrossModalEncoder, CrossModalLayer, MLPHead, PackedFrames, SinusoidalPositions,
                         key_padding_mask, triangular_mask)
    from .mfon import MFON, ModelOutput, build_model, parameter_groups


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value
