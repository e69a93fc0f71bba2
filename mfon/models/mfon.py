"""The MFON model (paper Section 3): Modal Prompt Attention guided by one modality, then fusion.

All ablation variants of the paper are configurations of the single :class:`MFON` class:

* multimodal (>= 2 modalities): the guide modality provides the query sequence and the guide vector; every
  other modality is *optimised*: projected, prompted (``use_prompt``), attended by the guide in its own MPA
  stack and pooled at the first query position into Z_m. Prediction = MLP([guide vector; Z_m ...]).
* text only: BERT's [CLS] vector -> fusion MLP.
* visual / acoustic only: a :class:`TeacherEncoder` (same code as the teacher) -> its regression head.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from ..layout import MODALITIES
from .config import ModelConfig
from .encoders import TeacherEncoder, TextEncoder, check_frames, make_stack
from .layers import MLPHead


@dataclass
class ModelOutput:
    """prediction: (B,); guide_vector: (B, d) (the unimodal vector for single-modality variants);
    pooled: optimised modality -> Z_m (B, d), empty for single-modality variants."""

    prediction: torch.Tensor
    guide_vector: torch.Tensor
    pooled: dict[str, torch.Tensor] = field(default_factory=dict)


class MFON(nn.Module):
    """Modal Feature Optimization Network with Prompt. Build with :func:`build_model`.

    Submodules (present according to the configuration):
        text_encoder   TextEncoder (BERT + Linear + dropout)                 if text is used
        projections    ModuleDict m -> Linear(d_m, d)                        non-text modalities (multimodal)
        guide_encoder  self-attention stack over the projected guide         if the guide is not text
        prompts        ParameterDict m -> (max_len[m], d), uniform [0, 1)    optimised modalities, use_prompt
        mpa            ModuleDict m -> CrossModalEncoder (query = guide)      optimised modalities
        fusion         MLPHead(d * (1 + #optimised) -> fusion_hidden -> 1)   multimodal and text-only
        unimodal       TeacherEncoder                                         visual-only / acoustic-only
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        d = config.d_model
        mods = config.modalities
        self.fixed = config.fidelity == "fixed"
        self.text_encoder = TextEncoder(config) if "text" in mods else None
        self.unimodal: TeacherEncoder | None = None
        self.projections = nn.ModuleDict()
        self.prompts = nn.ParameterDict()
        self.mpa = nn.ModuleDict()
        self.guide_encoder = None
        self.fusion = None
        if config.single_modality:
            if config.guide == "text":
                self.fusion = MLPHead(d, list(config.fusion_hidden), 1)
            else:
                self.unimodal = TeacherEncoder(config, config.guide)
            return
        for m in mods:
            if m != "text":
                self.projections[m] = nn.Linear(config.input_dim(m), d)
        if config.guide != "text":
            # The non-text guide is contextualised like text is by BERT: a self-attention stack of the
            # teacher's depth over its projected frames; query = that output, guide vector = its position 0.
            self.guide_encoder = make_stack(config, config.teacher_layers[config.guide])
        for m in config.optimised:
            if config.use_prompt:
                self.prompts[m] = nn.Parameter(torch.rand(config.max_len[m], d))
            self.mpa[m] = make_stack(config, config.mpa_depth(m))
        self.fusion = MLPHead(d * (1 + len(config.optimised)), list(config.fusion_hidden), 1)

    # ------------------------------------------------------------------------------------------------
    def _frames(self, batch: Mapping[str, Any], m: str) -> tuple[torch.Tensor, torch.Tensor]:
        if m not in batch or f"{m}_lengths" not in batch:
            raise ValueError(f"batch needs {m!r} and '{m}_lengths' for modality {m}")
        x, lengths = batch[m], batch[f"{m}_lengths"]
        check_frames(x, lengths, m, self.config.input_dim(m), self.config.max_len[m])
        return x, lengths

    def _text(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        for key in ("text_input_ids", "text_attention_mask"):
            if key not in batch:
                raise ValueError(f"batch needs {key!r} for the text modality")
        return self.text_encoder(batch["text_input_ids"], batch["text_attention_mask"],
                                 batch.get("text_token_type_ids"))

    def forward(self, batch: Mapping[str, Any]) -> ModelOutput:
        """batch: text_input_ids / text_attention_mask / text_token_type_ids (B, L) int, visual (B, T_v, d_v),
        visual_lengths (B,), acoustic (B, T_a, d_a), acoustic_lengths (B,) -- those of the used modalities."""
        cfg = self.config
        if self.unimodal is not None:
            x, lengths = self._frames(batch, cfg.guide)
            vector = self.unimodal.encode(x, lengths)
            return ModelOutput(self.unimodal.head(vector).squeeze(-1), vector, {})

        seqs: dict[str, torch.Tensor] = {}
        lengths: dict[str, torch.Tensor] = {}
        text_vector = None
        if self.text_encoder is not None:
            seqs["text"], text_vector, lengths["text"] = self._text(batch)
        if cfg.single_modality:  # text only
            return ModelOutput(self.fusion(text_vector).squeeze(-1), text_vector, {})

        for m in self.projections:
            x, lengths[m] = self._frames(batch, m)
            seqs[m] = self.projections[m](x)
        batch_sizes = {m: s.shape[0] for m, s in seqs.items()}
        if len(set(batch_sizes.values())) != 1:
            raise ValueError(f"modalities disagree on the batch size: {batch_sizes}")

        guide = cfg.guide
        if guide == "text":
            query, guide_vector = seqs["text"], text_vector
        else:
            query = self.guide_encoder(seqs[guide], key_lengths=lengths[guide] if self.fixed else None)
            guide_vector = query[:, 0]

        pooled: dict[str, torch.Tensor] = {}
        for m in cfg.optimised:
            kv = seqs[m]
            if m in self.prompts:
                prompt = self.prompts[m]
                if kv.shape[1] > prompt.shape[0]:
                    raise ValueError(f"{m} sequence of length {kv.shape[1]} is longer than its prompt "
                                     f"(max_len[{m!r}] = {prompt.shape[0]})")
                kv = kv + prompt[: kv.shape[1]].unsqueeze(0)
            z = self.mpa[m](query, kv, key_lengths=lengths[m] if self.fixed else None,
                            triangular=not self.fixed, first_only=True)
            pooled[m] = z[:, 0]
        fused = torch.cat([guide_vector] + [pooled[m] for m in cfg.optimised], dim=-1)
        return ModelOutput(self.fusion(fused).squeeze(-1), guide_vector, pooled)


def build_model(config: ModelConfig | Mapping[str, Any]) -> MFON:
    """An :class:`MFON` from a :class:`ModelConfig` or a plain dict (see :meth:`ModelConfig.from_dict`)."""
    if not isinstance(config, ModelConfig):
        config = ModelConfig.from_dict(dict(config))
    return MFON(config)


def parameter_groups(model: MFON) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters by optimiser group, each exactly once.

    text: BERT and its projection (and text's prompt and MPA when text is optimised);
    visual / acoustic: that modality's projection, prompt, MPA stack, guide encoder, unimodal encoder;
    fusion: everything else (fusion MLP, unimodal regression head).
    Groups with no parameters are present as empty lists.
    """
    groups: dict[str, list[nn.Parameter]] = {"text": [], "visual": [], "acoustic": [], "fusion": []}
    seen: set[int] = set()

    def add(group: str, params) -> None:
        for p in params:
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                groups[group].append(p)

    if model.text_encoder is not None:
        add("text", model.text_encoder.parameters())
    for m in MODALITIES:
        if m in model.projections:
            add(m, model.projections[m].parameters())
        if m in model.prompts:
            add(m, [model.prompts[m]])
        if m in model.mpa:
            add(m, model.mpa[m].parameters())
    if model.guide_encoder is not None:
        add(model.config.guide, model.guide_encoder.parameters())
    if model.unimodal is not None:
        add(model.unimodal.modality, model.unimodal.proj.parameters())
        add(model.unimodal.modality, model.unimodal.encoder.parameters())
    add("fusion", model.parameters())
    return groups
