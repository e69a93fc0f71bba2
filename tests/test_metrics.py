"""Metrics with the MMSA conventions: hand-computed examples, boundary values and degenerate inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import f1_score

from mfon.metrics import (LOWER_IS_BETTER, MOSI_KEYS, PERCENT_METRICS, SIMS_KEYS, VALUE_METRICS, metrics_for,
                          mosi_metrics, sims_metrics)


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    """No metric may emit a numpy RuntimeWarning or a scikit-learn UndefinedMetricWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def pearson(a, b) -> float:
    """Pearson correlation written out, independent of np.corrcoef."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    da, db = a - a.mean(), b - b.mean()
    return float((da * db).sum() / math.sqrt((da * da).sum() * (db * db).sum()))


def weighted_f1(truth, pred) -> float:
    """Support-weighted F1 written out (0/0 counts 0), independent of scikit-learn."""
    truth = np.asarray(truth)
    pred = np.asarray(pred)
    total = 0.0
    for c in np.unique(np.concatenate([truth, pred])):
        tp = np.sum((pred == c) & (truth == c))
        fp = np.sum((pred == c) & (truth != c))
        fn = np.sum((pred != c) & (truth == c))
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        total += np.sum(truth == c) * f1
    return float(total / truth.size)


# ------------------------------------------------------------------------------------------- MOSI: examples

# Hand computation (p, y):
#   Acc7: round(clip(p,±3)) = [-2,-0,0,2,3,-1], round(clip(y,±3)) = [-2,0,1,2,2,0]  -> 3/6
#   Acc5: round(clip(p,±2)) = [-2,-0,0,2,2,-1], round(clip(y,±2)) = [-2,0,1,2,2,0]  -> 4/6
#   Has0: p>=0 [F,F,T,T,T,F], y>=0 [F,T,T,T,T,T] -> acc 4/6;
#         F1 neg: P 1/3 R 1 -> 1/2 (support 1); pos: P 1 R 3/5 -> 3/4 (support 5); weighted 4.25/6
#   Non0: drop y == 0 (2nd); p>0 [F,T,T,T,F], y>0 [F,T,T,T,T] -> acc 4/5;
#         F1 neg: P 1/2 R 1 -> 2/3 (support 1); pos: P 1 R 3/4 -> 6/7 (support 4); weighted (2/3 + 24/7)/5
#   MAE (unclipped): (0.5 + 0.4 + 0.5 + 0.5 + 1.2 + 1.5)/6 = 4.6/6 (clipped it would be 4.0/6)
MOSI_P = [-2.5, -0.4, 0.5, 1.5, 3.6, -1.0]
MOSI_Y = [-2.0, 0.0, 1.0, 2.0, 2.4, 0.5]


def test_mosi_hand_example():
    m = mosi_metrics(MOSI_P, MOSI_Y)
    assert tuple(m) == MOSI_KEYS
    assert all(type(v) is float for v in m.values())
    assert m["Mult_acc_7"] == 0.5
    assert m["Mult_acc_5"] == 0.6667
    assert m["Has0_acc_2"] == 0.6667
    assert m["Has0_F1_score"] == round(4.25 / 6, 4) == 0.7083
    assert m["Non0_acc_2"] == 0.8
    assert m["Non0_F1_score"] == round((2 / 3 + 24 / 7) / 5, 4) == 0.819
    assert m["MAE"] == round(4.6 / 6, 4) == 0.7667
    assert m["Corr"] == round(pearson(MOSI_P, MOSI_Y), 4)


def test_every_value_rounded_to_4_decimals():
    rng = np.random.default_rng(0)
    y = rng.uniform(-3, 3, 50)
    p = y + rng.normal(0, 0.7, 50)
    for m in (mosi_metrics(p, y), sims_metrics(p / 3, y / 3)):
        for v in m.values():
            assert v == round(v, 4)


def test_corr_hand_example():
    # deviations [-1,0,1] and [-1,1,0]: covariance sum 1, variance sums 2 and 2 -> 1/2
    assert mosi_metrics([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])["Corr"] == 0.5
    assert mosi_metrics([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])["Corr"] == -1.0
    assert sims_metrics([0.1, 0.2, 0.3], [0.1, 0.3, 0.2])["Corr"] == 0.5


def test_mosi_corr_uses_unclipped_values():
    p, y = [-5.0, 0.0, 5.0, 6.0], [-3.0, 0.0, 2.0, 3.0]
    assert mosi_metrics(p, y)["Corr"] == round(pearson(p, y), 4)
    assert mosi_metrics(p, y)["Corr"] != round(pearson(np.clip(p, -3, 3), y), 4)


# ------------------------------------------------------------------------------------- MOSI: round and clip

def test_round_half_to_even_after_clipping():
    p = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5]
    even = [0.0, 2.0, 2.0, 0.0, -2.0, -2.0]         # numpy rounding: 0.5->0, 1.5->2, 2.5->2, -0.5->0, -2.5->-2
    away = [1.0, 1.0, 3.0, -1.0, -1.0, -3.0]        # half away from zero / half up would give these
    assert mosi_metrics(p, even)["Mult_acc_7"] == 1.0
    assert mosi_metrics(p, even)["Mult_acc_5"] == 1.0
    assert mosi_metrics(p, away)["Mult_acc_7"] == 0.0


def test_clipping_beyond_range():
    # Acc7 clips to [-3, 3]: 3.7 -> 3, -4.2 -> -3; 2.6 rounds to 3.
    p, y = [3.7, -4.2, 2.6], [3.0, -3.0, 3.0]
    m = mosi_metrics(p, y)
    assert m["Mult_acc_7"] == 1.0
    # Acc5 clips to [-2, 2]: all three agree as 2 / -2 / 2.
    assert m["Mult_acc_5"] == 1.0
    # Only Acc5 clips 2.4 to 2 -> rounds to 2 (and 2.6 -> 2): Acc7 sees 2 vs 3.
    m = mosi_metrics([2.4], [2.6])
    assert (m["Mult_acc_7"], m["Mult_acc_5"]) == (0.0, 1.0)
    # MAE is not clipped.
    assert mosi_metrics([4.5, -3.0], [3.0, -3.0])["MAE"] == 0.75


# --------------------------------------------------------------------------------------- MOSI: Has0 / Non0

def test_zero_truth_counts_non_negative_in_has0_and_is_dropped_from_non0():
    p = [-1.0, 1.0, 1.0]
    y = [0.0, 1.0, -1.0]
    m = mosi_metrics(p, y)
    # Has0: p>=0 [F,T,T] vs y>=0 [T,T,F] -> 1/3
    assert m["Has0_acc_2"] == 0.3333
    # Non0 keeps samples 2 and 3: p>0 [T,T] vs y>0 [T,F] -> 1/2
    assert m["Non0_acc_2"] == 0.5
    assert m["Non0_F1_score"] == round(weighted_f1([True, False], [True, True]), 4)


def test_zero_prediction_is_non_negative_but_not_positive():
    m = mosi_metrics([0.0, 0.0], [1.0, 2.0])
    assert m["Has0_acc_2"] == 1.0      # 0 >= 0 agrees with y >= 0
    assert m["Non0_acc_2"] == 0.0      # 0 > 0 is false, y > 0 is true


def test_non0_all_truth_zero_is_nan():
    m = mosi_metrics([0.3, -0.2, 0.0], [0.0, 0.0, 0.0])
    assert math.isnan(m["Non0_acc_2"]) and math.isnan(m["Non0_F1_score"])
    assert m["Has0_acc_2"] == 0.6667
    assert m["Mult_acc_7"] == 1.0
    assert m["Corr"] == 0.0


def test_weighted_f1_matches_sklearn_on_random_data():
    rng = np.random.default_rng(1234)
    for trial in range(20):
        n = int(rng.integers(5, 200))
        y = np.round(rng.uniform(-3, 3, n) * 3) / 3          # MOSI-like labels, some exactly 0
        y[rng.random(n) < 0.1] = 0.0
        p = y + rng.normal(0, 1 + trial / 10, n)
        m = mosi_metrics(p, y)
        sk_has0 = f1_score(y >= 0, p >= 0, average="weighted", zero_division=0)
        keep = y != 0
        sk_non0 = f1_score(y[keep] > 0, p[keep] > 0, average="weighted", zero_division=0)
        assert m["Has0_F1_score"] == round(sk_has0, 4) == round(weighted_f1(y >= 0, p >= 0), 4)
        assert m["Non0_F1_score"] == round(sk_non0, 4) == round(weighted_f1(y[keep] > 0, p[keep] > 0), 4)
        assert m["Has0_acc_2"] == round(np.mean((p >= 0) == (y >= 0)), 4)
        assert m["MAE"] == round(np.mean(np.abs(p - y)), 4)
        assert m["Corr"] == round(pearson(p, y), 4)

        ys, ps = np.clip(y / 3, -1, 1), np.clip(p / 3, -1, 1)
        s = sims_metrics(ps, ys)
        assert s["F1_score"] == round(f1_score(ys > 0, ps > 0, average="weighted", zero_division=0), 4)
        assert s["Mult_acc_2"] == round(np.mean((ys > 0) == (ps > 0)), 4)


# ------------------------------------------------------------------------------------------ SIMS: examples

# Hand computation (p clipped to [-0.8, -0.05, 0, 0.3, 0.9, 1.0]):
#   2 classes (x > 0): p [0,0,0,1,1,1], y [0,0,1,1,1,1]          -> 5/6
#   3 classes:         p [0,1,1,2,2,2], y [0,0,1,1,2,2]          -> 4/6
#   5 classes:         p [0,2,2,3,4,4], y [1,1,2,2,4,4]          -> 3/6
#   F1 (2 classes): neg P 2/3 R 1 -> 4/5 (support 2); pos P 1 R 3/4 -> 6/7 (support 4)
#   MAE (clipped): (0.2 + 0.15 + 0.1 + 0.2 + 0.1 + 0)/6 = 0.125
SIMS_P = [-0.8, -0.05, 0.0, 0.3, 0.9, 1.4]
SIMS_Y = [-0.6, -0.2, 0.1, 0.1, 0.8, 1.0]


def test_sims_hand_example():
    m = sims_metrics(SIMS_P, SIMS_Y)
    assert tuple(m) == SIMS_KEYS
    assert all(type(v) is float for v in m.values())
    assert m["Mult_acc_2"] == 0.8333
    assert m["Mult_acc_3"] == 0.6667
    assert m["Mult_acc_5"] == 0.5
    assert m["F1_score"] == round((2 * 4 / 5 + 4 * 6 / 7) / 6, 4) == 0.8381
    assert m["MAE"] == 0.125
    assert m["Corr"] == round(pearson(np.clip(SIMS_P, -1, 1), SIMS_Y), 4)


def test_sims_zero_is_negative():
    assert sims_metrics([0.0], [-0.5])["Mult_acc_2"] == 1.0
    assert sims_metrics([0.0], [0.05])["Mult_acc_2"] == 0.0
    assert sims_metrics([1e-9], [0.0])["Mult_acc_2"] == 0.0


# value -> (3-class, 5-class) under right-closed intervals
SIMS_BOUNDARIES = {
    -1.0: (0, 0), -0.7: (0, 0), -0.69: (0, 1), -0.1: (0, 1), -0.09: (1, 2), 0.0: (1, 2),
    0.1: (1, 2), 0.11: (2, 3), 0.7: (2, 3), 0.71: (2, 4), 1.0: (2, 4),
}
# one interior value of each class
REP3 = {0: -0.5, 1: 0.0, 2: 0.5}
REP5 = {0: -0.9, 1: -0.4, 2: 0.0, 3: 0.4, 4: 0.9}


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("value", sorted(SIMS_BOUNDARIES))
def test_sims_boundaries_are_right_closed(value, dtype):
    c3, c5 = SIMS_BOUNDARIES[value]
    x = np.array([value], dtype=dtype)
    assert sims_metrics(x, np.array([REP3[c3]], dtype=dtype))["Mult_acc_3"] == 1.0
    assert sims_metrics(x, np.array([REP3[(c3 + 1) % 3]], dtype=dtype))["Mult_acc_3"] == 0.0
    assert sims_metrics(x, np.array([REP5[c5]], dtype=dtype))["Mult_acc_5"] == 1.0
    assert sims_metrics(x, np.array([REP5[(c5 + 2) % 5]], dtype=dtype))["Mult_acc_5"] == 0.0
    # the same value as truth, the representative as prediction
    assert sims_metrics(np.array([REP5[c5]]), x)["Mult_acc_5"] == 1.0


def test_sims_float32_labels_keep_their_class_against_float64_predictions():
    # float32(0.1) > 0.1 and float32(-0.7) > -0.7 in float64; compared in float32 they sit on the edge
    y = np.array([0.1, -0.7], dtype=np.float32)
    p = np.array([0.05, -0.9])
    m = sims_metrics(p, y)
    assert (m["Mult_acc_3"], m["Mult_acc_5"]) == (1.0, 1.0)


def test_sims_clips_before_everything():
    m = sims_metrics([1.5, -2.0], [1.0, -0.5])
    assert m["MAE"] == 0.25                     # |1-1| + |-1-(-0.5)|, unclipped would be 1.0
    assert sims_metrics([3.0, -3.0], [1.0, -1.0])["Mult_acc_5"] == 1.0
    # truths outside [-1, 1] are clipped too
    assert sims_metrics([1.0], [1.3])["MAE"] == 0.0


# -------------------------------------------------------------------------------------- degenerate inputs

@pytest.mark.parametrize("fn", [mosi_metrics, sims_metrics])
def test_constant_predictions_give_corr_zero(fn):
    m = fn([0.5, 0.5, 0.5, 0.5], [-1.0, 0.0, 0.5, 1.0])
    assert m["Corr"] == 0.0
    assert fn([-1.0, 0.0, 0.5, 1.0], [0.5, 0.5, 0.5, 0.5])["Corr"] == 0.0
    assert fn([0.3], [0.2])["Corr"] == 0.0          # a single sample
    # SIMS: constant after clipping
    if fn is sims_metrics:
        assert fn([2.0, 3.0, 5.0], [-1.0, 0.0, 1.0])["Corr"] == 0.0


def test_single_class_present():
    # everything positive and predicted positive: perfect
    m = mosi_metrics([1.0, 2.0, 0.5], [1.0, 2.5, 0.2])
    assert (m["Has0_acc_2"], m["Has0_F1_score"], m["Non0_acc_2"], m["Non0_F1_score"]) == (1.0, 1.0, 1.0, 1.0)
    # everything positive, predicted negative: the predicted class has no support, the true one no hits -> 0
    m = mosi_metrics([-1.0, -2.0, -0.5], [1.0, 2.5, 0.2])
    assert (m["Has0_acc_2"], m["Has0_F1_score"], m["Non0_acc_2"], m["Non0_F1_score"]) == (0.0, 0.0, 0.0, 0.0)
    assert m["Has0_F1_score"] == f1_score([True] * 3, [False] * 3, average="weighted", zero_division=0)
    # only the predictions are one class: F1 weights the missed class by its support
    m = mosi_metrics([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, -1.0])
    assert m["Has0_acc_2"] == 0.75
    assert m["Has0_F1_score"] == round(3 / 4 * (2 * 3 / (2 * 3 + 1)), 4)
    s = sims_metrics([0.5, 0.6], [-0.5, -0.6])
    assert (s["Mult_acc_2"], s["F1_score"]) == (0.0, 0.0)


@pytest.mark.parametrize("fn", [mosi_metrics, sims_metrics])
def test_nan_predictions_raise_with_count(fn):
    with pytest.raises(ValueError, match=r"pred has non-finite values \(2 NaN and 0 infinite of 4\)"):
        fn([0.1, np.nan, np.nan, 0.3], [0.0, 0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"pred .*1 infinite"):
        fn([0.1, np.inf], [0.0, 0.1])


@pytest.mark.parametrize("fn", [mosi_metrics, sims_metrics])
def test_non_finite_truth_raises(fn):
    with pytest.raises(ValueError, match=r"truth has non-finite values \(1 NaN"):
        fn([0.1, 0.2], [np.nan, 0.1])
    with pytest.raises(ValueError, match="truth"):
        fn([0.1, 0.2], [-np.inf, 0.1])


@pytest.mark.parametrize("fn", [mosi_metrics, sims_metrics])
def test_length_mismatch_and_empty_raise(fn):
    with pytest.raises(ValueError, match="3 predictions, 2 truths"):
        fn([0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros((0, 1)), np.zeros(0))


@pytest.mark.parametrize("fn", [mosi_metrics, sims_metrics])
def test_shapes(fn):
    p = np.array([-0.8, -0.05, 0.0, 0.3, 0.9, 1.4])
    y = np.array([-0.6, -0.2, 0.1, 0.1, 0.8, 1.0])
    ref = fn(p, y)
    assert fn(p[:, None], y) == ref
    assert fn(p[:, None], y[:, None]) == ref
    assert fn(p.tolist(), y.astype(np.float32)) == fn(p, y.astype(np.float32))
    with pytest.raises(ValueError, match=r"shape \(N,\) or \(N, 1\), got shape \(1, 6\)"):
        fn(p[None, :], y)
    with pytest.raises(ValueError, match="shape"):
        fn(np.stack([p, p], axis=1), y)
    with pytest.raises(ValueError, match="shape"):
        fn(0.5, 0.5)


def test_dtypes():
    y = [-2, 0, 1, 3]
    assert mosi_metrics(np.array(y), np.array(y, dtype=np.int64))["Mult_acc_7"] == 1.0
    assert mosi_metrics(np.array(y, dtype=np.float16), y)["MAE"] == 0.0
    with pytest.raises(ValueError, match="real numbers"):
        mosi_metrics(["a", "b"], [0.1, 0.2])
    with pytest.raises(ValueError, match="real numbers"):
        mosi_metrics([True, False], [0.1, 0.2])
    with pytest.raises(ValueError, match="real numbers"):
        mosi_metrics([0.1, None], [0.1, 0.2])


def test_torch_tensors():
    import torch
    p = torch.tensor([[-2.5], [-0.4], [0.5], [1.5], [3.6], [-1.0]], requires_grad=True)
    assert mosi_metrics(p, torch.tensor(MOSI_Y)) == mosi_metrics(p.detach().numpy(), np.float32(MOSI_Y))


def test_huge_predictions_give_defined_values_without_warnings():
    m = mosi_metrics([1e300, -1e300, 3.0], [1.0, 2.0, 3.0])
    assert math.isfinite(m["Corr"]) and m["Corr"] == round(pearson([1.0, -1.0, 3e-300], [1.0, 2.0, 3.0]), 4)
    assert m["MAE"] == round((1e300 + 1e300) / 3, 4)
    m = mosi_metrics([1.7e308, 1.7e308, -1.7e308], [1.0, 2.0, 3.0])
    assert m["MAE"] == math.inf
    assert math.isfinite(m["Corr"])


# ------------------------------------------------------------------------------------------- API helpers

def test_metrics_for():
    assert metrics_for("mosi") is mosi_metrics
    assert metrics_for("sims") is sims_metrics
    with pytest.raises(ValueError, match="unknown metric family 'iemocap'"):
        metrics_for("iemocap")


def test_percent_and_value_keys():
    assert PERCENT_METRICS | VALUE_METRICS == set(MOSI_KEYS) | set(SIMS_KEYS)
    assert not PERCENT_METRICS & VALUE_METRICS
    assert VALUE_METRICS == {"MAE", "Corr"}
    assert LOWER_IS_BETTER == {"MAE"}
