"""Unimodal encoders: BERT for text, and the self-attention teacher for a frame-feature modality."""

from __future__ import annotations

import contextlib
from typing import Mapping

import torch
from torch import nn

from ..layout import FRAME_MODALITIES
from .config import ModelConfig
from .layers import CrossModalEncoder, MLPHead


def make_stack(config: ModelConfig, n_layers: int, *, dropout: float | None = None) -> CrossModalEncoder:
    """A :class:`CrossModalEncoder` sized by ``config``. ``dropout`` replaces all four of its dropouts
    (teachers); without it the MPA dropouts of the config are used. ``paper`` fidelity gets MulT's input
    handling (separate key/value dropout, no position code where the first channel is 0)."""
    attn, relu, res, embed = ((dropout,) * 4 if dropout is not None else
                              (config.mpa_dropout, config.relu_dropout, config.res_dropout, config.embed_dropout))
    return CrossModalEncoder(config.d_model, config.n_heads, n_layers,
                             ffn_dim=int(round(config.ffn_multiplier * config.d_model)),
                             attn_dropout=attn, relu_dropout=relu, res_dropout=res, embed_dropout=embed,
                             paper_inputs=config.fidelity == "paper")


def check_frames(x: torch.Tensor, lengths: torch.Tensor, modality: str, feat_dim: int,
                 max_len: int | None = None) -> None:
    """Raise ValueError unless x is (B, T, feat_dim) float and lengths (B,) with lengths <= T."""
    if not torch.is_tensor(x) or x.dim() != 3 or x.shape[-1] != feat_dim:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{modality} must be a (B, T, {feat_dim}) tensor, got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"{modality} must be a float tensor, got {x.dtype}")
    if not torch.is_tensor(lengths) or lengths.shape != (x.shape[0],):
        shape = tuple(lengths.shape) if torch.is_tensor(lengths) else type(lengths).__name__
        raise ValueError(f"{modality}_lengths must be a ({x.shape[0]},) tensor, got {shape}")
    if x.shape[1] < 1:
        raise ValueError(f"{modality} has no frames (T = 0)")
    if lengths.numel() and int(lengths.max()) > x.shape[1]:
        raise ValueError(f"{modality}_lengths has {int(lengths.max())} > padded length {x.shape[1]}")
    if max_len is not None and x.shape[1] > max_len:
        raise ValueError(f"{modality} has {x.shape[1]} frames, more than max_len[{modality!r}] = {max_len}")


