"""MFON model code: configuration, building blocks, encoders, the model, its variants.

Typical use::

    from mfon.models import ModelConfig, build_model, TeacherEncoder, distillation_targets, parameter_groups
    from mfon.losses import MFONLoss

    model = build_model(ModelConfig(d_model=768))
    out = model(batch)                                  # ModelOutput(prediction, guide_vector, pooled)
    targets = distillation_targets(teachers, batch, model.config.fidelity)
    terms = MFONLoss({"alpha": 0.5, "beta": 0.5})(out, batch["label"], targets)
    terms["loss"].backward()
"""

from .config import FIDELITIES, MODALITIES, NON_TEXT, ModelConfig, ModelConfigError
from .encoders import TeacherEncoder, TextEncoder, distillation_targets
from .layers import (CrossModalEncoder, CrossModalLayer, MLPHead, SinusoidalPositions, key_padding_mask,
                     triangular_mask)
from .mfon import MFON, ModelOutput, build_model, parameter_groups
from .variants import VARIANTS, apply_variant

__all__ = [
    "FIDELITIES", "MODALITIES", "NON_TEXT", "ModelConfig", "ModelConfigError",
    "TeacherEncoder", "TextEncoder", "distillation_targets",
    "CrossModalEncoder", "CrossModalLayer", "MLPHead", "SinusoidalPositions", "key_padding_mask",
    "triangular_mask", "MFON", "ModelOutput", "build_model", "parameter_groups", "VARIANTS", "apply_variant",
]
