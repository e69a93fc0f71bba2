"""One whole MFON training job through the project's own Snakemake target, this commit against an older one.

    .venv/bin/python benchmarks/training_job.py                       # HEAD vs 8885ca2, uniform spread
    .venv/bin/python benchmarks/training_job.py --spread short --rounds 3

What is timed: ``snakemake --cores N results/bench/mfon/mfon/seed1/metrics.json --forcerun train_mfon`` in a
checkout of each commit (``git worktree``, removed afterwards), i.e. Snakemake's start, loading the features,
building the model (the packaged MiniLM text encoder), one training epoch, validation and test predictions and
writing the checkpoint, predictions and metrics: the wall time a user waits for that job. Each checkout first
builds the job's inputs once, untimed (import of a synthetic MMSA pickle, both teachers for one epoch, and the
stored teacher vectors where the commit has them). Then every round runs each configuration once, in turn
(A/B interleaved), and the median wall time per configuration is printed with its ratio to the first.

The dataset: a synthetic MMSA pickle at MOSI's sizes (visual 20 dims up to 500 frames, acoustic 5 dims up to
375, transcripts of 8-50 words), ``--clips`` training clips and a quarter as many for validation and test each,
lengths from a named spread (benchmarks/clip_lengths.py). Training settings are the MOSI recipe's
(config/datasets/mosi.yaml: batch 32, grad_accum 4, MPA 2/5 layers, teachers 4/3) for one epoch.

Configurations: the old commit with its defaults; this commit with its defaults (fp32, 1 thread); this commit
with the settings the README recommends for CPU (runtime.threads 2, runtime.bf16, training.bucket_by_length).
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import clip_lengths  # noqa: E402

TARGET = "results/bench/mfon/mfon/seed1/metrics.json"
WORDS = ("good", "bad", "film", "really", "quite", "boring", "great", "story", "actor", "plot", "not", "very")
DATASET = """\
name: bench
root: {root}
paper: mosi
label_range: [-3, 3]
source: {{kind: mmsa_pickle, pickle: {pickle}}}
text: {{model: "packaged:all-MiniLM-L6-v2", max_length: 50}}
model:
  max_len: {{visual: 500, acoustic: 375}}
  mpa_layers: {{visual: 2, acoustic: 5}}
  teacher_layers: {{visual: 4, acoustic: 3}}
teacher_training: {{epochs: 1, batch_size: 32}}
training: {{epochs: 1, batch_size: 32, grad_accum: 4, standardize: false{training}}}
runtime: {{threads: {threads}, bf16: {bf16}, device: cpu}}
experiment: {{metrics: mosi, variants: [mfon], ablation_variants: [], seeds: [1], search: {{trials: 0}}}}
"""
CONFIGURATIONS = {  # name -> (commit role, extra training keys, threads, bf16)
    "old commit, defaults": ("old", "", 1, "false"),
    "this commit, defaults": ("new", "", 1, "false"),
    "this commit, recommended for CPU": ("new", ", bucket_by_length: true", 2, "true"),
}


def write_pickle(path: Path, clips: int, spread: str) -> dict:
    """A MOSI-shaped MMSA pickle; returns the training split's frame lengths."""
    rng = np.random.default_rng(0)
    sizes = {"train": clips, "valid": max(clips // 4, 1), "test": max(clips // 4, 1)}
    data, offset, train_lengths = {}, 0, None
    for split, n in sizes.items():
        lengths = clip_lengths.frame_lengths(spread, n, seed=offset + 1)
        words = np.clip(np.round(rng.lognormal(np.log(16), 0.4, size=n)), 8, 48).astype(int)
        part = {"id": np.array([f"v{offset + i:05d}$_${i}" for i in range(n)]),
                "raw_text": np.array([" ".join(rng.choice(WORDS, size=w)) for w in words], dtype=object),
                "regression_labels": np.round(rng.uniform(-3, 3, size=n), 1).astype(np.float32)}
        for modality, key in (("visual", "vision"), ("acoustic", "audio")):
            values = np.zeros((n, clip_lengths.MAX_LEN[modality], clip_lengths.DIMS[modality]), np.float32)
            for i, t in enumerate(lengths[modality]):
                values[i, :t] = rng.normal(size=(t, clip_lengths.DIMS[modality]))
            part[key], part[f"{key}_lengths"] = values, [int(t) for t in lengths[modality]]
        data[split] = part
        train_lengths = train_lengths or lengths
        offset += n
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=4)
    return train_lengths


def checkout(rev: str, where: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(where), rev], check=True)
    return where


def snakemake(tree: Path, config: Path, cores: int, force: bool) -> float:
    """Wall seconds of the MFON job's target in ``tree`` (``force``: rerun the MFON job itself)."""
    # the target first: --configfile and --forcerun each take a list
    cmd = [str(Path(sys.executable).with_name("snakemake")), TARGET, "--cores", str(cores), "--configfile", str(config),
           *(["--forcerun", "train_mfon"] if force else [])]
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"snakemake failed in {tree} ({config.name}):\n{proc.stdout[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default="8885ca2", help="the older commit (default 8885ca2)")
    parser.add_argument("--rev", default="HEAD", help="this commit (default HEAD; committed code only)")
    parser.add_argument("--spread", default="uniform", help="uniform, short or dataset:PATH (clip_lengths.py)")
    parser.add_argument("--clips", type=int, default=128, help="training clips (valid and test: a quarter each)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (checkouts, results)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="mfon-job-bench-"))
    trees = {}
    try:
        pickle_path = scratch / "data" / "bench.pkl"
        lengths = write_pickle(pickle_path, args.clips, args.spread)
        trees = {"old": checkout(args.against, scratch / "old"), "new": checkout(args.rev, scratch / "new")}
        configs = {}
        for i, (name, (role, training, threads, bf16)) in enumerate(CONFIGURATIONS.items()):
            dataset = scratch / f"dataset{i}.yaml"
            dataset.write_text(DATASET.format(root=scratch / "data", pickle=pickle_path, training=training,
                                              threads=threads, bf16=bf16))
            config = scratch / f"config{i}.yaml"
            config.write_text(f"datasets:\n  bench: {dataset}\n")
            configs[name] = (trees[role], config)
        revs = {role: subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h %cs"], text=True,
                                     stdout=subprocess.PIPE, check=True).stdout.strip() for role, tree in trees.items()}
        print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, load average "
              f"{os.getloadavg()[0]:.2f} at start; --cores {args.cores}; old {revs['old']}, this {revs['new']}; "
              f"{args.clips} training clips, spread {args.spread}:\n{clip_lengths.summary(lengths)}", flush=True)
        for name, (tree, config) in configs.items():  # inputs once, untimed (and the job once: warm caches)
            print(f"preparing {name}: {snakemake(tree, config, args.cores, force=False):.0f} s", flush=True)
        times: dict[str, list[float]] = {name: [] for name in configs}
        for r in range(args.rounds):
            for name, (tree, config) in configs.items():
                times[name].append(snakemake(tree, config, args.cores, force=True))
                print(f"round {r + 1}: {name} {times[name][-1]:.1f} s", flush=True)
        base = statistics.median(times[next(iter(times))])
        print("| configuration | wall s per job (median) | rounds | speed-up |\n|---|---|---|---|")
        for name, t in times.items():
            median = statistics.median(t)
            print(f"| {name} | {median:.1f} | {', '.join(f'{x:.1f}' for x in t)} | {base / median:.2f}x |")
    finally:
        for tree in trees.values():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
