"""MFON losses against values computed by hand with numpy on tiny batches."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mfon.losses import LossConfig, MFONLoss, distillation_kl, info_nce, task_loss

TEACHER = np.array([[0.2, -1.0, 0.5], [1.5, 0.3, -0.4]])
STUDENT = np.array([[0.1, 0.4, -0.3], [-0.2, 0.9, 0.0]])
Z = np.array([[1.0, 0.0, 2.0], [0.5, -1.0, 0.3], [-0.7, 0.2, 0.1]])
ANCHOR = np.array([[0.9, 0.1, 1.5], [0.0, -1.0, 1.0], [0.3, 0.3, -0.2]])


def t(a) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64)


def np_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_kl(teacher: np.ndarray, student: np.ndarray, temp: float = 1.0) -> float:
    p, q = np_softmax(teacher / temp), np_softmax(student / temp)
    return float((p * (np.log(p) - np.log(q))).sum(axis=1).mean() * temp ** 2)


def np_nce(z: np.ndarray, anchor: np.ndarray, temp: float = 1.0) -> float:
    """Mean over rows i of -log( exp(s_ii) / sum_j exp(s_ij) ), s_ij = cos(z_i, anchor_j) / temp."""
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    an = anchor / np.linalg.norm(anchor, axis=1, keepdims=True)
    total = 0.0
    for i in range(len(z)):
        s = [float(zn[i] @ an[j]) / temp for j in range(len(anchor))]
        total += -(s[i] - math.log(sum(math.exp(v) for v in s)))
    return total / len(z)


def test_task_loss_is_mse():
    pred, target = t([1.0, 2.0, 3.0]), t([1.5, 2.0, 2.0])
    assert task_loss(pred, target).item() == pytest.approx((0.25 + 0.0 + 1.0) / 3)
    assert task_loss(pred, target.view(3, 1)).item() == pytest.approx((0.25 + 0.0 + 1.0) / 3)
    with pytest.raises(ValueError, match="differ in size"):
        task_loss(pred, t([1.0, 2.0]))


def test_distillation_kl_matches_hand_value():
    # Worked by hand for row 0 as a sanity anchor of the numpy reference.
    p0, q0 = np_softmax(TEACHER)[0], np_softmax(STUDENT)[0]
    assert np_kl(TEACHER[:1], STUDENT[:1]) == pytest.approx(sum(p0[k] * math.log(p0[k] / q0[k]) for k in range(3)))
    assert distillation_kl(t(TEACHER), t(STUDENT)).item() == pytest.approx(np_kl(TEACHER, STUDENT), rel=1e-10)
    # Temperature: softmax of x / T, times T^2.
    assert distillation_kl(t(TEACHER), t(STUDENT), temperature=2.0).item() == pytest.approx(
        np_kl(TEACHER, STUDENT, 2.0), rel=1e-10)
    # Direction: KL(teacher || student), not the reverse.
    assert np_kl(TEACHER, STUDENT) != pytest.approx(np_kl(STUDENT, TEACHER))
    assert distillation_kl(t(TEACHER), t(TEACHER)).item() == pytest.approx(0.0, abs=1e-12)


def test_distillation_kl_detaches_teacher():
    teacher = t(TEACHER).requires_grad_()
    student = t(STUDENT).requires_grad_()
    distillation_kl(teacher, student).backward()
    assert teacher.grad is None
    assert student.grad is not None and student.grad.abs().sum() > 0


def test_info_nce_matches_hand_value():
    assert info_nce(t(Z), t(ANCHOR)).item() == pytest.approx(np_nce(Z, ANCHOR), rel=1e-10)
    assert info_nce(t(Z), t(ANCHOR), direction="t->m").item() == pytest.approx(np_nce(ANCHOR, Z), rel=1e-10)
    both = 0.5 * (np_nce(Z, ANCHOR) + np_nce(ANCHOR, Z))
    assert info_nce(t(Z), t(ANCHOR), direction="both").item() == pytest.approx(both, rel=1e-10)
    assert info_nce(t(Z), t(ANCHOR), temperature=0.5).item() == pytest.approx(np_nce(Z, ANCHOR, 0.5), rel=1e-10)
    # Scale invariance (cosine similarity).
    assert info_nce(3 * t(Z), 0.1 * t(ANCHOR)).item() == pytest.approx(np_nce(Z, ANCHOR), rel=1e-10)
    with pytest.raises(ValueError, match="direction"):
        info_nce(t(Z), t(ANCHOR), direction="sideways")
    with pytest.raises(ValueError, match=r"\(B, d\)"):
        info_nce(t(Z), t(ANCHOR[:2]))


def fake_output(pooled: dict, guide=ANCHOR, pred=(0.5, -1.0, 2.0)):
    return SimpleNamespace(prediction=t(list(pred)), guide_vector=t(guide),
                           pooled={m: t(v) for m, v in pooled.items()})


def test_mfon_loss_combines_terms():
    za, zv = Z, Z[::-1].copy()
    teach_v, teach_a = ANCHOR * 2.0, ANCHOR - 1.0
    label = t([0.0, -1.0, 1.0])
    terms = MFONLoss({"alpha": 0.3, "beta": 0.01})(fake_output({"visual": zv, "acoustic": za}), label,
                                                  {"visual": t(teach_v), "acoustic": t(teach_a)})
    task = ((0.5 - 0.0) ** 2 + 0.0 + (2.0 - 1.0) ** 2) / 3
    va = np_kl(teach_v, zv) + np_kl(teach_a, za)
    icl = np_nce(zv, ANCHOR) + np_nce(za, ANCHOR)
    assert terms["task"].item() == pytest.approx(task)
    assert terms["va"].item() == pytest.approx(va, rel=1e-10)
    assert terms["va_visual"].item() == pytest.approx(np_kl(teach_v, zv), rel=1e-10)
    assert terms["icl"].item() == pytest.approx(icl, rel=1e-10)
    assert terms["icl_acoustic"].item() == pytest.approx(np_nce(za, ANCHOR), rel=1e-10)
    assert terms["loss"].item() == pytest.approx(task + 0.3 * va + 0.01 * icl, rel=1e-10)


def test_mfon_loss_zero_weights_and_missing_teachers():
    out = fake_output({"visual": Z, "text": Z})
    label = t([0.0, 0.0, 0.0])
    # alpha = 0: no teacher needed; text (optimised under a non-text guide) never gets an L_va term.
    terms = MFONLoss({"alpha": 0.0, "beta": 0.0})(out, label)
    assert terms["loss"].item() == pytest.approx(terms["task"].item())
    assert "va_text" not in terms and "icl_text" in terms
    with pytest.raises(ValueError, match="no teacher vector for 'visual'"):
        MFONLoss({"alpha": 0.5})(out, label)
    # Single-modality outputs have no pooled vectors: only the task loss.
    single = MFONLoss()(fake_output({}), label)
    assert single["va"].item() == 0.0 and single["icl"].item() == 0.0


@pytest.mark.parametrize("bad", [{"alpha": -1}, {"beta": "x"}, {"nce_direction": "up"},
                                 {"kl_temperature": 0}, {"gamma": 1.0}])
def test_loss_config_rejects_invalid(bad):
    with pytest.raises(ValueError):
        LossConfig.from_dict(bad)


def test_loss_config_round_trip():
    cfg = LossConfig(alpha=0.3, beta=0.001)
    assert LossConfig.from_dict(cfg.to_dict()) == cfg
