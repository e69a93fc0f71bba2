"""The training loop shared by the teachers and MFON (:func:`fit`), and what a run needs around it.

Adam over parameter groups, gradient accumulation, an epoch budget, the model kept at its best validation MSE,
optional early stopping, optional gradient clipping and LR schedule (:class:`Recipe`), CUDA and bf16 autocast when
configured. While a run trains, its resume state (:func:`mfon.layout.resume_state`) holds the state after the last
completed epoch, from which a killed run continues (:class:`ResumeState`). Every run writes the files its rule
names (:func:`mfon.layout.run_outputs`: the checkpoint, predictions, metrics and history;
:func:`write_run_outputs`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import random
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import layout
from .atomic import atomic_path
from .config import schema_default
from .data import FeatureSources, SplitData, Standardizer, collate, fit_standardizer, load_split
from .errors import MfonError
from .logutil import progress_logger
from .metrics import metrics_for
from .tsv import write_tsv

log = logging.getLogger(__name__)

RESUME_FORMAT = "mfon-resume-v1"
SPLITS = ("train", "valid", "test")
#: bucket_by_length sorts clips by length within windows of this many batches (then shuffles the batches).
BUCKET_WINDOW_BATCHES = 16


# ----------------------------------------------------------------------------------------------------------- setup
def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch; make CPU kernels deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MfonError(f"runtime.device is {name!r} but torch sees no CUDA device "
                        f"(torch {torch.__version__}; see README 'Install' for the CUDA build)")
    return torch.device(name)


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _batches(n: int, batch_size: int, generator: torch.Generator | None,
             lengths: np.ndarray | None = None) -> list[np.ndarray]:
    """Index batches: shuffled with ``generator`` (else in order). With ``lengths`` (bucketing), the shuffled
    order is sorted by length within windows of :data:`BUCKET_WINDOW_BATCHES` batches and the batches are
    shuffled again, so a batch holds clips of similar length (less padding) yet the epoch order stays random.
    Without ``generator``, ``lengths`` sorts the whole split by length (evaluation: the order of its batches
    changes no prediction)."""
    if generator is None:
        order = np.arange(n) if lengths is None else np.argsort(lengths, kind="stable")
        return [order[i:i + batch_size] for i in range(0, n, batch_size)]
    order = torch.randperm(n, generator=generator).numpy()
    if lengths is not None:
        window = batch_size * BUCKET_WINDOW_BATCHES
        order = np.concatenate([chunk[np.argsort(lengths[chunk], kind="stable")]
                                for chunk in (order[i:i + window] for i in range(0, n, window))])
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if lengths is not None:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


@dataclass
class SplitBatches:
    """Splits in memory plus how to batch them.

    ``pad_to_max``: pad every batch to ``max_len`` (paper fidelity: its triangular mask depends on it) or only
    to the batch's longest clip (fixed: masked padding changes nothing, so it is not computed).
    ``bucket_by_length``: training batches of similar total length (see :func:`_batches`). Evaluation batches
    (no generator) are always of similar length when padding is per batch: sorting them changes no prediction
    (padding is masked) but computes about half the frames at a uniform spread of lengths.
    Each batch carries ``index``: the clips' row numbers in their split.
    """

    splits: dict[str, SplitData]
    max_len: dict[str, int]
    batch_size: int
    target: str = "label"
    pad_to_max: bool = True
    bucket_by_length: bool = False

    def _lengths(self, data: SplitData, training: bool) -> np.ndarray | None:
        sort = self.bucket_by_length if training else not self.pad_to_max
        if not sort or not data.sequences:
            return None
        return np.sum([[len(s) for s in seqs] for seqs in data.sequences.values()], axis=0)

    def batches(self, split: str, generator: torch.Generator | None = None):
        data = self.splits[split]
        lengths = self._lengths(data, training=generator is not None)
        for idx in _batches(len(data), self.batch_size, generator, lengths):
            batch = collate(data, idx, self.max_len, pad_to_max=self.pad_to_max, target=self.target)
            batch["index"] = torch.from_numpy(np.asarray(idx, dtype=np.int64))
            yield batch


def load_data(sources: FeatureSources, max_len: dict[str, int], standardize: bool, modalities: tuple[str, ...],
              splits: tuple[str, ...] = SPLITS) -> tuple[dict, Standardizer | None]:
    """The splits in memory; a split left out of ``splits`` is never read (its labels included)."""
    standardizer = fit_standardizer(sources, max_len, modalities) if standardize else None
    data = {s: load_split(sources, s, max_len=max_len, standardizer=standardizer, modalities=modalities)
            for s in splits}
    return data, standardizer


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX): without it, oneDNN emulates bf16
    and autocast is slower than fp32."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's capability probes
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def device_and_bf16(runtime: dict, threads: int, fidelity: str = "fixed") -> tuple[torch.device, bool]:
    """The device and whether bf16 autocast is on; torch gets ``threads`` CPU threads.

    ``runtime.bf16`` on CPU needs native bf16 (:func:`cpu_has_bf16`) and fixed fidelity (paper mode computes
    in fp32, as the authors' code does on CPU); otherwise it is refused with a message."""
    torch.set_num_threads(max(int(threads), 1))
    device = resolve_device(runtime["device"])
    bf16 = bool(runtime.get("bf16", False))
    if bf16 and device.type == "cpu":
        if fidelity == "paper":
            raise MfonError("runtime.bf16 on CPU: fidelity paper trains in fp32 as the authors' code does; set "
                            "runtime.bf16: false (or model.fidelity: fixed)")
        if not cpu_has_bf16():
            raise MfonError("runtime.bf16: this CPU has no native bfloat16 arithmetic (AVX512-BF16 or AMX), so bf16 "
                            "autocast would be slower than fp32 here; set runtime.bf16: false")
    return device, bf16


def run_info(device: torch.device, bf16: bool, threads: int) -> dict:
    return {"device": str(device), "precision": "bf16-autocast" if bf16 else "fp32", "threads": int(threads)}


@dataclass(frozen=True)
class Recipe:
    """Optional training-recipe knobs (all off in the authors' recipe, hence refused in paper fidelity); the
    schema's training section describes them and gives their defaults."""

    grad_clip_norm: float | None = schema_default("training", "grad_clip_norm")
    lr_schedule: str = schema_default("training", "lr_schedule")
    warmup_fraction: float = schema_default("training", "warmup_fraction")
    plateau_factor: float = schema_default("training", "plateau_factor")
    plateau_patience: int = schema_default("training", "plateau_patience")

    @classmethod
    def from_training(cls, training: dict, fidelity: str) -> "Recipe":
        names = ("grad_clip_norm", "lr_schedule", "warmup_fraction", "plateau_factor", "plateau_patience")
        recipe = cls(**{k: training[k] for k in names if k in training})
        if recipe.lr_schedule not in ("none", "warmup_linear", "plateau"):
            raise MfonError(f"training.lr_schedule must be none, warmup_linear or plateau, got {recipe.lr_schedule!r}")
        if fidelity == "paper" and (recipe.grad_clip_norm is not None or recipe.lr_schedule != "none"
                                    or training.get("bucket_by_length")):
            raise MfonError("fidelity: paper trains with the authors' recipe: set training.grad_clip_norm: null, "
                            "training.lr_schedule: none and training.bucket_by_length: false")
        return recipe

    def scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int):
        if self.lr_schedule == "warmup_linear":
            warmup = max(int(round(self.warmup_fraction * total_steps)), 1)

            def factor(step: int) -> float:  # step = optimiser steps taken so far
                if step < warmup:
                    return (step + 1) / warmup
                return max(0.0, (total_steps - step) / max(total_steps - warmup, 1))

            return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        if self.lr_schedule == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=self.plateau_factor,
                                                              patience=self.plateau_patience)
        return None


