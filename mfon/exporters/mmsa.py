"""Write a dataset's own features (manifest + the three HDF5 files) as an MMSA processed pickle.

The layout is the one :mod:`mfon.importers.mmsa` reads and MMSA's data loader expects: a dict of the splits
``train`` / ``valid`` / ``test``, each a dict of arrays (docs/mmsa_export.md)::

    id                     (N,)         "<video_id>$_$<clip_id>"
    raw_text               (N,)         transcripts (object array of str)
    text_bert              (N, 3, L)    float32: token ids, attention mask, segment ids
    text                   (N, L, h)    float32: the text model's frozen last hidden states (0 at padding)
    audio, vision          (N, T, D)    float32, zero-padded after each clip's length
    audio_lengths, vision_lengths (N,)  int64 frames per clip
    regression_labels      (N,)         float32
    regression_labels_T/A/V (N,)        float32, when every exported clip has them (CH-SIMS)
    annotations            (N,)         "Negative" / "Neutral" / "Positive" (the sheet's own when it has one)
    classification_labels  (N,)         float32 0 / 1 / 2 (negative / neutral / positive)

Acoustic features go to ``audio``, visual to ``vision``. Only the clips usable in every modality
(``qc/clip_status.tsv``) are exported, in manifest order. ``text`` (what MMSA's models run with ``use_bert: false``
read: TFN, LMF, LF_DNN, MulT, ...) is computed once here by the text model that made the token ids (the text
feature file's ``model`` setting), frozen. How the file was made goes to a JSON file beside it (the pickle itself
holds only the splits, as MMSA's do).
"""

from __future__ import annotations

import functools
import json
import logging
import pickle
from pathlib import Path

import numpy as np

from ..analysis import sentiment_classes
from ..atomic import atomic_path
from . import require_export_inputs
from ..tsv import read_tsv
from ..data import FeatureSources
from ..errors import MfonError
from ..h5store import FeatureFile
from ..provenance import file_sha256, package_versions, utc_now

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
# The project's modality -> MMSA's (features, lengths) keys.
MMSA_KEYS = {"acoustic": ("audio", "audio_lengths"), "visual": ("vision", "vision_lengths")}
UNIMODAL_COLUMNS = {"label_T": "regression_labels_T", "label_A": "regression_labels_A",
                    "label_V": "regression_labels_V"}
ANNOTATIONS = ("Negative", "Neutral", "Positive")
PICKLE_PROTOCOL = 4


def _clip_frames(group) -> np.ndarray:
    """A clip's stored frames; a clip recorded with 0 frames (one zero frame marked invalid) has none."""
    values = group["features"][()]
    n = int(group.attrs.get("n_frames", values.shape[0]))
    return values[: min(n, values.shape[0])]


@functools.lru_cache(maxsize=2)
def _frozen_text_model(model: str):
    """The BERT of text model ``model`` in eval mode, loaded offline once per process."""
    from transformers import BertModel

    from ..features.text import resolve_text_model
    from ..models.encoders import _quiet_transformers

    with _quiet_transformers():
        bert = BertModel.from_pretrained(resolve_text_model(model), local_files_only=True, add_pooling_layer=False)
    return bert.float().eval()


