"""The ablation rows of the paper's Tables 4-5: the one list of variant names and what each changes.

Each variant is a set of overrides of the one MFON model (``model``: ModelConfig fields) and of its loss
(``loss``: LossConfig fields). Plain data and no torch, so that the workflow can plan runs without importing
the model code; :func:`mfon.experiment.variant_settings` builds a variant's run settings from them.
"""

from __future__ import annotations

_NO_AUX = {"alpha": 0.0, "beta": 0.0}

#: variant name -> {"model": ModelConfig overrides, "loss": LossConfig overrides}
VARIANTS: dict[str, dict[str, dict]] = {
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
