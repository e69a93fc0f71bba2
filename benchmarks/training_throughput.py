"""Training throughput of the teachers and MFON at the paper's MOSI sizes.

    .venv/bin/python benchmarks/training_throughput.py                    # CPU (and CUDA when present)
    .venv/bin/python benchmarks/training_throughput.py --batch 32 --steps 5 --device cuda --bf16

Sizes: width 768, 8 heads, MPA 2/5 layers, teachers 4/3 layers, 500 visual frames x 20 dims, 375 acoustic
frames x 5 dims, 50 text tokens, full key-padding masks (fixed mode). The text encoder is the packaged
all-MiniLM-L6-v2 (6 layers, 384 wide): bert-base-uncased (12 layers, 768 wide) is not available offline here and
costs roughly 4-5x more in the text part. One step = forward, loss (with frozen teachers for L_va), backward and
an Adam step. Prints samples/s and peak memory per configuration.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mfon.losses import MFONLoss  # noqa: E402
from mfon.models import ModelConfig, TeacherEncoder, build_model, distillation_targets, parameter_groups  # noqa: E402

MOSI = {"d_model": 768, "d_visual": 20, "d_acoustic": 5, "max_len": {"text": 50, "visual": 500, "acoustic": 375},
        "text_model": "packaged:all-MiniLM-L6-v2"}


def make_batch(batch: int, device: torch.device) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    out = {"text_input_ids": torch.randint(1000, 20000, (batch, 50), generator=g),
           "text_attention_mask": torch.ones(batch, 50, dtype=torch.int64),
           "text_token_type_ids": torch.zeros(batch, 50, dtype=torch.int64),
           "visual": torch.randn(batch, 500, 20, generator=g), "visual_lengths": torch.full((batch,), 500),
           "acoustic": torch.randn(batch, 375, 5, generator=g), "acoustic_lengths": torch.full((batch,), 375),
           "label": torch.randn(batch, generator=g)}
    return {k: v.to(device) for k, v in out.items()}


def peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_steps(step, steps: int, device: torch.device) -> float:
    step()  # warm-up: allocations, kernel selection
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / steps


def bench(kind: str, batch: int, steps: int, device: torch.device, bf16: bool) -> tuple[float, float]:
    torch.manual_seed(0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    config = ModelConfig.from_dict(MOSI)
    data = make_batch(batch, device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    if kind.startswith("teacher"):
        modality = kind.split("/")[1]
        model = TeacherEncoder(config, modality).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)

        def step():
            with autocast:
                loss = torch.nn.functional.mse_loss(model(data[modality], data[f"{modality}_lengths"]),
                                                    data["label"])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    else:
        model = build_model(config).to(device)
        teachers = {m: TeacherEncoder(config, m).to(device).requires_grad_(False) for m in ("visual", "acoustic")}
        objective = MFONLoss({"alpha": 0.5, "beta": 0.5})
        optimizer = torch.optim.Adam([{"params": p} for p in parameter_groups(model).values() if p], lr=1e-3)

        def step():
            with autocast:
                terms = objective(model(data), data["label"], distillation_targets(teachers, data, "fixed"))
            terms["loss"].backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    seconds = time_steps(step, steps, device)
    return batch / seconds, peak_mb(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or platform.machine()
    print(f"# torch {torch.__version__}, {name}, CPU threads {torch.get_num_threads()}, batch {args.batch}")
    print(f"{'model':18s} {'device':6s} {'precision':9s} {'samples/s':>10s} {'peak MB':>9s}")
    for device in devices:
        for bf16 in ([False, True] if device.type == "cuda" else [False]):
            for kind in ("teacher/visual", "teacher/acoustic", "mfon"):
                rate, peak = bench(kind, args.batch, args.steps, device, bf16)
                print(f"{kind:18s} {device.type:6s} {'bf16' if bf16 else 'fp32':9s} {rate:10.2f} {peak:9.0f}",
                      flush=True)


if __name__ == "__main__":
    main()
