"""MFON's training objective (paper Eq. 6-13): L = L_task + alpha * L_va + beta * L_ICL.

* L_task: mean squared error of the sentiment prediction.
* L_va (intra-modal distillation): sum over optimised non-text modalities of KL(teacher || student), with
  softmax over the FEATURE dimension of the pooled (B, d) vectors and batch-mean reduction.
* L_ICL (inter-modal contrastive): sum over optimised modalities of InfoNCE between Z_m and the guide vector
  (the text vector in full MFON), cosine similarity, in-batch negatives.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from .config import schema_default

NCE_DIRECTIONS = ("m->t", "t->m", "both")


def task_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error. pred: (B,); target: (B,) or (B, 1). Returns a scalar."""
    if target.numel() != pred.numel():
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in size")
    return F.mse_loss(pred, target.to(pred.dtype).reshape(pred.shape))


def distillation_kl(teacher: torch.Tensor, student: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """KL(softmax(teacher / T) || softmax(student / T)) over the feature dimension, averaged over the batch.

    teacher, student: (B, d). The teacher is detached. The value is multiplied by T^2 (Hinton et al.'s
    convention, which keeps gradient sizes comparable across temperatures); at the default T = 1 it is the
    plain KL divergence: sum_k p_k (log p_k - log q_k), averaged over the B rows.
    """
    if teacher.shape != student.shape or teacher.dim() != 2:
        raise ValueError(f"teacher {tuple(teacher.shape)} and student {tuple(student.shape)} must both be (B, d)")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    log_p = F.log_softmax(teacher.detach() / temperature, dim=-1)
    log_q = F.log_softmax(student / temperature, dim=-1)
    kl = F.kl_div(log_q, log_p, reduction="batchmean", log_target=True)
    return kl * temperature ** 2


def info_nce(z: torch.Tensor, anchor: torch.Tensor, temperature: float = 1.0,
             direction: str = "m->t") -> torch.Tensor:
    """InfoNCE with in-batch negatives between z (B, d) and anchor (B, d); row i of each is a positive pair.

    logits[i, j] = cos(z_i, anchor_j) / temperature.
    "m->t": each z_i must pick anchor_i among all anchors, mean over i of CE(logits[i], i) (the authors');
    "t->m": each anchor_j must pick z_j (CE on the transposed logits); "both": the mean of the two.
    """
    if z.shape != anchor.shape or z.dim() != 2:
        raise ValueError(f"z {tuple(z.shape)} and anchor {tuple(anchor.shape)} must both be (B, d)")
    if direction not in NCE_DIRECTIONS:
        raise ValueError(f"direction must be one of {list(NCE_DIRECTIONS)}, got {direction!r}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = F.normalize(z, dim=-1) @ F.normalize(anchor, dim=-1).T / temperature
    targets = torch.arange(z.shape[0], device=z.device)
    if direction == "m->t":
        return F.cross_entropy(logits, targets)
    if direction == "t->m":
        return F.cross_entropy(logits.T, targets)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


@dataclass
class LossConfig:
    """Weights and settings of the MFON objective. Defaults: the schema's loss section (the authors' MOSI
    weights)."""

    alpha: float = schema_default("loss", "alpha")
    beta: float = schema_default("loss", "beta")
    kl_temperature: float = schema_default("loss", "kl_temperature")
    nce_temperature: float = schema_default("loss", "nce_temperature")
    nce_direction: str = schema_default("loss", "nce_direction")

    def __post_init__(self) -> None:
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"loss {name} must be a number >= 0, got {value!r}")
        for name in ("kl_temperature", "nce_temperature"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"loss {name} must be a number > 0, got {value!r}")
        if self.nce_direction not in NCE_DIRECTIONS:
            raise ValueError(f"loss nce_direction must be one of {list(NCE_DIRECTIONS)}, got {self.nce_direction!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "LossConfig":
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown loss config keys {unknown}; known: {sorted(names)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(dataclasses.asdict(self))


class MFONLoss:
    """L = L_task + alpha * L_va + beta * L_ICL, with every term returned for logging.

    Call with a model output (``prediction``, ``guide_vector``, ``pooled``), the labels and the teachers'
    vectors (see :func:`mfon.models.distillation_targets`). Returns a dict of scalar tensors:
    ``loss`` (the total, with graph), and detached ``task``, ``va``, ``icl``, ``va_<m>``, ``icl_<m>``.

    L_va covers the pooled modalities that have a teacher vector; text (optimised under a non-text guide)
    has no teacher and is skipped. With alpha > 0 every pooled visual/acoustic modality needs a teacher
    vector. L_ICL pairs each pooled Z_m with the guide vector. Single-modality outputs (no pooled vectors)
    give L_va = L_ICL = 0.
    """

    def __init__(self, config: LossConfig | Mapping[str, Any] | None = None):
        self.config = config if isinstance(config, LossConfig) else LossConfig.from_dict(config)

    def __call__(self, output: Any, target: torch.Tensor,
                 teacher_vectors: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        cfg = self.config
        pred = output.prediction
        zero = pred.new_zeros(())
        task = task_loss(pred, target)
        teacher_vectors = teacher_vectors or {}
        parts: dict[str, torch.Tensor] = {}

        va = zero
        for m, z in output.pooled.items():
            if m == "text":
                continue
            if m not in teacher_vectors:
                if cfg.alpha > 0:
                    raise ValueError(f"alpha = {cfg.alpha} > 0 but no teacher vector for {m!r}; "
                                     "pass distillation_targets(...) or set alpha = 0")
                continue
            term = distillation_kl(teacher_vectors[m], z, cfg.kl_temperature)
            parts[f"va_{m}"] = term
            va = va + term

        icl = zero
        for m, z in output.pooled.items():
            term = info_nce(z, output.guide_vector, cfg.nce_temperature, cfg.nce_direction)
            parts[f"icl_{m}"] = term
            icl = icl + term

        total = task
        if cfg.alpha > 0:
            total = total + cfg.alpha * va
        if cfg.beta > 0:
            total = total + cfg.beta * icl
        out = {"loss": total, "task": task.detach(), "va": va.detach(), "icl": icl.detach()}
        out.update({k: v.detach() for k, v in parts.items()})
        return out