def frozen_token_states(model: str, ids: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
    """``ids`` (N, 3, L): token ids, attention mask, segment ids -> the last hidden states (N, L, h) of the text
    model ``model`` (:func:`mfon.features.text.resolve_text_model`, offline), float32, zero where the mask is 0."""
    import torch

    bert = _frozen_text_model(model)
    top = int(ids[:, 0].max()) if ids.size else 0
    if top >= bert.config.vocab_size:
        raise MfonError(f"text model {model!r} has {bert.config.vocab_size} tokens but the text features hold id "
                        f"{top}: they were tokenized for another model; set text.model to that model")
    out = np.zeros((ids.shape[0], ids.shape[2], bert.config.hidden_size), np.float32)
    with torch.inference_mode():
        for start in range(0, ids.shape[0], batch_size):
            batch = torch.from_numpy(ids[start:start + batch_size]).long()
            mask = batch[:, 1]
            hidden = bert(input_ids=batch[:, 0], attention_mask=mask, token_type_ids=batch[:, 2]).last_hidden_state
            out[start:start + batch.shape[0]] = (hidden * mask.unsqueeze(-1)).numpy()
    return out


def export_mmsa_pickle(sources: FeatureSources, out_pickle: Path | str, *, family: str = "mosi",
                       max_frames: dict[str, int] | None = None, text_model: str | None = None) -> dict:
    """Write ``out_pickle`` and ``<out_pickle minus .pkl>.json`` (how it was made); returns that record.

    ``family``: "mosi" (scores in [-3, 3]) or "sims" ([-1, 1]); it sets the 3 classes of ``classification_labels``.
    ``max_frames``: per modality, truncate clips to at most that many frames (MMSA's releases pad to 375 / 500);
    by default the padded width is the longest clip of the dataset.
    ``text_model``: the text model whose frozen states make ``text`` (the workflow passes text.model); by default
    the one the text feature file was tokenized for.
    """
    out_pickle = Path(out_pickle)
    require_export_inputs((sources.manifest, sources.clip_status, sources.text, sources.visual, sources.acoustic),
                          "cannot export to MMSA", "Run the pipeline's feature stage first.")
    if family not in ("mosi", "sims"):
        raise MfonError(f"family {family!r} is not 'mosi' or 'sims'")
    manifest = {r["key"]: r for r in read_tsv(sources.manifest)}
    usable = [r for r in read_tsv(sources.clip_status) if r["usable"] == "1"]
    by_split = {s: [r["key"] for r in usable if r["mode"] == s] for s in SPLITS}
    empty = [s for s in SPLITS if not by_split[s]]
    if empty:
        raise MfonError(f"{sources.clip_status}: no usable clip in split(s) {empty}; MMSA needs train, valid and test")
    unknown = [k for k in sum(by_split.values(), []) if k not in manifest]
    if unknown:
        raise MfonError(f"{sources.clip_status}: clip(s) {unknown[:5]} are not in {sources.manifest}")
    keys = [k for s in SPLITS for k in by_split[s]]
    unimodal = [c for c in UNIMODAL_COLUMNS if all(manifest[k].get(c, "") != "" for k in keys)]

    data: dict[str, dict] = {s: {} for s in SPLITS}
    widths: dict[str, int] = {}
    for modality, (values_key, lengths_key) in MMSA_KEYS.items():
        path = getattr(sources, modality)
        with FeatureFile(path) as ff:
            missing = [k for k in keys if k not in ff]
            if missing:
                raise MfonError(f"{path}: has no features for usable clip(s) {missing[:5]}")
            dim = len(ff.attrs["dim_names"])
            longest = max(_clip_frames(ff.group(k)).shape[0] for k in keys)
            width = max(1, min(longest, (max_frames or {}).get(modality, longest)))
            widths[modality] = width
            for split in SPLITS:
                split_keys = by_split[split]
                padded = np.zeros((len(split_keys), width, dim), np.float32)
                lengths = np.zeros(len(split_keys), np.int64)
                for i, key in enumerate(split_keys):
                    frames = _clip_frames(ff.group(key))[:width]
                    padded[i, : frames.shape[0]] = frames
                    lengths[i] = frames.shape[0]
                data[split][values_key] = padded
                data[split][lengths_key] = lengths
    with FeatureFile(sources.text) as ff:
        text_made = {"tokenizer": ff.attrs.get("tokenizer", ""), "max_length": ff.attrs.get("max_length"),
                     "model": text_model or ff.settings.get("model", "")}
        for split in SPLITS:
            groups = [ff.group(k) for k in by_split[split]]
            data[split]["text_bert"] = np.stack([
                np.stack([g[name][()] for name in ("input_ids", "attention_mask", "token_type_ids")])
                for g in groups]).astype(np.float32)
    for split in SPLITS:
        data[split]["text"] = frozen_token_states(text_made["model"], data[split]["text_bert"])
    text_made["width"] = int(data["train"]["text"].shape[2])
    for split in SPLITS:
        rows = [manifest[k] for k in by_split[split]]
        labels = np.array([float(r["label"]) for r in rows], np.float32)
        classes = sentiment_classes(labels, family)
        data[split].update({
            "id": np.array(by_split[split]),
            "raw_text": np.array([r["text"] for r in rows], dtype=object),
            "regression_labels": labels,
            "annotations": np.array([r.get("annotation") or ANNOTATIONS[c] for r, c in zip(rows, classes)]),
            "classification_labels": classes.astype(np.float32),
            **{UNIMODAL_COLUMNS[c]: np.array([float(r[c]) for r in rows], np.float32) for c in unimodal},
        })
    with atomic_path(out_pickle) as tmp, open(tmp, "wb") as fh:
        pickle.dump(data, fh, protocol=PICKLE_PROTOCOL)

    made = {"format": "MMSA processed pickle (unaligned)", "created_utc": utc_now(), "family": family,
            "clips": {s: len(by_split[s]) for s in SPLITS},
            "quarantined_not_exported": sum(1 for r in read_tsv(sources.clip_status) if r["usable"] != "1"),
            "padded_frames": {MMSA_KEYS[m][0]: w for m, w in widths.items()},
            "max_frames": max_frames or {}, "unimodal_labels": [UNIMODAL_COLUMNS[c] for c in unimodal],
            "text": text_made, "pickle_sha256": file_sha256(out_pickle),
            "inputs": {name: {"path": str(getattr(sources, name)), "sha256": file_sha256(getattr(sources, name))}
                       for name in ("manifest", "clip_status")},
            "features": {}, "versions": package_versions()}
    for modality in ("text", "visual", "acoustic"):
        with FeatureFile(getattr(sources, modality)) as ff:
            made["features"][modality] = {"path": str(getattr(sources, modality)),
                                          "config_hash": ff.attrs["config_hash"],
                                          "feature_set": ff.attrs.get("feature_set", ff.attrs.get("tokenizer", "")),
                                          "dims": len(ff.attrs.get("dim_names", []))}
    # What MMSA's config_regression.json needs for this file (its datasetCommonParams.<dataset>.unaligned):
    # feature_dims is (text, audio, vision) with the text model's width, seq_lens (text, audio, vision) frames.
    made["mmsa_config"] = {"featurePath": str(out_pickle.resolve()),
                           "feature_dims": [text_made["width"], made["features"]["acoustic"]["dims"],
                                            made["features"]["visual"]["dims"]],
                           "seq_lens": [int(data["train"]["text_bert"].shape[2]), widths["acoustic"],
                                        widths["visual"]]}
    with atomic_path(out_pickle.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(made, indent=2, sort_keys=True))
    log.info("wrote %s: %s clips, audio %s x %d, vision %s x %d", out_pickle, made["clips"], widths["acoustic"],
             made["features"]["acoustic"]["dims"], widths["visual"], made["features"]["visual"]["dims"])
    return made
