"""The MFON paper's published numbers (Tables 2-5), keyed by dataset, variant and this project's metric names,
and the baselines' numbers it prints beside MFON's (Tables 2-3), keyed by MMSA's model name.

Percent metrics are as printed (x100); MAE and Corr as values. "Acc2 a/b" in the paper is Has0/Non0 and so is F1.
Only what the paper prints is here; a metric it does not report ("-") is absent.
"""

from __future__ import annotations


def _mosi_row(acc2: tuple[float | None, float], f1: tuple[float | None, float], acc7: float | None, corr: float,
              mae: float) -> dict:
    row = {"Has0_acc_2": acc2[0], "Non0_acc_2": acc2[1], "Has0_F1_score": f1[0], "Non0_F1_score": f1[1],
           "Mult_acc_7": acc7, "Corr": corr, "MAE": mae}
    return {name: value for name, value in row.items() if value is not None}


def _sims_row(acc2: float, f1: float, corr: float | None, mae: float) -> dict:
    row = {"Mult_acc_2": acc2, "F1_score": f1, "Corr": corr, "MAE": mae}
    return {name: value for name, value in row.items() if value is not None}


PAPER_RESULTS: dict[str, dict[str, dict[str, float]]] = {
    "mosi": {
        "text_only": _mosi_row((82.36, 84.45), (82.27, 84.43), 43.21, 0.790, 0.734),
        "visual_only": _mosi_row((59.48, 59.42), (59.02, 59.09), 18.95, 0.211, 1.383),
        "acoustic_only": _mosi_row((51.89, 49.47), (50.76, 48.51), 16.03, 0.143, 1.445),
        "no_lva": _mosi_row((82.51, 84.62), (82.44, 84.58), 43.73, 0.787, 0.752),
        "no_licl": _mosi_row((82.36, 84.45), (82.33, 84.49), 41.25, 0.793, 0.746),
        "no_lva_licl": _mosi_row((81.92, 83.84), (81.84, 83.83), 42.75, 0.785, 0.751),
        "no_prompt": _mosi_row((81.49, 83.23), (81.39, 83.20), 43.10, 0.789, 0.734),
        "visual_query": _mosi_row((82.65, 84.76), (82.59, 84.76), 41.63, 0.794, 0.730),
        "acoustic_query": _mosi_row((83.53, 85.52), (83.47, 85.51), 43.15, 0.792, 0.737),
        "mfon": _mosi_row((84.84, 86.89), (84.75, 86.86), 44.90, 0.797, 0.725),
    },
    "mosei": {
        "text_only": _mosi_row((82.27, 85.83), (82.75, 85.83), 52.21, 0.763, 0.534),
        "visual_only": _mosi_row((65.23, 65.63), (65.74, 64.84), 40.48, 0.272, 0.820),
        "acoustic_only": _mosi_row((67.31, 65.49), (64.69, 61.50), 41.15, 0.205, 0.827),
        "no_lva": _mosi_row((82.17, 86.16), (82.45, 86.07), 49.77, 0.773, 0.565),
        "no_licl": _mosi_row((82.76, 86.09), (83.21, 86.12), 52.72, 0.778, 0.530),
        "no_lva_licl": _mosi_row((82.22, 85.94), (83.47, 85.81), 48.94, 0.773, 0.571),
        "no_prompt": _mosi_row((81.22, 86.05), (81.84, 86.09), 53.61, 0.769, 0.536),
        "visual_query": _mosi_row((82.72, 85.28), (83.06, 85.20), 52.61, 0.756, 0.549),
        "acoustic_query": _mosi_row((81.63, 85.31), (82.14, 85.31), 51.32, 0.756, 0.559),
        "mfon": _mosi_row((82.70, 86.32), (83.13, 86.29), 53.72, 0.780, 0.528),
    },
    "sims": {
        "text_only": _sims_row(74.40, 74.85, 0.534, 0.461),
        "visual_only": _sims_row(67.61, 57.65, 0.238, 0.618),
        "acoustic_only": _sims_row(67.83, 54.83, 0.093, 0.543),
        "no_lva": _sims_row(78.77, 78.31, 0.519, 0.488),
        "no_licl": _sims_row(75.71, 76.21, 0.573, 0.463),
        "no_lva_licl": _sims_row(77.24, 77.15, 0.521, 0.484),
        "no_prompt": _sims_row(77.68, 77.89, 0.575, 0.455),
        "visual_query": _sims_row(75.93, 75.93, 0.568, 0.429),
        "acoustic_query": _sims_row(75.93, 76.19, 0.559, 0.466),
        "mfon": _sims_row(78.56, 78.51, 0.594, 0.420),
    },
}


