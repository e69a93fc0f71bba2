"""A finished MFON run's checkpoint rerun over one split (eval mode, no gradient).

* :func:`save_representations`: per test clip the prediction and the pooled visual representation Z_v (what the
  paper's Fig. 4 shows), in the run's representations file (read by :func:`mfon.analysis.load_representations`);
* :func:`save_split_predictions`: another split's predictions in the columns of a run's predictions (training predicts
  the valid and test splits only).

Kept apart from :mod:`mfon.analysis` so that the figure rules, which only read these files, do not list the
model and training code as their code.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from . import layout
from .analysis import DECIMALS
from .atomic import atomic_path
from .data import FeatureSources, Standardizer, collate, load_split
from .errors import MfonError
from .provenance import file_sha256, package_versions
from .checkpoints import load_mfon_model
from .tsv import write_tsv

log = logging.getLogger(__name__)


def run_model_on_split(checkpoint: Path, sources: FeatureSources, split: str, batch_size: int = 64) -> dict:
    """The checkpoint's outputs on the usable clips of ``split``.

    Returns ``keys``, ``truth``, ``prediction`` (N,) and ``visual`` (N, d), the pooled visual representation:
    Z_v of the MPA stack where visual is optimised, the visual vector where visual is the guide (visual_query,
    visual_only). Variants without the visual modality have none (``visual`` is None).
    """
    model, state = load_mfon_model(checkpoint, sources=sources)
    config = model.config
    standardizer = Standardizer.from_state(state["standardizer"]) if state["standardizer"] else None
    used = tuple(m for m in layout.MODALITIES if m in config.modalities)  # as training read them
    max_len = {m: config.max_len[m] for m in layout.FRAME_MODALITIES if m in used}
    data = load_split(sources, split, max_len=max_len, standardizer=standardizer, modalities=used)
    has_visual = "visual" in config.modalities
    predictions, vectors = [], []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            out = model(collate(data, np.arange(start, min(start + batch_size, len(data))), max_len))
            predictions.append(out.prediction.float().numpy())
            if has_visual:
                vector = out.pooled["visual"] if "visual" in out.pooled else out.guide_vector
                vectors.append(vector.float().numpy())
    return {"keys": list(data.keys), "truth": data.labels.astype(np.float64),
            "prediction": np.concatenate(predictions).astype(np.float64),
            "visual": np.concatenate(vectors) if has_visual else None,
            "variant": state["config"].get("variant", ""), "seed": int(state["config"]["seed"])}


def save_representations(checkpoint: Path, sources: FeatureSources, out_path: Path, split: str = "test") -> dict:
    """Write ``out_path`` (.npz, plain arrays): keys, truth, prediction and the pooled visual vectors of ``split``."""
    result = run_model_on_split(checkpoint, sources, split)
    if result["visual"] is None:
        raise MfonError(f"{checkpoint}: variant {result['variant']!r} uses no visual modality, so it has no "
                        f"visual representation Z_v; choose variants that read visual (analysis.tsne_variants)")
    made = {"checkpoint_sha256": file_sha256(checkpoint), "split": split, "variant": result["variant"],
            "seed": result["seed"], "representation": "visual", "versions": package_versions()}
    with atomic_path(out_path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, keys=np.array(result["keys"]), truth=result["truth"], prediction=result["prediction"],
                 visual=result["visual"], made_json=np.array(json.dumps(made, sort_keys=True)))
    log.info("wrote %s: %d %s clips, vectors of %d dims", out_path, len(result["keys"]), split,
             result["visual"].shape[1])
    return made


def save_split_predictions(checkpoint: Path, sources: FeatureSources, out_path: Path, split: str = "train") -> None:
    """The columns of a run's predictions for another split (the train split is not predicted during training)."""
    result = run_model_on_split(checkpoint, sources, split)
    rows = [{"key": k, "split": split, "truth": float(t), "prediction": round(float(p), DECIMALS)}
            for k, t, p in zip(result["keys"], result["truth"], result["prediction"])]
    write_tsv(out_path, rows, ["key", "split", "truth", "prediction"])
