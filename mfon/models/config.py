"""Model configuration: every width, depth, head count, dropout and sequence length of MFON in one dataclass.

Nothing in :mod:`mfon.models` hard-codes a size; the defaults below are the authors' MOSI settings
(d = 768, 8 heads, MPA visual/acoustic 2/5 layers, teachers 4/3 layers, MOSI input sizes).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..config import deep_merge, schema_default, schema_defaults
from ..errors import ConfigError
from ..layout import FRAME_MODALITIES, MODALITIES

FIDELITIES = ("fixed", "paper")


class ModelConfigError(ConfigError, ValueError):
    """An invalid model configuration (a ``ValueError`` and an :class:`mfon.errors.ConfigError`)."""


@dataclass
class ModelConfig:
    """Architecture of MFON, its teachers and its ablation variants.

    Sizes
        d_model: shared width d after projection. n_heads: attention heads (d_model % n_heads == 0).
        ffn_multiplier: feed-forward width = ffn_multiplier * d (the authors use d -> d, i.e. 1).
        d_visual, d_acoustic: per-frame input feature sizes.
        max_len: per modality, the prompt length T_m; visual/acoustic sequences longer than it are refused.
            Text is not limited by it (its length is set by tokenisation); max_len["text"] is only the length
            of text's prompt when text is an optimised modality (non-text guide).
        fusion_hidden: hidden widths of the fusion MLP ([guide; Z_m...] -> hidden... -> 1, GELU).
        teacher_head_hidden: hidden widths of a teacher's (and unimodal variant's) regression head.
    Depths
        mpa_layers: per optimised modality, layers of its Modal Prompt Attention stack. When text is an
            optimised modality (non-text guide) and ``mpa_layers`` has no "text" entry, text gets the guide's depth.
        teacher_layers: per non-text modality, self-attention layers of its teacher (and of the unimodal
            variant, and of the guide encoder when that modality is the query).
    Dropouts
        mpa_dropout: attention-weight dropout of MPA (and of a non-text guide encoder).
        relu_dropout, res_dropout, embed_dropout: MulT-style dropouts after the feed-forward activation,
            on residual branches, and on the scaled+positioned inputs of each stack.
        text_dropout: after the projection of BERT's sequence.
        teacher_dropout: per modality, used for all four dropouts of that teacher's stack.
    Text
        text_pooling: the text vector: "cls" (output at [CLS], the authors') or "mean" (mean over real tokens,
            for sentence-embedding models trained with mean pooling such as all-MiniLM-L6-v2).
        text_model: a local BERT directory, a Hugging Face name already cached, or ``packaged:NAME``
            (see :func:`mfon.features.text.resolve_text_model`). It must match the tokenizer used for the data.
    Behaviour
        fidelity: "fixed" (key-padding masks, no causal mask, teachers in eval mode) or "paper"
            (the authors' behaviour, defects included; see docs/model.md "Fidelity modes").
        modalities: the modalities used (subset of text/visual/acoustic).
        guide: the query modality of MPA; the others in ``modalities`` are optimised.
        use_prompt: add the learned prompt p^m to each optimised modality's sequence.
    """

    # Defaults: the schema's (config/schema/config.schema.yaml, sections model and text); the input sizes and
    # the modalities are not settings (the feature files and the variant give them).
    d_model: int = schema_default("model", "d_model")
    n_heads: int = schema_default("model", "n_heads")
    ffn_multiplier: float = schema_default("model", "ffn_multiplier")
    d_visual: int = 20
    d_acoustic: int = 5
    max_len: dict[str, int] = field(default_factory=lambda: {"text": schema_defaults("text")["max_length"],
                                                             **schema_defaults("model")["max_len"]})
    mpa_layers: dict[str, int] = schema_default("model", "mpa_layers")
    teacher_layers: dict[str, int] = schema_default("model", "teacher_layers")
    mpa_dropout: float = schema_default("model", "mpa_dropout")
    relu_dropout: float = schema_default("model", "relu_dropout")
    res_dropout: float = schema_default("model", "res_dropout")
    embed_dropout: float = schema_default("model", "embed_dropout")
    text_dropout: float = schema_default("model", "text_dropout")
    teacher_dropout: dict[str, float] = schema_default("model", "teacher_dropout")
    fusion_hidden: list[int] = schema_default("model", "fusion_hidden")
    teacher_head_hidden: list[int] = schema_default("model", "teacher_head_hidden")
    text_model: str = schema_default("text", "model")
    text_pooling: str = schema_default("model", "text_pooling")
    fidelity: str = schema_default("model", "fidelity")
    modalities: list[str] = field(default_factory=lambda: list(MODALITIES))
    guide: str = "text"
    use_prompt: bool = True

    def __post_init__(self) -> None:
        self.validate()

    # ----- derived facts -------------------------------------------------------------------------------
    @property
    def optimised(self) -> list[str]:
        """Modalities refined by MPA, in canonical order (empty for a single-modality variant)."""
        return [m for m in MODALITIES if m in self.modalities and m != self.guide]

    @property
    def single_modality(self) -> bool:
        return len(self.modalities) == 1

    def input_dim(self, modality: str) -> int:
        if modality not in FRAME_MODALITIES:
            raise ModelConfigError(f"no frame feature size for modality {modality!r}")
        return self.d_visual if modality == "visual" else self.d_acoustic

    def mpa_depth(self, modality: str) -> int:
        """Layers of the MPA stack of an optimised modality (text falls back to the guide's depth)."""
        if modality in self.mpa_layers:
            return self.mpa_layers[modality]
        if modality == "text" and self.guide in self.mpa_layers:
            return self.mpa_layers[self.guide]
        raise ModelConfigError(f"mpa_layers has no entry for optimised modality {modality!r}")

    # ----- (de)serialisation -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "ModelConfig":
        """Build from a plain dict. Unknown keys are errors; dict-valued fields are merged over the defaults
        (so ``{"mpa_layers": {"visual": 5}}`` keeps the default acoustic depth)."""
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ModelConfigError(f"unknown model config keys {unknown}; known: {sorted(names)}")
        defaults = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
                    for f in dataclasses.fields(cls)}
        kwargs = {}
        for name, value in data.items():
            base = defaults[name]
            if isinstance(base, dict):
                if not isinstance(value, dict):
                    raise ModelConfigError(f"model config {name!r} must be a mapping, got {value!r}")
                value = {**base, **value}
            kwargs[name] = copy.deepcopy(value)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(dataclasses.asdict(self))

    def replace(self, **changes: Any) -> "ModelConfig":
        """A validated copy with ``changes`` applied (dict fields merged key by key)."""
        return ModelConfig.from_dict(deep_merge(self.to_dict(), changes))

    # ----- validation --------------------------------------------------------------------------------
    def validate(self) -> None:
        err = ModelConfigError
        for name in ("d_model", "n_heads", "d_visual", "d_acoustic"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise err(f"{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise err(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if not isinstance(self.ffn_multiplier, (int, float)) or self.ffn_multiplier <= 0 \
                or int(round(self.ffn_multiplier * self.d_model)) < 1:
            raise err(f"ffn_multiplier must be > 0 (feed-forward width >= 1), got {self.ffn_multiplier!r}")
        for name in ("mpa_dropout", "relu_dropout", "res_dropout", "embed_dropout", "text_dropout"):
            _check_prob(name, getattr(self, name))
        if self.fidelity not in FIDELITIES:
            raise err(f"fidelity must be one of {list(FIDELITIES)}, got {self.fidelity!r}")
        if self.text_pooling not in ("cls", "mean"):
            raise err(f"text_pooling must be 'cls' or 'mean', got {self.text_pooling!r}")
        if not isinstance(self.use_prompt, bool):
            raise err(f"use_prompt must be true or false, got {self.use_prompt!r}")
        mods = list(self.modalities)
        if not mods:
            raise err("modalities must name at least one of text, visual, acoustic")
        bad = [m for m in mods if m not in MODALITIES]
        if bad:
            raise err(f"unknown modalities {bad}; choose from {list(MODALITIES)}")
        if len(set(mods)) != len(mods):
            raise err(f"modalities lists a modality twice: {mods}")
        if self.guide not in MODALITIES:
            raise err(f"guide must be one of {list(MODALITIES)}, got {self.guide!r}")
        if self.guide not in mods:
            raise err(f"guide {self.guide!r} is not among modalities {mods}"
                      + (f"; a single-modality model needs guide={mods[0]!r}" if len(mods) == 1 else ""))
        for name in ("fusion_hidden", "teacher_head_hidden"):
            widths = getattr(self, name)
            if not isinstance(widths, (list, tuple)) or any(
                    not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
                raise err(f"{name} must be a list of positive integers, got {widths!r}")
        for name in ("mpa_layers", "teacher_layers", "teacher_dropout", "max_len"):
            table = getattr(self, name)
            if not isinstance(table, dict):
                raise err(f"{name} must be a mapping modality -> value, got {table!r}")
            bad = [m for m in table if m not in MODALITIES]
            if bad:
                raise err(f"{name} has unknown modalities {bad}; choose from {list(MODALITIES)}")
        for m in self.optimised:
            _check_count(f"mpa_layers[{m!r}]", self.mpa_depth(m))
        # Non-text modalities need a teacher-shaped stack: as distillation teacher, as the unimodal variant,
        # or as the encoder of a non-text guide.
        for m in (x for x in mods if x in FRAME_MODALITIES):
            if m not in self.teacher_layers:
                raise err(f"teacher_layers has no entry for modality {m!r}")
            _check_count(f"teacher_layers[{m!r}]", self.teacher_layers[m])
            if m not in self.teacher_dropout:
                raise err(f"teacher_dropout has no entry for modality {m!r}")
            _check_prob(f"teacher_dropout[{m!r}]", self.teacher_dropout[m])
        # Frame modalities are padded to max_len; text needs it only as the length of its prompt.
        for m in mods:
            if m == "text" and not (self.use_prompt and "text" in self.optimised):
                continue
            if m not in self.max_len:
                raise err(f"max_len has no entry for modality {m!r}")
            _check_count(f"max_len[{m!r}]", self.max_len[m])
        if "text" in mods and (not isinstance(self.text_model, str) or not self.text_model.strip()):
            raise err("text_model must name a BERT model when text is among modalities")


def _check_prob(name: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
        raise ModelConfigError(f"{name} must be a probability in [0, 1), got {value!r}")


def _check_count(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ModelConfigError(f"{name} must be a positive integer, got {value!r}")
