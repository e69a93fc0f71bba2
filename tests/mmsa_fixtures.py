"""Small synthetic stand-ins for MMSA's processed pickles, with the real layout, key names and shapes.

Test data (kept out of the package). ``write_mmsa_fixture(path, "mosi")`` writes a pickle that
:func:`mfon.importers.mmsa.import_mmsa_pickle` reads like MMSA's ``unaligned_50.pkl``;
``python tests/mmsa_fixtures.py OUT_DIR`` writes all three datasets in MMSA's folder layout
(``OUT_DIR/MOSI/Processed/unaligned_50.pkl``, ``OUT_DIR/MOSEI/...``, ``OUT_DIR/SIMS/Processed/unaligned_39.pkl``).

The content is synthetic, not MMSA's: transcripts are short sentences whose words follow the label, and one
acoustic and one visual dimension carry part of the label, so a model can learn a little. Sequences are
zero-padded beyond ``*_lengths``; NaN and +inf (and -inf for MOSEI, whose real audio has it) can be injected into
the audio. Only numpy arrays, lists, dicts and strings are pickled, so the safe unpickler loads them.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import logging
import pickle
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")

# Real MMSA shapes: text length L, audio (T_a, d_a), vision (T_v, d_v), label range, label step, folder, file stem.
LAYOUTS = {
    "mosi": {"L": 50, "audio": (375, 5), "vision": (500, 20), "range": 3.0, "step": 0.2, "folder": "MOSI"},
    "mosei": {"L": 50, "audio": (500, 74), "vision": (500, 35), "range": 3.0, "step": 1 / 3, "folder": "MOSEI"},
    "sims": {"L": 39, "audio": (400, 33), "vision": (55, 709), "range": 1.0, "step": 0.2, "folder": "SIMS"},
}
TEXT_DIM = 768

WORDS_EN = {
    "pos": ["great", "wonderful", "loved", "amazing", "enjoyed", "brilliant", "beautiful", "fun"],
    "neg": ["terrible", "boring", "awful", "hated", "disappointing", "dull", "annoying", "worst"],
    "neu": ["okay", "average", "fine", "ordinary"],
}
TEMPLATES_EN = ["i thought the movie was {a}", "honestly the acting was {a} and {b}", "the story felt {a}",
                "um it was {x} {a}", "i {x} think the ending was {a}", "the whole thing was {a} to watch"]
WORDS_ZH = {
    "pos": ["很开心", "太好了", "非常喜欢", "真不错", "特别棒"],
    "neg": ["太糟糕了", "很生气", "真讨厌", "非常失望", "受不了"],
    "neu": ["还行吧", "一般般", "没什么感觉"],
}
TEMPLATES_ZH = ["我觉得{a}", "这件事{a}", "说实话{x}{a}", "今天{a}，{b}"]


def fixture_filename(dataset: str, aligned: bool = False) -> str:
    length = LAYOUTS[dataset]["L"]
    return f"{'aligned' if aligned else 'unaligned'}_{length}.pkl"


def _sentence(rng: np.random.Generator, label: float, scale: float, chinese: bool) -> str:
    words, templates = (WORDS_ZH, TEMPLATES_ZH) if chinese else (WORDS_EN, TEMPLATES_EN)
    pool = words["pos"] if label > 0.15 * scale else words["neg"] if label < -0.15 * scale else words["neu"]
    strong = abs(label) > 0.6 * scale
    x = ("非常" if strong else "有点") if chinese else ("really" if strong else "kind of")
    a, b = rng.choice(pool, size=2, replace=len(pool) < 2)
    return str(rng.choice(templates)).format(a=a, b=b, x=x)


def _ids(dataset: str, rng: np.random.Generator, n: int, offset: int) -> list[str]:
    """MMSA's "video$_$clip" ids: about four clips per video; SIMS-style zero-padded numbers keep their zeros."""
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    ids = []
    video = ""
    for i in range(n):
        if i % 4 == 0:
            if dataset == "sims":
                video = f"video_{(offset + i) // 4 + 1:04d}"
            else:
                video = "".join(rng.choice(alphabet, size=11))
                if dataset == "mosei" and i == 0:
                    video = "-" + video[1:]  # real MOSEI video ids may start with '-'
        clip = f"{i % 4 + 1:04d}" if dataset == "sims" else str(i % 4 + 1)
        ids.append(f"{video}$_${clip}")
    return ids


@functools.lru_cache(maxsize=1)
def _english_tokenizer():
    try:
        from mfon.features.text import load_tokenizer

        return load_tokenizer("packaged:all-MiniLM-L6-v2")
    except Exception as exc:  # noqa: BLE001 - an optional nicety; the stand-in ids are fine for tests
        log.warning("packaged tokenizer unavailable (%s); writing stand-in token ids", exc)
        return None


def _token_ids(texts: list[str], length: int, chinese: bool) -> np.ndarray:
    """(N, 3, L) ids / mask / segments as MMSA stores them (float32).

    English: the packaged uncased tokenizer (bert-base-uncased's vocabulary) when it is installed. Chinese, or
    without it: deterministic stand-in ids in the vocabulary's range with BERT's [CLS]=101 / [SEP]=102 / [PAD]=0.
    """
    out = np.zeros((len(texts), 3, length), np.float32)
    tokenizer = None if chinese else _english_tokenizer()
    for row, text in enumerate(texts):
        if tokenizer is not None:
            ids = tokenizer(text, truncation=True, max_length=length)["input_ids"]
        else:
            pieces = list(text.replace(" ", "")) if chinese else text.split()
            top = 21128 if chinese else 30522
            inner = [1000 + int(hashlib.sha256(p.encode()).hexdigest(), 16) % (top - 1000) for p in pieces]
            ids = [101, *inner[: length - 2], 102]
        out[row, 0, : len(ids)] = ids
        out[row, 1, : len(ids)] = 1
    return out


