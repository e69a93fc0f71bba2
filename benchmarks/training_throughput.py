"""Training throughput of MFON and its teachers at the paper's MOSI sizes, optimised vs unoptimised, side by side.

    .venv/bin/python benchmarks/training_throughput.py                      # CPU, 2 threads, A/B interleaved
    .venv/bin/python benchmarks/training_throughput.py --device cuda        # GPU: fp32 vs bf16, fused vs math SDPA

Sizes: width 768, 8 heads, MPA 2/5 layers, teachers 4/3 layers, visual 20 dims (max 500 frames), acoustic 5 dims
(max 375 frames), text up to 50 tokens. The synthetic clips have a MOSI-like spread of lengths, not all at
max_len: durations log-normal with a median of 3.5 s (MOSI's segments average about 4 s), at 15 visual and 11.4
acoustic frames per second (500 / 375 frames = 33 s, MOSI's longest), text 8-50 tokens. The text encoder is the
packaged all-MiniLM-L6-v2 (bert-base-uncased is not available offline here and costs roughly 4-5x more in the
text part). One step = forward, loss (L_task + L_va + L_ICL), backward and an Adam step, on the batches the
training loader makes (``mfon.training.SplitBatches``).

CPU configurations, each step timed in turn (A/B interleaved, same batches), median over the rounds:
  mfon fixed, optimised    batch padded to its longest clip, stored teacher vectors, --threads threads,
                           last layer of each pooled stack at position 0 only (what training does now)
  mfon fixed, optimised, 1 thread   the same on one thread (what the work saved gives without the threads)
  mfon fixed, unoptimised  padded to max_len, teachers run at every step, 1 thread, full last layer (before)
  mfon paper               the authors' semantics: padded to max_len, teachers in train mode every step
  teacher/<m>              optimised (padded to longest, --threads, position 0) vs unoptimised
The one-off cost of storing the teacher vectors is printed too. Peak memory: each configuration alone for two
steps in a fresh process (its peak RSS, VmHWM, on CPU; torch's peak allocation on CUDA). On a machine busier
than its cores, the 2-thread figures suffer most (a parallel region waits for its slowest thread): check
``uptime`` and compare the 1-thread rows.

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

from mfon.data import SplitData  # noqa: E402
from mfon.losses import MFONLoss  # noqa: E402
from mfon.models import CrossModalEncoder, ModelConfig, TeacherEncoder, build_model, distillation_targets, \
    parameter_groups  # noqa: E402
from mfon.teacher_targets import teacher_vectors  # noqa: E402
from mfon.training import SplitBatches  # noqa: E402

MOSI = {"d_model": 768, "d_visual": 20, "d_acoustic": 5, "max_len": {"text": 50, "visual": 500, "acoustic": 375},
        "text_model": "packaged:all-MiniLM-L6-v2"}
FRAMES_PER_SECOND = {"visual": 15.0, "acoustic": 11.4}


def synthetic_split(n: int, seed: int = 0) -> SplitData:
    """``n`` MOSI-shaped clips with a realistic spread of lengths."""
    rng = np.random.default_rng(seed)
    seconds = rng.lognormal(np.log(3.5), 0.6, size=n)
    sequences = {}
    for m, dims in (("visual", 20), ("acoustic", 5)):
        lengths = np.clip(np.round(seconds * FRAMES_PER_SECOND[m]), 1, MOSI["max_len"][m]).astype(int)
        sequences[m] = [rng.normal(size=(t, dims)).astype(np.float32) for t in lengths]
    text_len = np.clip(np.round(rng.lognormal(np.log(18), 0.4, size=n)), 8, 50).astype(int)
    ids = np.zeros((n, 50), np.int64)
    mask = np.zeros((n, 50), np.int64)
    for i, t in enumerate(text_len):
        ids[i, :t] = rng.integers(1000, 20000, size=t)
        ids[i, 0], ids[i, t - 1] = 101, 102
        mask[i, :t] = 1
    return SplitData(split="train", keys=[f"c{i}" for i in range(n)], labels=rng.normal(size=n).astype(np.float32),
                     text={"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
                     sequences=sequences)


@contextlib.contextmanager
def full_last_layer():
    """Every stack computes all query positions in its last layer (callers still pool position 0)."""
    original = CrossModalEncoder.forward

    def forward(self, *args, first_only=False, **kwargs):
        return original(self, *args, **kwargs)

    CrossModalEncoder.forward = forward
    try:
        yield
    finally:
        CrossModalEncoder.forward = original


class Run:
    """One configuration: its model, optimiser and batches; ``step()`` trains on the next batch."""

    def __init__(self, kind: str, optimised: bool, data: SplitData, batch: int, threads: int,
                 device: torch.device, bf16: bool = False, fused: bool = True, fidelity: str = "fixed"):
        torch.manual_seed(0)
        self.kind, self.optimised, self.threads, self.device = kind, optimised, threads, device
        self.bf16, self.fused = bf16, fused
        config = ModelConfig.from_dict({**MOSI, "fidelity": fidelity})
        pad_to_max = fidelity == "paper" or not optimised
        self.loaders = SplitBatches({"train": data}, MOSI["max_len"], batch, pad_to_max=pad_to_max)
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
            stack.enter_context(full_last_layer())
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

    def step(self) -> float:
        """Seconds of one training step (batch building included, as in training)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        batch = self.next_batch()
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


