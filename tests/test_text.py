"""Transcripts to BERT inputs with the packaged uncased tokenizer; unavailable models fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from mfon.tsv import write_tsv
from mfon.errors import ModelUnavailableError
from mfon.features.text import load_tokenizer, tokenize_manifest, tokenize_texts
from mfon.h5store import FeatureFile
from mfon.manifest import MANIFEST_COLUMNS

PACKAGED = "packaged:all-MiniLM-L6-v2"


def test_tokenize_shapes_and_special_tokens():
    tok = load_tokenizer(PACKAGED)
    arrays = tokenize_texts(tok, ["anyhow it was really good", "bad " * 80], max_length=16)
    assert arrays["input_ids"].shape == (2, 16) and arrays["input_ids"].dtype == np.int32
    assert arrays["input_ids"][0, 0] == tok.cls_token_id
    n = int(arrays["attention_mask"][0].sum())
    assert arrays["input_ids"][0, n - 1] == tok.sep_token_id and arrays["input_ids"][0, n] == tok.pad_token_id
    assert arrays["attention_mask"][1].all()  # truncated to max_length
    assert tok.convert_ids_to_tokens(arrays["input_ids"][0, 1:n - 1].tolist()) == \
        ["any", "##how", "it", "was", "really", "good"]  # uncased bert-base WordPiece vocabulary


def test_unavailable_model_names_itself_and_the_offline_alternative(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    with pytest.raises(ModelUnavailableError, match="bert-base-uncased.*packaged:all-MiniLM-L6-v2"):
        load_tokenizer("bert-base-uncased")
    with pytest.raises(ModelUnavailableError, match="unknown packaged"):
        load_tokenizer("packaged:nope")


def test_tokenize_manifest_writes_text_and_tokens(tmp_path):
    rows = [{"key": f"v$_${i}", "video_id": "v", "clip_id": str(i), "text": t}
            for i, t in enumerate(["great movie", "i hated every minute of it"])]
    write_tsv(tmp_path / "m.tsv", rows, MANIFEST_COLUMNS)
    settings = {"model": PACKAGED, "max_length": 12}
    tokenize_manifest(tmp_path / "m.tsv", tmp_path / "text.h5", dataset="t", settings=settings)
    with FeatureFile(tmp_path / "text.h5") as ff:
        assert ff.keys() == ["v$_$0", "v$_$1"]
        clip = ff.clip("v$_$1")
        assert clip["attrs"]["text"] == "i hated every minute of it"
        assert clip["input_ids"].shape == (12,) and clip["attrs"]["n_tokens"] == 8
        assert ff.attrs["modality"] == "text" and ff.attrs["max_length"] == 12
