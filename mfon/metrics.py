"""Evaluation metrics with the MMSA conventions that published MOSI / MOSEI / CH-SIMS numbers use.

Two families:

* ``mosi_metrics`` for CMU-MOSI, CMU-MOSEI and the demo corpus (sentiment scores in [-3, 3]);
* ``sims_metrics`` for CH-SIMS (scores in [-1, 1]).

Both take predictions and truths (lists, numpy arrays or CPU/GPU tensors, shape (N,) or (N, 1)) and return a
dict of plain Python floats, every value rounded to 4 decimals. Accuracies and F1 scores are fractions in
[0, 1]; :mod:`mfon.tables` prints the ``PERCENT_METRICS`` x100. The exact definitions and the behaviour on degenerate
inputs are written down in ``docs/metrics.md``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from sklearn.metrics import f1_score

__all__ = [
    "MOSI_KEYS", "SIMS_KEYS", "PERCENT_METRICS", "VALUE_METRICS", "LOWER_IS_BETTER",
    "mosi_metrics", "sims_metrics", "metrics_for",
]

MOSI_KEYS = ("Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score", "Mult_acc_5", "Mult_acc_7", "MAE", "Corr")
SIMS_KEYS = ("Mult_acc_2", "Mult_acc_3", "Mult_acc_5", "F1_score", "MAE", "Corr")

# Fractions in [0, 1] that tables print x100, and plain values that tables print as they are.
PERCENT_METRICS = frozenset(k for k in MOSI_KEYS + SIMS_KEYS if k not in ("MAE", "Corr"))
VALUE_METRICS = frozenset({"MAE", "Corr"})
LOWER_IS_BETTER = frozenset({"MAE"})

DIGITS = 4

# CH-SIMS class edges; a class is the right-closed interval (edges[i], edges[i + 1]].
SIMS_EDGES_2 = (-1.01, 0.0, 1.01)
SIMS_EDGES_3 = (-1.01, -0.1, 0.1, 1.01)
SIMS_EDGES_5 = (-1.01, -0.7, -0.1, 0.1, 0.7, 1.01)


# --------------------------------------------------------------------------------------------------- inputs

def _as_vector(x: Any, name: str) -> np.ndarray:
    """``x`` as a 1-D float array, keeping its float precision (float32 stays float32; integers become float64)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, possibly on a GPU; torch is not imported here
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} cannot be read as a numeric array: {exc}") from None
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        raise ValueError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must have shape (N,) or (N, 1), got shape {arr.shape}")
    return arr


def _count_nonfinite(arr: np.ndarray) -> str:
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(np.isinf(arr).sum())
    return f"{n_nan} NaN and {n_inf} infinite of {arr.size}"


def _checked(pred: Any, truth: Any) -> tuple[np.ndarray, np.ndarray]:
    p = _as_vector(pred, "pred")
    y = _as_vector(truth, "truth")
    if p.size != y.size:
        raise ValueError(f"pred and truth differ in length: {p.size} predictions, {y.size} truths")
    if y.size == 0:
        raise ValueError("pred and truth are empty: metrics need at least one sample")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"truth has non-finite values ({_count_nonfinite(y)}); fix the labels")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"pred has non-finite values ({_count_nonfinite(p)}); the model diverged or the "
                         "predictions were not filled in")
    return p, y


# ---------------------------------------------------------------------------------------------- primitives

def _round(x: float) -> float:
    """MMSA rounds every metric to 4 decimals; NaN stays NaN."""
    return float(np.round(float(x), DIGITS))