def _labels(rng: np.random.Generator, n: int, scale: float, step: float) -> np.ndarray:
    raw = np.clip(rng.normal(0.0, 0.55 * scale, size=n), -scale, scale)
    return (np.clip(np.round(raw / step) * step, -scale, scale) + 0.0).astype(np.float32)  # + 0.0: no -0.0


def _split(dataset: str, rng: np.random.Generator, n: int, offset: int, aligned: bool, inject_nonfinite: bool,
           split: str) -> dict:
    layout = LAYOUTS[dataset]
    scale, length = layout["range"], layout["L"]
    chinese = dataset == "sims"
    labels = _labels(rng, n, scale, layout["step"])
    texts = [_sentence(rng, float(y), scale, chinese) for y in labels]
    text_bert = _token_ids(texts, length, chinese)
    data: dict = {
        "raw_text": np.array(texts, dtype=object),
        "id": np.array(_ids(dataset, rng, n, offset)),
        "text": np.zeros((n, length, TEXT_DIM), np.float32),
        "text_bert": text_bert,
        "annotations": np.array(["Positive" if y > 0 else "Negative" if y < 0 else "Neutral" for y in labels]),
        "regression_labels": labels,
    }
    if chinese:
        for suffix in ("T", "A", "V"):
            data[f"regression_labels_{suffix}"] = np.clip(
                np.round((labels + rng.normal(0, 0.3, n)) / 0.2) * 0.2, -1.0, 1.0).astype(np.float32) + np.float32(0)
    signal = labels / scale  # in [-1, 1]
    for key, (t, d) in (("audio", layout["audio"]), ("vision", layout["vision"])):
        if aligned:
            t = length
            lengths = text_bert[:, 1].sum(axis=1).astype(np.int64)
        else:
            lengths = rng.integers(max(t // 8, 4), t, size=n)  # always shorter than the padded width
        values = np.zeros((n, t, d), np.float32)
        for i in range(n):
            frames = rng.normal(0.0, 1.0, size=(lengths[i], d)).astype(np.float32)
            frames[:, 0 if key == "vision" else min(1, d - 1)] += 1.5 * signal[i]
            values[i, : lengths[i]] = frames
        if key == "audio" and inject_nonfinite:
            rows = [0, 1] if split == "train" else [0]
            for i in rows:
                values[i, 1, 0] = np.nan
                values[i, 2, d - 1] = np.inf
                if dataset == "mosei":
                    values[i, 3, 2] = -np.inf
        data[key] = values
        if not aligned:
            # MOSI's lengths as a plain list, the others as arrays: both forms occur in the wild.
            data[f"{key}_lengths"] = [int(v) for v in lengths] if dataset == "mosi" else lengths.astype(np.int64)
    return data


def write_mmsa_fixture(path: str | Path, dataset: str, *, n_per_split: tuple[int, int, int] = (24, 8, 8),
                       seed: int = 0, aligned: bool = False, inject_nonfinite: bool = True,
                       poison_test_labels: bool = False) -> Path:
    """Write a small pickle with MMSA's layout for ``dataset`` ("mosi", "mosei" or "sims"); returns ``path``.

    ``aligned``: the aligned_* layout (every modality ``L`` steps long, no ``*_lengths`` keys).
    ``poison_test_labels``: the test split's labels (and SIMS' unimodal test labels) are sign-flipped while its
    features and transcripts still follow the true label. They stay finite and in range, so the import accepts
    them; anything that reads test labels to choose settings is misled, and a model selected on valid only shows
    a negative test correlation — a tripwire for test-set leakage in a search.
    """
    if dataset not in LAYOUTS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(LAYOUTS)}")
    rng = np.random.default_rng(seed)
    data, offset = {}, 0
    for split, n in zip(SPLITS, n_per_split):
        data[split] = _split(dataset, rng, int(n), offset, aligned, inject_nonfinite, split)
        offset += int(n)
    if poison_test_labels:
        for key in [k for k in data["test"] if k.startswith("regression_labels")]:
            data["test"][key] = (-data["test"][key] + 0.0).astype(np.float32)  # + 0.0: no negative zeros
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(data, fh, protocol=4)
    tmp.replace(path)
    return path


def write_all_fixtures(out_dir: str | Path, **kwargs) -> list[Path]:
    """All three datasets in MMSA's layout under ``out_dir``."""
    out_dir = Path(out_dir)
    return [write_mmsa_fixture(out_dir / LAYOUTS[d]["folder"] / "Processed"
                               / fixture_filename(d, kwargs.get("aligned", False)), d, **kwargs)
            for d in LAYOUTS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/mmsa_fixtures.py",
                                     description="Write synthetic MMSA-layout pickles (MOSI, MOSEI, SIMS).")
    parser.add_argument("out_dir", help="e.g. data: writes data/MOSI/Processed/unaligned_50.pkl and the others")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-per-split", type=int, nargs=3, default=(24, 8, 8), metavar=("TRAIN", "VALID", "TEST"))
    parser.add_argument("--aligned", action="store_true")
    parser.add_argument("--no-nonfinite", action="store_true", help="do not inject NaN/inf into the audio")
    parser.add_argument("--poison-test-labels", action="store_true")
    args = parser.parse_args(argv)
    for path in write_all_fixtures(args.out_dir, seed=args.seed, n_per_split=tuple(args.n_per_split),
                                   aligned=args.aligned, inject_nonfinite=not args.no_nonfinite,
                                   poison_test_labels=args.poison_test_labels):
        print(f"{path}  ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