# The baselines of Table 2 (MOSI, MOSEI; the paper takes them from Yu et al. 2023) and Table 3 (CH-SIMS), rows
# named by MMSA's model names (mfon.baselines).
PAPER_BASELINE_RESULTS: dict[str, dict[str, dict[str, float]]] = {
    "mosi": {
        "tfn": _mosi_row((None, 80.8), (None, 80.7), 34.9, 0.698, 0.901),
        "lmf": _mosi_row((None, 82.5), (None, 82.4), 33.2, 0.695, 0.917),
        "mult": _mosi_row((81.5, 84.1), (80.6, 83.9), None, 0.711, 0.861),
        "misa": _mosi_row((80.79, 82.10), (80.77, 82.03), None, 0.764, 0.804),
        "self_mm": _mosi_row((82.54, 84.77), (82.68, 84.91), 45.79, 0.795, 0.712),
        "mmim": _mosi_row((84.14, 86.06), (84.00, 85.98), 46.65, 0.800, 0.700),
    },
    "mosei": {
        "tfn": _mosi_row((None, 82.5), (None, 82.1), 50.2, 0.700, 0.593),
        "lmf": _mosi_row((None, 82.0), (None, 82.1), 48.0, 0.677, 0.623),
        "mult": _mosi_row((None, 82.5), (None, 82.3), None, 0.703, 0.580),
        "misa": _mosi_row((82.59, 84.23), (82.67, 83.97), None, 0.724, 0.568),
        "self_mm": _mosi_row((82.68, 84.96), (82.95, 84.93), 53.46, 0.767, 0.529),
        "mmim": _mosi_row((82.24, 85.97), (82.66, 85.94), 54.24, 0.772, 0.526),
    },
    "sims": {
        "tfn": _sims_row(75.27, 75.56, 0.496, 0.488),
        "lmf": _sims_row(75.36, 75.78, 0.502, 0.487),
        "mult": _sims_row(75.62, 75.84, 0.504, 0.485),
        "misa": _sims_row(75.49, 75.85, 0.542, 0.472),
        "self_mm": _sims_row(77.37, 77.54, 0.535, 0.458),
        "mmim": _sims_row(69.37, 58.00, None, 0.607),
    },
}


# How the paper's tables name each variant's and baseline's row (docs/model.md "Variants").
PAPER_ROW_NAMES: dict[str, str] = {
    "mfon": "MFON", "no_lva": "w/o L_va", "no_licl": "w/o L_ICL", "no_lva_licl": "w/o L_ICL L_va",
    "no_prompt": "w/o prompt", "visual_query": "Visual as query", "acoustic_query": "Acoustic as query",
    "text_only": "T", "visual_only": "V", "acoustic_only": "A",
    "tfn": "TFN", "lmf": "LMF", "mult": "MulT", "misa": "MISA", "self_mm": "Self-MM", "mmim": "MMIM",
    # MMSA's other models (mfon.baselines.plan.TEXT_INPUT), as their papers name them
    "lf_dnn": "LF-DNN", "ef_lstm": "EF-LSTM", "mfn": "MFN", "graph_mfn": "Graph-MFN", "mfm": "MFM",
    "mlf_dnn": "MLF-DNN", "mtfn": "MTFN", "mlmf": "MLMF", "bert_mag": "BERT-MAG",
}


def paper_numbers(paper: str | None, row: str) -> dict[str, float]:
    """The paper's numbers for ``row`` (a variant, or a baseline's MMSA name) on dataset ``paper`` ("mosi",
    "mosei", "sims"); {} when absent."""
    for results in (PAPER_RESULTS, PAPER_BASELINE_RESULTS):
        if row in results.get(paper or "", {}):
            return dict(results[paper][row])
    return {}