def cpu_runs(args) -> dict[str, dict]:
    cpu = torch.device("cpu")
    return {
        "mfon fixed, optimised": dict(kind="mfon", optimised=True, threads=args.threads, device=cpu),
        "mfon fixed, optimised, 1 thread": dict(kind="mfon", optimised=True, threads=1, device=cpu),
        "mfon fixed, unoptimised": dict(kind="mfon", optimised=False, threads=1, device=cpu),
        "mfon paper": dict(kind="mfon", optimised=True, threads=args.threads, device=cpu, fidelity="paper"),
        **{f"teacher/{m}, {'optimised' if o else 'unoptimised'}":
           dict(kind=f"teacher/{m}", optimised=o, threads=args.threads if o else 1, device=cpu)
           for m in ("visual", "acoustic") for o in (True, False)},
    }


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


def peak_memory_mb(name: str, args) -> float:
    """Peak memory of configuration ``name`` run alone for two steps in a fresh process."""
    cmd = [sys.executable, __file__, "--peak-of", name, "--batch", str(args.batch), "--threads", str(args.threads),
           "--device", args.device]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate()
    if proc.returncode:
        return float("nan")
    return float(json.loads(out.strip().splitlines()[-1])["peak_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="timed steps per configuration (after a warm-up)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of the optimised configurations")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--only", default=None, help="run only configurations whose name contains this")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-configuration peak memory runs")
    parser.add_argument("--peak-of", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    configs = cuda_runs(args) if args.device == "cuda" else cpu_runs(args)
    data = synthetic_split(args.batch * (args.rounds + 1))

    if args.peak_of:  # child process of peak_memory_mb
        run = Run(data=data, batch=args.batch, **configs[args.peak_of])
        run.step()
        run.step()
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
    lengths = {m: np.array([len(s) for s in data.sequences[m]]) for m in ("visual", "acoustic")}
    print(f"# torch {torch.__version__}, {name}, {os.cpu_count()} CPUs visible, batch {args.batch}, "
          f"{args.rounds} timed rounds (A/B interleaved), clip lengths visual median {int(np.median(lengths['visual']))} "
          f"(max 500), acoustic median {int(np.median(lengths['acoustic']))} (max 375)", flush=True)
    peaks = {n: float("nan") if args.no_memory else peak_memory_mb(n, args) for n in configs}  # before we grow
    runs = {n: Run(data=data, batch=args.batch, **c) for n, c in configs.items()}
    for run in runs.values():  # warm-up: allocations, kernel selection
        run.step()
    times: dict[str, list[float]] = {n: [] for n in runs}
    for _ in range(args.rounds):
        for n, run in runs.items():
            times[n].append(run.step())
    rate = {n: args.batch / statistics.median(t) for n, t in times.items()}
    print(f"{'configuration':44s} {'threads':>7s} {'samples/s':>10s} {'peak MB':>8s}")
    for n, run in runs.items():
        print(f"{n:44s} {run.threads:7d} {rate[n]:10.2f} {peaks[n]:8.0f}", flush=True)
        if run.setup_seconds:
            print(f"{'':44s} (storing teacher vectors once: {1e3 * run.setup_seconds / len(data):.1f} ms per clip)")
    for fast, slow in (("mfon fixed, optimised", "mfon fixed, unoptimised"),
                       ("mfon fixed, optimised, 1 thread", "mfon fixed, unoptimised"),
                       ("teacher/visual, optimised", "teacher/visual, unoptimised"),
                       ("teacher/acoustic, optimised", "teacher/acoustic, unoptimised")):
        if fast in rate and slow in rate:
            print(f"speed-up {fast} vs {slow}: {rate[fast] / rate[slow]:.2f}x")


if __name__ == "__main__":
    main()