# ------------------------------------------------------------------------------------------------------------ loop
@torch.no_grad()
def predict_split(model: torch.nn.Module, forward: Callable, loaders: SplitBatches, split: str, device: torch.device,
                  bf16: bool = False) -> np.ndarray:
    """Predictions for the clips of ``split``, in the split's order (whatever order its batches come in)."""
    model.eval()
    out = np.zeros(len(loaders.splits[split]), np.float64)
    for batch in loaders.batches(split):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out[batch["index"].numpy()] = forward(_to(batch, device)).float().cpu().numpy()
    return out


def _rng_state(generator: torch.Generator) -> dict:
    np_name, np_key, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {"python": random.getstate(), "numpy": (np_name, torch.from_numpy(np_key.astype(np.int64)), int(np_pos),
                                                    int(np_has_gauss), float(np_gauss)),
             "torch": torch.get_rng_state(), "batches": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, generator: torch.Generator) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    generator.set_state(state["batches"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class ResumeState:
    """Where ``fit`` keeps the state after each completed epoch, and the run it belongs to.

    ``path``: the resume file (:func:`mfon.layout.resume_state`). ``fingerprint``: a hash of everything that
    determines the run (settings, seed, input files); a file with another fingerprint is refused (logged) and
    the run starts afresh.
    """

    path: Path
    fingerprint: str

    def load(self) -> dict | None:
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a foreign or damaged file: start afresh rather than fail
            log.warning("%s: not a resume state this project wrote, or a damaged one (%s); starting from epoch 1",
                        self.path, type(exc).__name__)
            return None
        if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
            log.warning("%s: not an mfon resume state; starting from epoch 1", self.path)
            return None
        if state.get("fingerprint") != self.fingerprint:
            log.warning("%s: resume state was written by a run with other settings or inputs (fingerprint %s, "
                        "this run %s); refusing it and starting from epoch 1", self.path,
                        str(state.get("fingerprint"))[:12], self.fingerprint[:12])
            return None
        log.info("%s: resuming after epoch %d", self.path, state["epoch"])
        return state

    def save(self, state: dict) -> None:
        with atomic_path(self.path) as tmp:
            torch.save({"format": RESUME_FORMAT, "fingerprint": self.fingerprint, **state}, tmp)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def run_fingerprint(**parts) -> str:
    """A stable hash of a run's settings and inputs (JSON of ``parts``, keys sorted)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def time_left(rows: list[dict], epochs_left: int) -> str:
    """``; about 40 s to go``: the epochs left at the mean time of ``rows`` (epochs this process trained);
    an upper bound when early stopping ends the run sooner. Empty when none is left."""
    if epochs_left <= 0 or not rows:
        return ""
    seconds = epochs_left * sum(r["seconds"] for r in rows) / len(rows)
    return f"; about {seconds:.0f} s to go" if seconds < 120 else f"; about {seconds / 60:.0f} min to go"


class StopRequest:
    """Set by SIGTERM while a resumable run trains: the run stops at its next epoch boundary, its resume state
    written, instead of being killed mid-epoch or training on to the end."""

    def __init__(self):
        self.signalled = False

    def __call__(self, signum, frame) -> None:
        self.signalled = True
        progress_logger().info("SIGTERM received: stopping after this epoch, with its resume state written")


@contextmanager
def stop_at_epoch_boundary(enabled: bool):
    """Within the block, SIGTERM asks for a stop at the next epoch boundary (the main thread only: Python
    handles signals there)."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield None
        return
    request = StopRequest()
    previous = signal.signal(signal.SIGTERM, request)
    try:
        yield request
    finally:
        signal.signal(signal.SIGTERM, previous)


def fit(model: torch.nn.Module, *, loss_terms: Callable[[dict], dict[str, torch.Tensor]], forward: Callable,
        optimizer: torch.optim.Optimizer, loaders: SplitBatches, epochs: int, grad_accum: int, accumulation: str,
        patience: int | None, device: torch.device, bf16: bool, seed: int, metric_family: str,
        flush_remainder: bool = True, recipe: Recipe = Recipe(),
        resume: ResumeState | None = None) -> tuple[list[dict], int]:
    """Train for ``epochs``; keep (load back) the state with the lowest validation MSE.

    ``accumulation``: "mean" divides each micro-batch loss by ``grad_accum`` (a true average, the fixed mode);
    "sum" adds them up (what the authors' code does). ``flush_remainder``: step on the last micro-batches of an
    epoch even when fewer than ``grad_accum`` are left; False discards their gradients (the authors' loop never
    flushes them). ``resume``: continue from its state after the last completed epoch and write it after each
    epoch. Returns the history rows and the best epoch.
    """
    metric = metrics_for(metric_family)
    generator = torch.Generator().manual_seed(seed)
    valid_truth = loaders.splits["valid"].labels if loaders.target == "label" \
        else loaders.splits["valid"].unimodal_labels[loaders.target]
    n_batches_per_epoch = math.ceil(len(loaders.splits["train"]) / loaders.batch_size)
    steps_per_epoch = math.ceil(n_batches_per_epoch / grad_accum) if flush_remainder \
        else n_batches_per_epoch // grad_accum
    scheduler = recipe.scheduler(optimizer, max(steps_per_epoch * epochs, 1))
    best_loss, best_state, best_epoch, history, stale, done, first = float("inf"), None, 0, [], 0, False, 1
    state = resume.load() if resume is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        _set_rng_state(state["rng"], generator)
        best_loss, best_state, best_epoch = state["best_loss"], state["best_state"], state["best_epoch"]
        history, stale, done, first = state["history"], state["stale"], state["done"], state["epoch"] + 1
    scale = 1.0 / grad_accum if accumulation == "mean" else 1.0
    with stop_at_epoch_boundary(resume is not None) as stop:
        for epoch in range(first, epochs + 1):
            if done:
                break
            start = time.monotonic()
            model.train()
            sums: dict[str, float] = {}
            n_batches = 0
            optimizer.zero_grad(set_to_none=True)
            batches = list(loaders.batches("train", generator))
            for step, batch in enumerate(batches, start=1):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    terms = loss_terms(_to(batch, device))
                (terms["total"] * scale).backward()
                if step % grad_accum == 0 or (flush_remainder and step == len(batches)):
                    if recipe.grad_clip_norm is not None:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip_norm)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    if scheduler is not None and recipe.lr_schedule == "warmup_linear":
                        scheduler.step()
                for name, value in terms.items():
                    sums[name] = sums.get(name, 0.0) + float(value.detach())
                n_batches += 1
            optimizer.zero_grad(set_to_none=True)  # discarded remainder (flush_remainder=False)
            if not np.isfinite(sums.get("total", 0.0)):
                raise MfonError(f"training diverged at epoch {epoch}: loss is {sums['total']}")
            preds = predict_split(model, forward, loaders, "valid", device, bf16)
            valid_mse = float(np.mean((preds - valid_truth) ** 2))
            if scheduler is not None and recipe.lr_schedule == "plateau":
                scheduler.step(valid_mse)
            row = {"epoch": epoch, **{f"train_{k}": round(v / n_batches, 6) for k, v in sums.items()},
                   "valid_mse": round(valid_mse, 6),
                   **{f"valid_{k}": v for k, v in metric(preds, valid_truth).items()},
                   "seconds": round(time.monotonic() - start, 2)}
            history.append(row)
            progress_logger().info("epoch %d/%d: train loss %.4f, valid MSE %.4f (%.1f s%s)", epoch, epochs,
                                   row.get("train_total", float("nan")), valid_mse, row["seconds"],
                                   time_left(history[first - 1:], epochs - epoch))
            if valid_mse < best_loss:
                best_loss, best_epoch, stale = valid_mse, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
                if patience is not None and stale >= patience:
                    log.info("early stopping: no improvement for %d epochs", patience)
                    done = True
            if resume is not None:
                resume.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict() if scheduler is not None else None,
                             "rng": _rng_state(generator), "best_loss": best_loss, "best_state": best_state,
                             "best_epoch": best_epoch, "history": history, "stale": stale, "done": done})
            if stop is not None and stop.signalled and epoch < epochs and not done:
                raise MfonError(f"stopped by SIGTERM after epoch {epoch} of {epochs}; rerun the same command to "
                                f"continue from {resume.path}")
    model.load_state_dict(best_state)
    return history, best_epoch


def run_files(outputs) -> dict[str, Path]:
    """The files of a run (``outputs``: a mapping such as the rule's outputs, :func:`mfon.layout.run_outputs`)."""
    return {name: Path(outputs[name]) for name in layout.RUN_FILES}


def write_run_outputs(outputs: dict[str, Path], loaders: SplitBatches, preds: dict[str, np.ndarray], history: list[dict],
                   metric_family: str, info: dict) -> dict:
    metric = metrics_for(metric_family)
    rows, metrics = [], {}
    for split, pred in preds.items():
        data = loaders.splits[split]
        truth = data.labels if loaders.target == "label" else data.unimodal_labels[loaders.target]
        metrics[split] = metric(pred, truth)
        rows += [{"key": k, "split": split, "truth": round(float(t), 6), "prediction": round(float(p), 6)}
                 for k, t, p in zip(data.keys, truth, pred)]
    write_tsv(outputs["predictions"], rows, ["key", "split", "truth", "prediction"])
    columns = list(dict.fromkeys(k for row in history for k in row))
    write_tsv(outputs["history"], history, columns)
    result = {**metrics, **info}
    with atomic_path(outputs["metrics"]) as tmp:
        tmp.write_text(json.dumps(result, indent=2, sort_keys=True))
    return result
