"""Parse-and-plan benchmark: wall and CPU time of a Snakemake dry run of a MOSEI-scale dataset.

    .venv/bin/python benchmarks/dry_run.py [--repeats 3] [--against OTHER_CHECKOUT]

The dataset is a raw-video dataset with MOSEI's size (22,788 clips in label.csv; the media are not needed to
plan), 100 extraction shards per modality, the 10-variant x 5-seed ablation and a 100-trial search (MOSEI's
search space). From nothing, every job of the pipeline is planned. Target: under 10 s wall on 2 cores.
``--against`` times another checkout of the workflow (e.g. an older commit) in the same run, interleaved.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
N_CLIPS = 22788
SPLITS = (("train", 16326), ("valid", 1871), ("test", 4591))


def make_workdir(base: Path) -> Path:
    mosei = yaml.safe_load((ROOT / "config" / "datasets" / "mosei.yaml").read_text())
    dataset = {"name": "big", "root": "data/big", "label_range": [-3, 3], "extraction": {"shards": 100},
               "model": mosei["model"], "training": mosei["training"], "loss": mosei["loss"],
               "experiment": mosei["experiment"]}
    (base / "config" / "datasets").mkdir(parents=True)
    (base / "config" / "config.yaml").write_text(yaml.safe_dump(
        {"datasets": {"big": "config/datasets/big.yaml"}, "targets": ["big"]}))
    (base / "config" / "datasets" / "big.yaml").write_text(yaml.safe_dump(dataset))
    root = base / "data" / "big"
    root.mkdir(parents=True)
    with open(root / "label.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video_id", "clip_id", "text", "label", "annotation", "mode"])
        i = 0
        for split, n in SPLITS:
            for _ in range(n):
                writer.writerow([f"video{i // 10:05d}", str(i % 10), "a transcript", "0.5", "Positive", split])
                i += 1
    return base


def dry_run(workdir: Path, workflow: Path = ROOT) -> tuple[float, float, int]:
    """(wall s, CPU s of the snakemake process, planned jobs)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--quiet", "rules",
                           "-s", str(workflow / "Snakefile"), "--directory", str(workdir)],
                          capture_output=True, text=True, env=env, cwd=workflow)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"dry run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    total = re.search(r"^total\s+(\d+)", proc.stdout + proc.stderr, re.MULTILINE)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, int(total.group(1)) if total else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout of the workflow, timed interleaved")
    args = parser.parse_args()
    workflows = {"this": ROOT, **({"against": args.against.resolve()} if args.against else {})}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = make_workdir(Path(tmp))
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
        print(f"dataset: {N_CLIPS} clips, 100 shards per modality, 10 variants x 5 seeds, 100 search trials")
        print(f"{'workflow':>8} {'run':>4} {'wall s':>8} {'cpu s':>8} {'jobs':>6}")
        walls: dict[str, list[float]] = {name: [] for name in workflows}
        for i in range(args.repeats):
            for name, workflow in workflows.items():
                wall, cpu, jobs = dry_run(workdir, workflow)
                walls[name].append(wall)
                print(f"{name:>8} {i + 1:>4} {wall:8.2f} {cpu:8.2f} {jobs:>6}")
        for name, values in walls.items():
            print(f"{name}: best wall {min(values):.2f} s, median {sorted(values)[len(values) // 2]:.2f} s "
                  "(target < 10 s)")


if __name__ == "__main__":
    main()
