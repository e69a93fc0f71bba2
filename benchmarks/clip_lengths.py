"""Named spreads of clip lengths for the training benchmarks, and MOSI-shaped synthetic clips drawn from them.

Padding to a batch's longest clip, sorting batches by length and projecting real frames only all gain in
proportion to how much of a batch is padding, so a speed figure means little without the spread it was measured
at. Spreads (frames at MOSI's rates, 15 visual / 11.4 acoustic per second, cut at max_len 500 / 375):

  uniform   clip durations uniform up to MOSI's longest (33 s): frames spread evenly up to max_len, the hardest
            case for padding-based savings short of every clip at max_len.
  short     durations log-normal with a median of 3.5 s (MOSI's segments average about 4 s): median 52 visual /
            40 acoustic frames, so most of a max_len-padded batch is padding.
  dataset   the lengths of a real dataset, from an MMSA pickle's ``vision_lengths`` / ``audio_lengths`` (read with
            the project's restricted unpickler) or a manifest's ``duration_s`` column.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

MAX_LEN = {"text": 50, "visual": 500, "acoustic": 375}
DIMS = {"visual": 20, "acoustic": 5}
FRAMES_PER_SECOND = {"visual": 15.0, "acoustic": 11.4}
SPREADS = ("uniform", "short")


def _from_dataset(path: Path, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` (visual, acoustic) length pairs drawn, clip by clip, from the dataset at ``path``."""
    if path.suffix == ".pkl":
        from mfon.importers.mmsa import load_mmsa_pickle

        data = load_mmsa_pickle(path)
        pairs = {m: np.concatenate([np.asarray(split[f"{key}_lengths"], dtype=np.int64) for split in data.values()])
                 for m, key in (("visual", "vision"), ("acoustic", "audio"))}
    else:
        with open(path, newline="", encoding="utf-8") as fh:
            seconds = np.array([float(row["duration_s"]) for row in csv.DictReader(fh, delimiter="\t")
                                if row.get("duration_s")])
        pairs = {m: np.round(seconds * FRAMES_PER_SECOND[m]).astype(np.int64) for m in DIMS}
    pick = rng.integers(0, len(pairs["visual"]), size=n)
    return {m: np.clip(v[pick], 1, MAX_LEN[m]) for m, v in pairs.items()}


def frame_lengths(spread: str, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Frames per clip of each frame modality for ``n`` clips: a name of :data:`SPREADS` or ``dataset:PATH``."""
    rng = np.random.default_rng(seed)
    if spread.startswith("dataset:"):
        return _from_dataset(Path(spread.split(":", 1)[1]), n, rng)
    if spread == "uniform":
        seconds = rng.uniform(0, MAX_LEN["visual"] / FRAMES_PER_SECOND["visual"], size=n)
    elif spread == "short":
        seconds = rng.lognormal(np.log(3.5), 0.6, size=n)
    else:
        raise SystemExit(f"unknown spread {spread!r}: use one of {', '.join(SPREADS)} or dataset:PATH")
    return {m: np.clip(np.round(seconds * FRAMES_PER_SECOND[m]), 1, MAX_LEN[m]).astype(np.int64) for m in DIMS}


def token_ids(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask), (n, 50): [CLS] w... [SEP], 8-50 tokens, median 18."""
    lengths = np.clip(np.round(rng.lognormal(np.log(18), 0.4, size=n)), 8, MAX_LEN["text"]).astype(int)
    ids = np.zeros((n, MAX_LEN["text"]), np.int64)
    mask = np.zeros_like(ids)
    for i, t in enumerate(lengths):
        ids[i, :t] = rng.integers(1000, 20000, size=t)
        ids[i, 0], ids[i, t - 1] = 101, 102
        mask[i, :t] = 1
    return ids, mask


def summary(lengths: dict[str, np.ndarray]) -> str:
    """One line per modality: quantiles and a 10-bin histogram of lengths over [0, max_len]."""
    lines = []
    for m, values in lengths.items():
        q = np.percentile(values, [0, 25, 50, 75, 100]).astype(int)
        counts, _ = np.histogram(values, bins=10, range=(0, MAX_LEN[m]))
        bars = " ".join(f"{c:d}" for c in counts)
        lines.append(f"{m:8s} frames min/q1/median/q3/max {q[0]}/{q[1]}/{q[2]}/{q[3]}/{q[4]} of {MAX_LEN[m]}; "
                     f"clips per tenth of max_len: {bars}")
    return "\n".join(lines)
