"""Random hyperparameter search over a declared space, scored on the validation split only.

A space maps a dotted settings path (``training.lr.text``, ``loss.alpha``, ``model.mpa_layers.visual``) to a
distribution: ``{log_uniform: [lo, hi]}``, ``{uniform: [lo, hi]}``, ``{int: [lo, hi]}`` (inclusive) or
``{choice: [a, b, ...]}``. Trial ``k`` of a search is a pure function of (space, seed, k), so adding trials
keeps the earlier ones. Trials train with ``eval_splits=("valid",)``: the test split is never loaded.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .tsv import write_tsv
from .errors import ConfigError, MfonError

# Knobs that shape the teachers (shared by every trial) or the data: a search may not change them.
FROZEN_PREFIXES = ("model.d_model", "model.n_heads", "model.ffn_multiplier", "model.max_len", "model.teacher_",
                   "model.fidelity", "teacher_training", "runtime", "experiment", "text", "acoustic", "visual",
                   "ingest", "extraction")


def _check_space(space: dict) -> None:
    for path, spec in space.items():
        if any(path == p or path.startswith(p + ".") or (p.endswith("_") and path.startswith(p))
               for p in FROZEN_PREFIXES):
            raise ConfigError(f"search space key {path!r} is not searchable (it shapes the teachers or the data)")
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ConfigError(f"search space {path!r}: give exactly one of log_uniform, uniform, int, choice")
        (kind, args), = spec.items()
        if kind in ("log_uniform", "uniform", "int"):
            if not (isinstance(args, list) and len(args) == 2 and args[0] <= args[1]):
                raise ConfigError(f"search space {path!r}: {kind} needs [low, high] with low <= high")
            if kind == "log_uniform" and args[0] <= 0:
                raise ConfigError(f"search space {path!r}: log_uniform needs a positive low bound")
        elif kind == "choice":
            if not (isinstance(args, list) and args):
                raise ConfigError(f"search space {path!r}: choice needs a non-empty list")
        else:
            raise ConfigError(f"search space {path!r}: unknown distribution {kind!r}")


def sample_trial(space: dict, seed: int, trial: int) -> dict:
    """The overrides of trial ``trial`` (dotted path -> value)."""
    _check_space(space)
    rng = np.random.default_rng([seed, trial])
    out = {}
    for path in sorted(space):
        (kind, args), = space[path].items()
        if kind == "log_uniform":
            value = float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
        elif kind == "uniform":
            value = float(rng.uniform(args[0], args[1]))
        elif kind == "int":
            value = int(rng.integers(args[0], args[1] + 1))
        else:
            value = copy.deepcopy(args[int(rng.integers(len(args)))])
        out[path] = value
    return out


def apply_overrides(settings: dict, overrides: dict) -> dict:
    """A copy of ``settings`` with each dotted path set; a path that does not exist is an error."""
    out = copy.deepcopy(settings)
    for path, value in overrides.items():
        node = out
        keys = path.split(".")
        for key in keys[:-1]:
            if not isinstance(node, dict) or key not in node:
                raise ConfigError(f"search override {path!r}: no such setting")
            node = node[key]
        if not isinstance(node, dict) or keys[-1] not in node:
            raise ConfigError(f"search override {path!r}: no such setting")
        node[keys[-1]] = value
    return out


def summarize_search(trial_metrics: list[Path], overrides: list[dict], out_csv: Path, best_json: Path,
                     metric: str = "MAE") -> dict:
    """Rank trials by a VALIDATION metric; write every trial to ``out_csv`` and the winner to ``best_json``."""
    results = [json.loads(Path(p).read_text()) for p in trial_metrics]
    for path, result in zip(trial_metrics, results):
        if "test" in result:
            raise MfonError(f"{path}: a search trial evaluated the test split; trials must use valid only")
    from .metrics import LOWER_IS_BETTER  # scikit-learn: not needed while the workflow plans

    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    scores = [sign * r["valid"][metric] for r in results]
    if any(not np.isfinite(s) for s in scores):
        raise MfonError(f"validation {metric} is not finite for some trial: {scores}")
    order = sorted(range(len(results)), key=lambda i: (scores[i], i))
    rank = {trial: position + 1 for position, trial in enumerate(order)}
    rows = []
    for i, (result, params) in enumerate(zip(results, overrides)):
        rows.append({"trial": i, "rank": rank[i], "selected": int(rank[i] == 1),
                     **{f"param:{k}": v for k, v in params.items()},
                     **{f"valid_{k}": v for k, v in result["valid"].items()}, "best_epoch": result["best_epoch"]})
    columns = list(dict.fromkeys(k for row in rows for k in row))
    write_tsv(out_csv, rows, columns, delimiter=",")
    best = {"trial": order[0], "metric": f"valid_{metric}", "value": results[order[0]]["valid"][metric],
            "overrides": overrides[order[0]]}
    with atomic_path(best_json) as tmp:
        tmp.write_text(json.dumps(best, indent=2, sort_keys=True))
    return best
