"""Predict the sentiment of one new clip with a trained MFON run: ``mfon predict RUN_DIR VIDEO --text ...``.

The clip goes through the same feature path as the training data, with the run's OWN feature configuration
(recorded in the checkpoint's provenance): the acoustic and visual extractors are rebuilt from the settings that
made the run's feature files (:func:`mfon.extraction.build_extractor`), the transcript is tokenized with the run's
text model and ``max_length``; non-finite values become 0 and frames without a face stay zero-filled (as in
:func:`mfon.extraction.extract_shard`); sequences are truncated to the model's ``max_len`` and standardised with the
checkpoint's train-split statistics on valid frames only (as in :func:`mfon.data.load_split`); the batch is made by
:func:`mfon.data.collate`. The prediction is the model's raw regression output, not clipped to the label range.

With ``with_teachers`` the unimodal teachers of the same seed are run too, each with its own standardiser:
``results/<dataset>/mfon/<variant>/seed<S>`` -> ``results/<dataset>/teachers/<modality>/seed<S>/checkpoint.pt``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data import SEQUENCE_MODALITIES, SplitData, Standardizer, collate
from .errors import MfonError
from .extraction import build_extractor
from .features import replace_nonfinite
from .media import probe
from .models import ModelConfig, TeacherEncoder, build_model
from .training import load_checkpoint

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
LABEL_RANGE_NOTE = ("raw regression score, not clipped to the dataset's label_range "
                    "(e.g. [-3, 3] for MOSI/MOSEI/demo, [-1, 1] for CH-SIMS)")


@dataclass
class ClipFeatures:
    """One clip's frame features as the pipeline stores them (cleaned, invalid frames zero-filled)."""

    values: np.ndarray   # (T, D) float32
    valid: np.ndarray    # (T,) bool


# ------------------------------------------------------------------------------------------------- checkpoints
def resolve_checkpoint(run: Path) -> Path:
    """``run`` is a run folder holding ``checkpoint.pt`` or the checkpoint file itself."""
    run = Path(run)
    if run.is_dir():
        path = run / CHECKPOINT_NAME
        if not path.is_file():
            raise MfonError(f"{run}: run folder holds no {CHECKPOINT_NAME} (has the run finished?)")
        return path
    if not run.exists():
        raise MfonError(f"run folder or checkpoint not found: {run}")
    return run


def _settings(path: Path, state: dict, modality: str) -> dict:
    made = state.get("provenance", {}).get(modality)
    if not isinstance(made, dict) or not made.get("settings"):
        raise MfonError(
            f"{path}: its provenance does not record the {modality} feature settings (the checkpoint was trained "
            f"before checkpoints recorded them), so the clip cannot be featurised the way its training data was; "
            f"retrain the run (delete the checkpoint and rerun snakemake) to use mfon predict")
    if made["settings"].get("source") == "mmsa-pickle":
        raise MfonError(
            f"{path}: was trained on features imported from an MMSA pickle ({made['settings'].get('source_file', '')}); "
            "those COVAREP/FACET features cannot be extracted from a raw video here. Train on features extracted by "
            "this pipeline (source.kind: raw) to score new videos")
    return made["settings"]


def teacher_checkpoint(run_checkpoint: Path, modality: str, seed: int) -> Path:
    """The teacher of ``modality`` and ``seed`` beside an MFON run, following the workflow's layout."""
    # Lexical (no symlinks followed): the layout the user points at is the one that counts.
    run_dir = Path(os.path.abspath(run_checkpoint)).parent  # results/<dataset>/mfon/<variant>/seed<S>
    if len(run_dir.parents) < 3 or run_dir.parents[1].name != "mfon":
        raise MfonError(f"{run_dir}: is not laid out as results/<dataset>/mfon/<variant>/seed<S>, so its "
                        f"teachers (results/<dataset>/teachers/<modality>/seed<S>/{CHECKPOINT_NAME}) cannot be found")
    return run_dir.parents[2] / "teachers" / modality / f"seed{seed}" / CHECKPOINT_NAME


def _load_teacher(path: Path, run_state: dict, modality: str) -> tuple[TeacherEncoder, dict]:
    """A teacher rebuilt for inference; refuses one trained on other features than the MFON run."""
    if not path.is_file():
        raise MfonError(f"teacher checkpoint not found: {path} (train the {modality} teacher of seed "
                        f"{run_state['config']['seed']}, or leave out --teachers)")
    state = load_checkpoint(path, kind="teacher")
    if state["config"].get("modality") != modality:
        raise MfonError(f"{path}: is the teacher of {state['config'].get('modality')!r}, expected {modality!r}")
    made, run_made = state["provenance"].get(modality, {}), run_state["provenance"].get(modality, {})
    if made.get("config_hash") != run_made.get("config_hash") or made.get("dims") != run_made.get("dims"):
        raise MfonError(f"{path}: was trained on {modality} features made with other settings "
                        f"(config {str(made.get('config_hash'))[:12]}) than the MFON run "
                        f"(config {str(run_made.get('config_hash'))[:12]})")
    config = _stored_config(path, state)
    teacher = fit_weights(path, _built(path, lambda: TeacherEncoder(config, modality)), state["state_dict"])
    teacher.eval()
    return teacher, state