@contextlib.contextmanager
def _quiet_transformers():
    """Silence transformers' load report and progress bar while a model loads."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


class TextEncoder(nn.Module):
    """BERT (fully fine-tuned) -> Linear(h, d) -> Dropout on the whole token sequence.

    The text vector is the output at position 0 ([CLS], the authors' choice) or, with ``text_pooling: mean``,
    the mean over real tokens. BERT's pooler is not loaded (MFON never uses it).
    Token columns beyond the batch's longest real text are dropped before BERT: this changes no output
    (BERT masks padding) and reproduces the authors' per-batch padding, which fixes T_q of the MPA masks.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        from transformers import BertModel

        from ..features.text import resolve_text_model

        source = resolve_text_model(config.text_model)
        with _quiet_transformers():
            self.bert = BertModel.from_pretrained(source, local_files_only=True, add_pooling_layer=False)
        self.bert.float()
        hidden = self.bert.config.hidden_size
        self.proj = nn.Linear(hidden, config.d_model)
        self.dropout = nn.Dropout(config.text_dropout)
        self.pooling = config.text_pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """input_ids, attention_mask, token_type_ids: (B, L) integer.

        Returns (sequence (B, L', d), vector (B, d), lengths (B,)) with L' = the longest real text in the batch.
        """
        if input_ids.dim() != 2:
            raise ValueError(f"text_input_ids must be (B, L), got {tuple(input_ids.shape)}")
        if attention_mask.shape != input_ids.shape:
            raise ValueError(f"text_attention_mask {tuple(attention_mask.shape)} must match "
                             f"text_input_ids {tuple(input_ids.shape)}")
        if token_type_ids is not None and token_type_ids.shape != input_ids.shape:
            raise ValueError(f"text_token_type_ids {tuple(token_type_ids.shape)} must match "
                             f"text_input_ids {tuple(input_ids.shape)}")
        lengths = attention_mask.long().sum(dim=1)
        keep = max(int(lengths.max()) if lengths.numel() else 1, 1)
        ids = input_ids[:, :keep].long()
        mask = attention_mask[:, :keep].long()
        types = None if token_type_ids is None else token_type_ids[:, :keep].long()
        hidden = self.bert(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        seq = self.dropout(self.proj(hidden))
        if self.pooling == "mean":  # for sentence-embedding models trained with mean pooling (all-MiniLM)
            weights = mask.unsqueeze(-1).to(seq.dtype)
            vector = (seq * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        else:
            vector = seq[:, 0]
        return seq, vector, lengths


class TeacherEncoder(nn.Module):
    """Unimodal encoder of a frame-feature modality: Linear(d_m, d) -> self-attention stack -> position 0,
    plus a regression head d -> teacher_head_hidden... -> 1 (GELU).

    Trained alone as the distillation teacher; the same module is the visual-only / acoustic-only variant.
    In ``fixed`` fidelity padded frames are masked; in ``paper`` fidelity every frame is attended.
    """

    def __init__(self, config: ModelConfig, modality: str):
        super().__init__()
        if modality not in FRAME_MODALITIES:
            raise ValueError(f"TeacherEncoder modality must be one of {list(FRAME_MODALITIES)}, got {modality!r}")
        if modality not in config.teacher_layers or modality not in config.teacher_dropout:
            raise ValueError(f"teacher_layers and teacher_dropout need an entry for {modality!r}")
        self.modality = modality
        self.feat_dim = config.input_dim(modality)
        self.max_len = config.max_len.get(modality)
        self.use_masks = config.fidelity == "fixed"
        self.proj = nn.Linear(self.feat_dim, config.d_model)
        self.encoder = make_stack(config, config.teacher_layers[modality],
                                  dropout=config.teacher_dropout[modality])
        self.head = MLPHead(config.d_model, list(config.teacher_head_hidden), 1)

    def encode(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: (B, T, d_m) float; lengths: (B,). Returns the pooled representation (B, d)."""
        check_frames(x, lengths, self.modality, self.feat_dim, self.max_len)
        h = self.encoder(self.proj(x), key_lengths=lengths if self.use_masks else None, first_only=True)
        return h[:, 0]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: (B, T, d_m); lengths: (B,). Returns the sentiment prediction (B,)."""
        return self.head(self.encode(x, lengths)).squeeze(-1)


def distillation_targets(teachers: Mapping[str, TeacherEncoder], batch: Mapping[str, torch.Tensor],
                         fidelity: str = "fixed") -> dict[str, torch.Tensor]:
    """The frozen teachers' pooled vectors x^m for L_va: modality -> (B, d), without gradient.

    ``fixed``: teachers run in eval mode (dropout off). ``paper``: teachers run in train mode, so their dropout
    stays on, as in the authors' code. Either way under ``torch.no_grad()``; each teacher's train/eval flag is
    restored afterwards.
    """
    if fidelity not in ("fixed", "paper"):
        raise ValueError(f"fidelity must be 'fixed' or 'paper', got {fidelity!r}")
    targets: dict[str, torch.Tensor] = {}
    for modality, teacher in teachers.items():
        if modality not in batch:
            raise ValueError(f"batch has no {modality!r} features for its teacher")
        was_training = teacher.training
        teacher.train(fidelity == "paper")
        try:
            with torch.no_grad():
                targets[modality] = teacher.encode(batch[modality], batch[f"{modality}_lengths"])
        finally:
            teacher.train(was_training)
    return targets