def _accuracy(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def _weighted_f1(truth_cls: np.ndarray, pred_cls: np.ndarray) -> float:
    """scikit-learn's support-weighted F1; a 0/0 precision or recall counts 0 (no warning)."""
    return float(f1_score(truth_cls, pred_cls, average="weighted", zero_division=0))


def _mae(p: np.ndarray, y: np.ndarray) -> float:
    with np.errstate(over="ignore"):  # absurdly large predictions give inf, not a warning
        return float(np.mean(np.abs(p.astype(np.float64) - y.astype(np.float64))))


def _unit_scale(a: np.ndarray) -> np.ndarray:
    """``a`` times a power of two so that max |a| lies in [0.5, 1): exact, and Pearson is scale-free, but the
    products inside corrcoef can then neither overflow nor underflow."""
    peak = float(np.max(np.abs(a)))
    return np.ldexp(a, -np.frexp(peak)[1]) if peak > 0 else a


def _pearson(p: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation by ``np.corrcoef``; 0.0 when either side is constant (where it is 0/0)."""
    p = p.astype(np.float64)
    y = y.astype(np.float64)
    if np.all(p == p[0]) or np.all(y == y[0]):
        return 0.0
    return float(np.corrcoef(_unit_scale(p), _unit_scale(y))[0, 1])


def _classes(x: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Index of the right-closed interval (edges[i], edges[i+1]] holding each value.

    The edges are cast to the dtype of ``x`` first, so a float32 label of 0.1 is compared with float32 0.1
    (and lands in the class that ends at 0.1), as it is when MMSA compares float32 tensors with the edges.
    """
    inner = np.asarray(edges[1:-1], dtype=x.dtype)
    return np.sum(x[:, None] > inner[None, :], axis=1)


# ------------------------------------------------------------------------------------------------- metrics

def mosi_metrics(pred: Any, truth: Any) -> dict[str, float]:
    """MOSI / MOSEI / demo metrics (scores in [-3, 3]), keys ``MOSI_KEYS``, every value rounded to 4 decimals.

    Raises ValueError on a length mismatch, empty input, a shape other than (N,) / (N, 1), or a non-finite
    value in either array. ``Non0_acc_2`` and ``Non0_F1_score`` are NaN when every truth is exactly 0.
    """
    p, y = _checked(pred, truth)

    # Acc7 / Acc5: clip, round half to even, compare.
    acc7 = _accuracy(np.round(np.clip(p, -3.0, 3.0)), np.round(np.clip(y, -3.0, 3.0)))
    acc5 = _accuracy(np.round(np.clip(p, -2.0, 2.0)), np.round(np.clip(y, -2.0, 2.0)))

    # Has0: negative vs non-negative, every sample.
    p_has0, y_has0 = p >= 0, y >= 0
    has0_acc = _accuracy(p_has0, y_has0)
    has0_f1 = _weighted_f1(y_has0, p_has0)

    # Non0: negative vs positive, samples whose truth is exactly 0 left out.
    keep = y != 0
    if keep.any():
        p_non0, y_non0 = p[keep] > 0, y[keep] > 0
        non0_acc = _accuracy(p_non0, y_non0)
        non0_f1 = _weighted_f1(y_non0, p_non0)
    else:
        non0_acc = non0_f1 = float("nan")

    values = {
        "Has0_acc_2": has0_acc,
        "Has0_F1_score": has0_f1,
        "Non0_acc_2": non0_acc,
        "Non0_F1_score": non0_f1,
        "Mult_acc_5": acc5,
        "Mult_acc_7": acc7,
        "MAE": _mae(p, y),          # unclipped
        "Corr": _pearson(p, y),     # unclipped
    }
    return {k: _round(v) for k, v in values.items()}


def sims_metrics(pred: Any, truth: Any) -> dict[str, float]:
    """CH-SIMS metrics (scores in [-1, 1]), keys ``SIMS_KEYS``, every value rounded to 4 decimals.

    Both arrays are clipped to [-1, 1] first, and every metric (MAE included) uses the clipped values.
    Raises ValueError as ``mosi_metrics`` does.
    """
    p, y = _checked(pred, truth)
    p = np.clip(p, -1.0, 1.0)
    y = np.clip(y, -1.0, 1.0)

    p2, y2 = _classes(p, SIMS_EDGES_2), _classes(y, SIMS_EDGES_2)
    values = {
        "Mult_acc_2": _accuracy(p2, y2),
        "Mult_acc_3": _accuracy(_classes(p, SIMS_EDGES_3), _classes(y, SIMS_EDGES_3)),
        "Mult_acc_5": _accuracy(_classes(p, SIMS_EDGES_5), _classes(y, SIMS_EDGES_5)),
        "F1_score": _weighted_f1(y2, p2),
        "MAE": _mae(p, y),          # clipped
        "Corr": _pearson(p, y),     # clipped
    }
    return {k: _round(v) for k, v in values.items()}


# Keyed by the values of experiment.metrics in the config schema (MOSI, MOSEI and the demo use "mosi").
_FAMILIES: dict[str, Callable[[Any, Any], dict[str, float]]] = {
    "mosi": mosi_metrics,
    "sims": sims_metrics,
}


def metrics_for(family: str) -> Callable[[Any, Any], dict[str, float]]:
    """The metric function of a label family: ``"mosi"`` (MOSI, MOSEI, demo) or ``"sims"`` (CH-SIMS)."""
    try:
        return _FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown metric family {family!r}; expected one of {sorted(_FAMILIES)}") from None
