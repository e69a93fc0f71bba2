"""Training throughput of MFON and its teachers at the paper's MOSI sizes, at named spreads of clip lengths.

    .venv/bin/python benchmarks/training_throughput.py                      # CPU: uniform and short spreads
    .venv/bin/python benchmarks/training_throughput.py --spread dataset:data/MOSI/Processed/unaligned_50.pkl
    .venv/bin/python benchmarks/training_throughput.py --profile            # + torch.profiler's top operators
    .venv/bin/python benchmarks/training_throughput.py --device cuda        # GPU: fp32 vs bf16, fused vs math SDPA

Sizes: width 768, 8 heads, MPA 2/5 layers, teachers 4/3 layers, visual 20 dims (max 500 frames), acoustic 5 dims
(max 375 frames), text 8-50 tokens, batch 32. Clip lengths follow a named spread (benchmarks/clip_lengths.py:
uniform up to max_len, the short MOSI-like spread, or a dataset's own); the spread's quantiles and histogram are
printed. The text encoder is the packaged all-MiniLM-L6-v2 (bert-base-uncased is not available offline here and
costs roughly 4-5x more in the text part). One step = forward, loss (L_task + L_va + L_ICL), backward and an
Adam step, on the batches the training loader makes (``mfon.training.SplitBatches``).

CPU configurations. Each round trains every configuration for one pass over the same ``--clips`` clips (an
epoch; A/B interleaved), samples/s = clips / the median epoch time over the rounds:
  8885ca2      what training did at commit 8885ca2: batches padded to max_len, teachers run at every step,
               every query position of the last layer, key/value projections over padding too; fp32, 1 thread
  now          fixed fidelity today: padded to the batch's longest clip, stored teacher vectors, last layer at
               position 0, key/value projections of real frames only; fp32 or bf16 autocast, 1 or 2 threads
  now, bf16, bucket_by_length   the settings the README recommends for CPU (2 threads)
  paper        the authors' semantics (padded to max_len, teachers in train mode every step), with --paper
  teacher/<m>  optimised vs unoptimised teachers, with --teachers
Peak memory: each configuration alone in a fresh process, two steps on its largest batch (its peak RSS, VmHWM,
on CPU; torch's peak allocation on CUDA). On a machine busier than its cores, the 2-thread figures suffer most (a
parallel region waits for its slowest thread): check ``uptime`` and compare the 1-thread rows.

On CUDA (--device cuda) the optimised MFON and teachers run in fp32 and bf16 autocast, each with fused SDPA
attention (flash / memory-efficient kernels) and with the plain math kernel.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import clip_lengths  # noqa: E402
from mfon.data import SplitData  # noqa: E402
from mfon.losses import MFONLoss  # noqa: E402
from mfon.models import CrossModalEncoder, ModelConfig, TeacherEncoder, build_model, distillation_targets, \
    parameter_groups  # noqa: E402
from mfon.teacher_targets import teacher_vectors  # noqa: E402
from mfon.training import SplitBatches  # noqa: E402

MOSI = {"d_model": 768, "d_visual": clip_lengths.DIMS["visual"], "d_acoustic": clip_lengths.DIMS["acoustic"],
        "max_len": clip_lengths.MAX_LEN, "text_model": "packaged:all-MiniLM-L6-v2"}


def synthetic_split(n: int, spread: str, seed: int = 0) -> SplitData:
    """``n`` MOSI-shaped clips whose lengths follow ``spread`` (:func:`clip_lengths.frame_lengths`)."""
    rng = np.random.default_rng(seed)
    lengths = clip_lengths.frame_lengths(spread, n, seed)
    sequences = {m: [rng.normal(size=(t, clip_lengths.DIMS[m])).astype(np.float32) for t in lengths[m]]
                 for m in lengths}
    ids, mask = clip_lengths.token_ids(n, rng)
    return SplitData(split="train", keys=[f"c{i}" for i in range(n)], labels=rng.normal(size=n).astype(np.float32),
                     text={"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
                     sequences=sequences)


@contextlib.contextmanager
def as_at_8885ca2():
    """Every stack computes all query positions in its last layer (callers still pool position 0) and projects
    keys/values over the padding too, as training did at 8885ca2."""
    original = CrossModalEncoder.forward

    def forward(self, *args, first_only=False, **kwargs):
        return original(self, *args, **kwargs)

    CrossModalEncoder.forward = forward
    CrossModalEncoder.pack_masked_keys = False
    try:
        yield
    finally:
        CrossModalEncoder.forward = original
        CrossModalEncoder.pack_masked_keys = True


class Run:
    """One configuration: its model, optimiser and batches; ``step()`` trains on the next batch."""

    def __init__(self, kind: str, optimised: bool, data: SplitData, batch: int, threads: int,
                 device: torch.device, bf16: bool = False, fused: bool = True, fidelity: str = "fixed",
                 bucket: bool = False):
        torch.manual_seed(0)
        self.kind, self.optimised, self.threads, self.device = kind, optimised, threads, device
        self.bf16, self.fused = bf16, fused
        config = ModelConfig.from_dict({**MOSI, "fidelity": fidelity})
        pad_to_max = fidelity == "paper" or not optimised
        self.loaders = SplitBatches({"train": data}, MOSI["max_len"], batch, pad_to_max=pad_to_max,
                                    bucket_by_length=bucket)
        self.batches = None
        self.setup_seconds = 0.0
        if kind.startswith("teacher"):
            self.modality = kind.split("/")[1]
            self.model = TeacherEncoder(config, self.modality).to(device)
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, amsgrad=True)
            return
        self.model = build_model(config).to(device)
        self.optimizer = torch.optim.Adam([{"params": p} for p in parameter_groups(self.model).values() if p],
                                          lr=1e-3)
        self.objective = MFONLoss({"alpha": 0.5, "beta": 0.5})
        self.teachers = {m: TeacherEncoder(config, m).to(device).requires_grad_(False)
                         for m in ("visual", "acoustic")}
        self.targets = None
        if optimised and fidelity == "fixed":  # stored once, as the teacher_targets step does
            start = time.perf_counter()
            with self.context():
                self.targets = {m: torch.from_numpy(teacher_vectors(t.cpu(), data)).to(device)
                                for m, t in self.teachers.items()}
            self.setup_seconds = time.perf_counter() - start
            self.teachers = {}

    def context(self):
        stack = contextlib.ExitStack()
        torch.set_num_threads(self.threads)
        if not self.optimised:
            stack.enter_context(as_at_8885ca2())
        if self.device.type == "cpu":
            stack.enter_context(torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16))
        if self.device.type == "cuda":
            from torch.nn.attention import SDPBackend, sdpa_kernel

            backends = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH] \
                if self.fused else [SDPBackend.MATH]
            stack.enter_context(sdpa_kernel(backends))
            stack.enter_context(torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16))
        return stack

    def next_batch(self) -> dict[str, torch.Tensor]:
        try:
            batch = next(self.batches)
        except (StopIteration, TypeError):
            self.batches = iter(self.loaders.batches("train", torch.Generator().manual_seed(1)))
            batch = next(self.batches)
        return {k: v.to(self.device) for k, v in batch.items()}

    def largest_batch(self) -> dict[str, torch.Tensor]:
        """The epoch's batch with the most padded frames (for peak memory)."""
        batches = list(self.loaders.batches("train", torch.Generator().manual_seed(1)))
        return max(batches, key=lambda b: sum(b[m].shape[1] for m in ("visual", "acoustic")))

    def epoch(self) -> float:
        """Seconds of one pass over every clip, step after step."""
        self.batches = iter(self.loaders.batches("train", torch.Generator().manual_seed(1)))
        total = 0.0
        for _ in range(len(self.loaders.splits["train"]) // self.loaders.batch_size):
            total += self.step()
        return total

    def step(self, batch: dict[str, torch.Tensor] | None = None) -> float:
        """Seconds of one training step (batch building included, as in training)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        batch = self.next_batch() if batch is None else {k: v.to(self.device) for k, v in batch.items()}
        with self.context():
            if self.kind.startswith("teacher"):
                m = self.modality
                loss = torch.nn.functional.mse_loss(self.model(batch[m], batch[f"{m}_lengths"]), batch["label"])
            else:
                output = self.model(batch)
                if self.targets is not None:
                    targets = {m: v[batch["index"]] for m, v in self.targets.items()}
                else:
                    targets = distillation_targets(self.teachers, batch, self.model.config.fidelity)
                loss = self.objective(output, batch["label"], targets)["loss"]
        loss.float().backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - start


#: The configuration the README recommends for CPU training (runtime.bf16, training.bucket_by_length, 2 threads).
RECOMMENDED = "now, bf16, bucket_by_length"


def cpu_runs(args) -> dict[str, dict]:
    cpu = torch.device("cpu")
    runs = {"8885ca2": dict(kind="mfon", optimised=False, threads=1, device=cpu)}
    for bf16 in (False, True):
        for threads in (1, args.threads):
            runs[f"now, {'bf16' if bf16 else 'fp32'}|{threads}"] = dict(kind="mfon", optimised=True, threads=threads,
                                                                        device=cpu, bf16=bf16)
    runs[f"{RECOMMENDED}|{args.threads}"] = dict(kind="mfon", optimised=True, threads=args.threads, device=cpu,
                                                 bf16=True, bucket=True)
    if args.paper:
        runs["paper"] = dict(kind="mfon", optimised=True, threads=args.threads, device=cpu, fidelity="paper")
    if args.teachers:
        runs.update({f"teacher/{m}, {'optimised' if o else 'unoptimised'}":
                     dict(kind=f"teacher/{m}", optimised=o, threads=args.threads if o else 1, device=cpu)
                     for m in ("visual", "acoustic") for o in (True, False)})
    return runs


def cuda_runs(args) -> dict[str, dict]:
    gpu = torch.device("cuda")
    runs = {}
    for kind in ("mfon", "teacher/visual", "teacher/acoustic"):
        for bf16 in (False, True):
            for fused in (True, False):
                name = f"{kind} {'bf16' if bf16 else 'fp32'} {'fused' if fused else 'math'} attention"
                runs[name] = dict(kind=kind, optimised=True, threads=args.threads, device=gpu, bf16=bf16,
                                  fused=fused)
    return runs


def peak_memory_mb(name: str, spread: str, args) -> float:
    """Peak memory of configuration ``name`` run alone for two steps on its largest batch, in a fresh process."""
    cmd = [sys.executable, __file__, "--peak-of", name, "--spread", spread, "--batch", str(args.batch),
           "--clips", str(args.clips), "--threads", str(args.threads), "--device", args.device]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate()
    if proc.returncode:
        return float("nan")
    return float(json.loads(out.strip().splitlines()[-1])["peak_mb"])


def profile_table(run: Run, rows: int) -> str:
    """torch.profiler's top operators (self CPU time) of one step of ``run``, as a Markdown table."""
    from torch.profiler import ProfilerActivity, profile

    batch = run.largest_batch()
    run.step(batch)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        wall = run.step(batch)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    lines = [f"one step on the epoch's largest batch: {wall:.2f} s wall under the profiler, {total / 1e6:.2f} s of "
             f"operator CPU time (summed over threads)", "| operator | share | self CPU s | calls |", "|---|---|---|---|"]
    for e in events[:rows]:
        lines.append(f"| `{e.key}` | {100 * e.self_cpu_time_total / total:.1f}% | {e.self_cpu_time_total / 1e6:.2f} "
                     f"| {e.count} |")
    return "\n".join(lines)


def label(name: str) -> tuple[str, str]:
    return tuple(name.split("|")) if "|" in name else (name, "")


def measure(spread: str, configs: dict[str, dict], args) -> None:
    """One table (samples/s, peak memory) of every configuration at ``spread``, A/B interleaved."""
    data = synthetic_split(args.clips, spread)
    lengths = {m: np.array([len(s) for s in data.sequences[m]]) for m in ("visual", "acoustic")}
    print(f"\n## spread {spread}: {args.clips} clips, batch {args.batch}\n{clip_lengths.summary(lengths)}", flush=True)
    peaks = {n: float("nan") if args.no_memory else peak_memory_mb(n, spread, args) for n in configs}  # before we grow
    runs = {n: Run(data=data, batch=args.batch, **c) for n, c in configs.items()}
    for run in runs.values():  # warm-up: allocations, kernel selection
        run.step()
    times: dict[str, list[float]] = {n: [] for n in runs}
    for _ in range(args.rounds):
        for n, run in runs.items():
            times[n].append(run.epoch() if args.device == "cpu" else run.step())
    per_round = args.batch * (args.clips // args.batch) if args.device == "cpu" else args.batch
    rate = {n: per_round / statistics.median(t) for n, t in times.items()}
    base = rate.get("8885ca2")
    print(f"| configuration | threads | samples/s | vs 8885ca2 | peak memory |\n|---|---|---|---|---|")
    for n, run in runs.items():
        ratio = f"{rate[n] / base:.2f}x" if base else ""
        print(f"| {label(n)[0]} | {run.threads} | {rate[n]:.2f} | {ratio} | {peaks[n] / 1024:.1f} GB |", flush=True)
        if run.setup_seconds:
            print(f"(storing teacher vectors once: {1e3 * run.setup_seconds / len(data):.1f} ms per clip)")
    if args.profile and args.device == "cpu":
        for n in ("8885ca2", f"{RECOMMENDED}|{args.threads}"):
            if n in runs:
                print(f"\n### torch.profiler, {label(n)[0]} ({runs[n].threads} threads), spread {spread}\n"
                      f"{profile_table(runs[n], args.profile_rows)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--clips", type=int, default=128, help="clips per epoch (CPU: each round trains one epoch)")
    parser.add_argument("--spread", action="append", default=None,
                        help="uniform, short or dataset:PATH (an MMSA pickle or a manifest.tsv); repeatable; "
                             "default: uniform and short")
    parser.add_argument("--rounds", type=int, default=2, help="timed epochs (steps on CUDA) per configuration")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of the multi-threaded configurations")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--only", default=None, help="run only configurations whose name contains this")
    parser.add_argument("--paper", action="store_true", help="add paper fidelity")
    parser.add_argument("--teachers", action="store_true", help="add the teachers, optimised and not")
    parser.add_argument("--profile", action="store_true", help="print torch.profiler's top operators of one step "
                                                                "of 8885ca2's and the recommended configuration")
    parser.add_argument("--profile-rows", type=int, default=10)
    parser.add_argument("--no-memory", action="store_true", help="skip the per-configuration peak memory runs")
    parser.add_argument("--peak-of", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    spreads = args.spread or list(clip_lengths.SPREADS)
    configs = cuda_runs(args) if args.device == "cuda" else cpu_runs(args)

    if args.peak_of:  # child process of peak_memory_mb
        run = Run(data=synthetic_split(args.clips, spreads[0]), batch=args.batch, **configs[args.peak_of])
        batch = run.largest_batch()
        run.step(batch)
        run.step(batch)
        if args.device == "cuda":
            peak = torch.cuda.max_memory_allocated() / 2**20
        else:  # VmHWM: this process's own peak (ru_maxrss would include the parent's, kept across exec)
            status = Path("/proc/self/status").read_text()
            peak = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024
        print(json.dumps({"peak_mb": peak}))
        return

    if args.only:
        configs = {k: v for k, v in configs.items() if args.only in k}
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else platform.processor() or platform.machine()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# torch {torch.__version__}, {name}, {os.cpu_count()} CPUs visible, load average {load:.2f} at start, "
          f"{args.rounds} timed rounds (A/B interleaved)", flush=True)
    for spread in spreads:
        measure(spread, configs, args)


if __name__ == "__main__":
    main()