def _stored_config(path: Path, state: dict) -> ModelConfig:
    try:
        return ModelConfig.from_dict(state["config"]["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MfonError(f"{path}: its stored model config is not valid ({exc})") from exc


def _built(path: Path, build):
    """The network the checkpoint's stored config describes, or a message saying why it cannot be built."""
    try:
        return build()
    except (KeyError, TypeError, ValueError, AssertionError, RuntimeError) as exc:
        raise MfonError(f"{path}: its stored model config cannot build a model ({type(exc).__name__}: {exc})") from exc


def fit_weights(path: Path, model: torch.nn.Module, weights: dict) -> torch.nn.Module:
    """Load ``weights`` into ``model`` (built from the checkpoint's stored config) or say what does not fit."""
    expected = model.state_dict()
    shapes = [f"{name} is {tuple(weights[name].shape)} in the weights but {tuple(t.shape)} by the config"
              for name, t in expected.items() if name in weights and tuple(weights[name].shape) != tuple(t.shape)]
    missing = [name for name in expected if name not in weights]
    unexpected = [name for name in weights if name not in expected]

    def listed(items: list[str]) -> str:
        return "; ".join(items[:3]) + (f"; and {len(items) - 3} more" if len(items) > 3 else "")

    parts = [f"{len(shapes)} tensor(s) of another shape ({listed(shapes)})" if shapes else "",
             f"{len(missing)} tensor(s) the config needs are not in the weights ({listed(missing)})" if missing else "",
             f"{len(unexpected)} tensor(s) in the weights have no place in the config ({listed(unexpected)})"
             if unexpected else ""]
    if any(parts):
        raise MfonError(f"{path}: its stored model config does not fit its weights: "
                        + ", ".join(p for p in parts if p)
                        + ". The checkpoint was edited or put together from two runs; retrain the run")
    model.load_state_dict(weights)
    return model


# ---------------------------------------------------------------------------------------------------- features
def extract_modality(video: Path, modality: str, settings: dict) -> ClipFeatures:
    """The clip's ``modality`` features exactly as :func:`mfon.extraction.extract_shard` stores them."""
    extractor = build_extractor(modality, settings)
    try:
        seq = extractor.extract(Path(video))
    finally:
        close = getattr(extractor, "close", None)
        if close is not None:
            close()
    values, _ = replace_nonfinite(seq.values)
    valid = seq.valid.astype(bool)
    if values.shape[0] == 0:
        raise MfonError(f"{video}: no {modality} frames")
    if modality == "visual" and not valid.any():
        policy = settings.get("no_face_policy", "keep")
        if policy != "keep":
            raise MfonError(f"{video}: no face found in any of {values.shape[0]} frames; the run's "
                            f"visual.no_face_policy is {policy!r}, so it was trained without such clips")
        log.warning("%s: no face found in any of %d frames (kept, zero-filled)", video, values.shape[0])
    values = np.where(valid[:, None], values, 0.0).astype(np.float32)  # the extractors zero-fill already
    return ClipFeatures(values=values, valid=valid)


def model_inputs(features: dict[str, ClipFeatures], text: dict[str, np.ndarray], max_len: dict[str, int],
                 standardizer: Standardizer | None) -> dict[str, torch.Tensor]:
    """A one-clip batch: truncate, standardise valid frames (as :func:`mfon.data.load_split`), collate."""
    sequences = {}
    for modality, feats in features.items():
        n = min(feats.values.shape[0], max_len[modality])
        values = feats.values[:n]
        if standardizer is not None and modality in standardizer.mean:
            values = np.where(feats.valid[:n, None], standardizer.apply(modality, values), 0.0)
        sequences[modality] = [np.asarray(values, dtype=np.float32)]
    data = SplitData(split="predict", keys=["clip"], labels=np.zeros(1, np.float32),
                     text={k: v.astype(np.int64) for k, v in text.items()}, sequences=sequences)
    return collate(data, [0], max_len)


def _text_inputs(settings: dict, text: str) -> dict[str, np.ndarray]:
    from .features.text import load_tokenizer, tokenize_texts

    return tokenize_texts(load_tokenizer(settings["model"]), [text], settings["max_length"])


def _standardizer(state: dict) -> Standardizer | None:
    return Standardizer.from_state(state["standardizer"]) if state.get("standardizer") else None


# ------------------------------------------------------------------------------------------------------ predict
@torch.no_grad()
def predict_clip(checkpoint: Path, video: Path, text: str | None, *, with_teachers: bool = False) -> dict:
    """Sentiment of one clip (``video`` + its transcript ``text``) by the MFON run ``checkpoint``.

    ``checkpoint``: a run folder (``results/<dataset>/mfon/<variant>/seed<S>``) or its ``checkpoint.pt``.
    Returns ``{"sentiment", "teachers" (with_teachers), "frames", "frames_extracted", "face_fraction",
    "variant", "seed", "checkpoint", "note"}``. Raises :class:`MfonError` with the reason otherwise.
    """
    path = resolve_checkpoint(Path(checkpoint))
    video = Path(video)
    state = load_checkpoint(path, kind="mfon")
    config = _stored_config(path, state)
    seed = state["config"].get("seed")
    uses_text = "text" in config.modalities
    if uses_text and text is None:
        raise MfonError(f"{path}: the model reads the transcript: pass it with --text")
    if uses_text and not text.strip():
        raise MfonError(f"{path}: the transcript is empty; the model reads the transcript: pass the words spoken "
                        f"in {video} with --text")

    # The weights are checked against the stored config before any clip is featurised.
    model = fit_weights(path, _built(path, lambda: build_model(config)), state["state_dict"])
    model.eval()
    teachers: dict[str, tuple[TeacherEncoder, dict]] = {}
    if with_teachers:
        for modality in SEQUENCE_MODALITIES:
            teachers[modality] = _load_teacher(teacher_checkpoint(path, modality, seed), state, modality)

    needed = [m for m in SEQUENCE_MODALITIES if m in config.modalities or m in teachers]
    settings = {m: _settings(path, state, m) for m in needed}
    text_settings = _settings(path, state, "text") if uses_text else None
    # A cheap first look catches a missing stream or an undecodable file before any extractor runs.
    probe(video, require_video="visual" in needed, require_audio="acoustic" in needed)
    features = {m: extract_modality(video, m, settings[m]) for m in needed}
    for m in needed:
        expected = config.input_dim(m)
        if features[m].values.shape[1] != expected:
            raise MfonError(f"{video}: {m} features have {features[m].values.shape[1]} dims but the model was "
                            f"trained on {expected} (another version of the {m} extractor?)")
    text_arrays = _text_inputs(text_settings, text) if uses_text else {}

    model_features = {m: features[m] for m in needed if m in config.modalities}
    max_len = {m: config.max_len[m] for m in model_features}
    batch = model_inputs(model_features, text_arrays, max_len, _standardizer(state))
    sentiment = float(model(batch).prediction[0])
    if not np.isfinite(sentiment):
        raise MfonError(f"{path}: the model returned a non-finite prediction ({sentiment}) for {video}")

    result: dict = {"sentiment": sentiment}
    frames = {m: int(batch[f"{m}_lengths"][0]) for m in model_features}
    if teachers:
        result["teachers"] = {}
        for modality, (teacher, tstate) in teachers.items():
            tlen = {modality: teacher.max_len}
            tbatch = model_inputs({modality: features[modality]}, {}, tlen, _standardizer(tstate))
            result["teachers"][modality] = float(teacher(tbatch[modality], tbatch[f"{modality}_lengths"])[0])
            frames.setdefault(modality, int(tbatch[f"{modality}_lengths"][0]))
    visual = features.get("visual")
    result.update({
        "frames": frames,
        "frames_extracted": {m: int(f.values.shape[0]) for m, f in features.items()},
        "face_fraction": round(float(visual.valid.mean()), 4) if visual is not None else None,
        "variant": state["config"].get("variant"),
        "seed": seed,
        "checkpoint": str(path),
        "video": str(video),
        "note": LABEL_RANGE_NOTE,
    })
    return result


def format_result(result: dict) -> str:
    """The short human-readable summary printed by ``mfon predict``."""
    lines = [f"sentiment: {result['sentiment']:+.3f}  (variant {result['variant']}, seed {result['seed']})",
             f"           {result['note']}"]
    if "teachers" in result:
        lines.append("teachers:  " + ", ".join(f"{m} {v:+.3f}" for m, v in result["teachers"].items()))
    parts = []
    for m, n in result["frames"].items():
        total = result["frames_extracted"][m]
        parts.append(f"{m} {n}" + (f" (of {total}; truncated to the model's max_len)" if total > n else ""))
    if parts:
        lines.append("frames:    " + ", ".join(parts))
    if result.get("face_fraction") is not None:
        lines.append(f"face:      found in {100 * result['face_fraction']:.0f}% of the visual frames")
    return "\n".join(lines)
