"""Training and evaluation of unimodal teachers and MFON models, with checkpoints that say how they were made.

One loop (:func:`fit`) serves both: Adam over parameter groups, gradient accumulation, an epoch budget, the model
kept at its best validation MSE, optional early stopping, optional gradient clipping and LR schedule, CUDA and
bf16 autocast when configured. Every run writes the files its rule names (:func:`mfon.layout.run_outputs`: the
checkpoint, predictions, metrics and history); while it runs, its resume state (:func:`mfon.layout.resume_state`)
holds the state after the last completed epoch, from which a killed run continues (:class:`ResumeState`).

In ``fixed`` fidelity a teacher's pooled vectors are computed once per clip (:func:`write_teacher_targets`) and
read back by every MFON run; batches are padded to their own longest clip only.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import torch

from . import layout
from .atomic import atomic_path
from .tsv import write_tsv
from .data import FeatureSources, SplitData, Standardizer, collate, feature_dims, fit_standardizer, load_split, \
    split_counts
from .errors import MfonError
from .logutil import progress_logger
from .losses import MFONLoss
from .metrics import metrics_for
from .models import ModelConfig, TeacherEncoder, build_model, distillation_targets, parameter_groups
from .provenance import file_sha256, package_versions

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "mfon-checkpoint-v1"
RESUME_FORMAT = "mfon-resume-v1"
TARGETS_FORMAT = "mfon-teacher-targets-v1"
SPLITS = ("train", "valid", "test")
#: The authors train their teachers with 4 summed micro-batches per optimiser step (paper fidelity).
PAPER_TEACHER_GRAD_ACCUM = 4
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
    shuffled again, so a batch holds clips of similar length (less padding) yet the epoch order stays random."""
    order = torch.randperm(n, generator=generator).numpy() if generator is not None else np.arange(n)
    if lengths is not None:
        window = batch_size * BUCKET_WINDOW_BATCHES
        order = np.concatenate([chunk[np.argsort(lengths[chunk], kind="stable")]
                                for chunk in (order[i:i + window] for i in range(0, n, window))])
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if lengths is not None and generator is not None:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


@dataclass
class SplitBatches:
    """Splits in memory plus how to batch them.

    ``pad_to_max``: pad every batch to ``max_len`` (paper fidelity: its triangular mask depends on it) or only
    to the batch's longest clip (fixed: masked padding changes nothing, so it is not computed).
    ``bucket_by_length``: training batches of similar total length (see :func:`_batches`).
    Each batch carries ``index``: the clips' row numbers in their split.
    """

    splits: dict[str, SplitData]
    max_len: dict[str, int]
    batch_size: int
    target: str = "label"
    pad_to_max: bool = True
    bucket_by_length: bool = False

    def _lengths(self, data: SplitData) -> np.ndarray | None:
        if not self.bucket_by_length or not data.sequences:
            return None
        return np.sum([[len(s) for s in seqs] for seqs in data.sequences.values()], axis=0)

    def batches(self, split: str, generator: torch.Generator | None = None):
        data = self.splits[split]
        lengths = self._lengths(data) if generator is not None else None
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


def _runtime(runtime: dict, threads: int) -> tuple[torch.device, bool]:
    """The device and whether bf16 autocast is on (CUDA only); torch gets ``threads`` CPU threads."""
    torch.set_num_threads(max(int(threads), 1))
    device = resolve_device(runtime["device"])
    return device, bool(runtime.get("bf16", False)) and device.type == "cuda"


def _run_info(device: torch.device, bf16: bool, threads: int) -> dict:
    return {"device": str(device), "precision": "bf16-autocast" if bf16 else "fp32", "threads": int(threads)}


@dataclass(frozen=True)
class Recipe:
    """Optional training-recipe knobs (all off in the authors' recipe, hence refused in paper fidelity)."""

    grad_clip_norm: float | None = None
    lr_schedule: str = "none"          # none | warmup_linear | plateau
    warmup_fraction: float = 0.1       # warmup_linear: share of the optimiser steps spent warming up
    plateau_factor: float = 0.5        # plateau: LR multiplier after plateau_patience epochs without progress
    plateau_patience: int = 2

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
    model.eval()
    out = []
    for batch in loaders.batches(split):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16 and device.type == "cuda"):
            out.append(forward(_to(batch, device)).float().cpu())
    return torch.cat(out).numpy().astype(np.float64)


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
            log.warning("%s: unreadable resume state (%s); starting from epoch 1", self.path, exc)
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


def fit(model: torch.nn.Module, *, loss_terms: Callable[[dict], dict[str, torch.Tensor]], forward: Callable,
        optimizer: torch.optim.Optimizer, loaders: SplitBatches, epochs: int, grad_accum: int, accumulation: str,
        patience: int | None, device: torch.device, bf16: bool, seed: int, metric_family: str,
        on_train: Callable[[], None] | None = None, flush_remainder: bool = True, recipe: Recipe = Recipe(),
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
    for epoch in range(first, epochs + 1):
        if done:
            break
        start = time.monotonic()
        model.train()
        if on_train is not None:
            on_train()
        sums: dict[str, float] = {}
        n_batches = 0
        optimizer.zero_grad(set_to_none=True)
        batches = list(loaders.batches("train", generator))
        for step, batch in enumerate(batches, start=1):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16 and device.type == "cuda"):
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
               "valid_mse": round(valid_mse, 6), **{f"valid_{k}": v for k, v in metric(preds, valid_truth).items()},
               "seconds": round(time.monotonic() - start, 2)}
        history.append(row)
        progress_logger().info("epoch %d/%d: train loss %.4f, valid MSE %.4f (%.1f s)", epoch, epochs,
                 row.get("train_total", float("nan")), valid_mse, row["seconds"])
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
    model.load_state_dict(best_state)
    return history, best_epoch


# ------------------------------------------------------------------------------------------------------ checkpoint
def save_checkpoint(path: Path, *, kind: str, model: torch.nn.Module, config: dict, provenance: dict,
                    standardizer: Standardizer | None, extra: dict | None = None) -> None:
    state = {"format": CHECKPOINT_FORMAT, "kind": kind, "state_dict": model.state_dict(), "config": config,
             "provenance": provenance, "standardizer": standardizer.to_state() if standardizer else None,
             "versions": package_versions(), **(extra or {})}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, *, kind: str | None = None, sources: FeatureSources | None = None,
                    modalities: tuple[str, ...] = ("text", "visual", "acoustic")) -> dict:
    """Load a checkpoint safely (tensors and plain data only) and check it fits ``sources``."""
    path = Path(path)
    if not path.is_file():
        raise MfonError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for foreign or corrupt files
        raise MfonError(f"{path}: not a loadable mfon checkpoint ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise MfonError(f"{path}: not an mfon checkpoint (format {state.get('format') if isinstance(state, dict) else type(state)})")
    if kind is not None and state["kind"] != kind:
        raise MfonError(f"{path}: is a {state['kind']} checkpoint, expected {kind}")
    if sources is not None:
        checked = tuple(m for m in modalities if m in state["provenance"])
        current = sources.provenance(checked)
        for modality in checked:
            made, now = state["provenance"][modality], current[modality]
            if made["config_hash"] != now["config_hash"] or made["dims"] != now["dims"]:
                raise MfonError(
                    f"{path}: was trained on {modality} features made with other settings "
                    f"({made['feature_set']}, {made['dims']} dims, config {made['config_hash'][:12]}) than "
                    f"{getattr(sources, modality)} ({now['feature_set']}, {now['dims']} dims, "
                    f"config {now['config_hash'][:12]}); retrain it or use the matching features")
    return state


def stored_model_config(path: Path, state: dict) -> ModelConfig:
    """The model config a checkpoint stores, or a message saying why it is not valid."""
    try:
        return ModelConfig.from_dict(state["config"]["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MfonError(f"{path}: its stored model config is not valid ({exc})") from exc


def built_from_checkpoint(path: Path, build):
    """The network the checkpoint's stored config describes, or a message saying why it cannot be built."""
    try:
        return build()
    except (KeyError, TypeError, ValueError, AssertionError, RuntimeError) as exc:
        raise MfonError(f"{path}: its stored model config cannot build a model ({type(exc).__name__}: {exc})") from exc


def fit_weights(path: Path, model: torch.nn.Module, weights: dict) -> torch.nn.Module:
    """Load ``weights`` into ``model`` (built from the checkpoint's stored config) or say what does not fit."""
    expected = model.state_dict()
    shapes = [f"{name} is {tuple(weights[name].shape)} in the weights but {tuple(t.shape)} by the config"
              for name, t in expected.items() if name in weights and tuple(weights[name].shape) != tuple(t.shape)]
    missing = [name for name in expected if name not in weights]
    unexpected = [name for name in weights if name not in expected]

    def listed(items: list[str]) -> str:
        return "; ".join(items[:3]) + (f"; and {len(items) - 3} more" if len(items) > 3 else "")

    parts = [f"{len(shapes)} tensor(s) of another shape ({listed(shapes)})" if shapes else "",
             f"{len(missing)} tensor(s) the config needs are not in the weights ({listed(missing)})" if missing else "",
             f"{len(unexpected)} tensor(s) in the weights have no place in the config ({listed(unexpected)})"
             if unexpected else ""]
    if any(parts):
        raise MfonError(f"{path}: its stored model config does not fit its weights: "
                        + ", ".join(p for p in parts if p)
                        + ". The checkpoint was edited or put together from two runs; retrain the run")
    model.load_state_dict(weights)
    return model


def load_mfon_model(path: Path, *, sources: FeatureSources | None = None) -> tuple[torch.nn.Module, dict]:
    """An MFON checkpoint's network in eval mode (built from its stored config, the weights checked against it)
    and the checkpoint's state; with ``sources``, refused when trained on other features."""
    state = load_checkpoint(path, kind="mfon", sources=sources)
    config = stored_model_config(path, state)
    model = fit_weights(path, built_from_checkpoint(path, lambda: build_model(config)), state["state_dict"])
    model.eval()
    return model, state


def run_files(outputs) -> dict[str, Path]:
    """The files of a run (``outputs``: a mapping such as the rule's outputs, :func:`mfon.layout.run_outputs`)."""
    return {name: Path(outputs[name]) for name in layout.RUN_FILES}


def _write_outputs(outputs: dict[str, Path], loaders: SplitBatches, preds: dict[str, np.ndarray], history: list[dict],
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


def _adam(groups: dict[str, list], lr: dict[str, float], weight_decay: dict[str, float], amsgrad: bool):
    params = [{"params": p, "lr": lr[name], "weight_decay": weight_decay[name], "name": name}
              for name, p in groups.items() if p]
    return torch.optim.Adam(params, amsgrad=amsgrad)





# --------------------------------------------------------------------------------------------------------- teacher
def train_teacher(sources: FeatureSources, modality: str, *, model: dict, training: dict, runtime: dict, seed: int,
                  outputs: dict, metric_family: str = "mosi", threads: int = 1) -> dict:
    """Train the unimodal teacher of ``modality`` ("visual" or "acoustic") on the sentiment label.

    ``training["label"] == "unimodal"`` trains on the modality's own label (CH-SIMS label_V / label_A).
    ``outputs``: where the run's files go (:func:`mfon.layout.run_outputs`, the rule's outputs).
    ``threads``: torch CPU threads (the job's scheduler allotment; not a setting of the result).
    """
    outputs = run_files(outputs)
    seed_everything(seed)
    device, bf16 = _runtime(runtime, threads)
    max_len = {modality: model["max_len"][modality]}
    splits, standardizer = load_data(sources, max_len, training["standardize"], (modality,))
    target = modality if training["label"] == "unimodal" else "label"
    if target != "label" and modality not in splits["train"].unimodal_labels:
        raise MfonError(f"teacher_training.label 'unimodal' needs column label_{modality[0].upper()} filled in "
                        f"{sources.manifest}")
    config = ModelConfig.from_dict({**model, f"d_{modality}": feature_dims(sources, (modality,))[modality],
                                    "modalities": [modality], "guide": modality})
    paper = config.fidelity == "paper"
    loaders = SplitBatches(splits, max_len, training["batch_size"], target=target, pad_to_max=paper)
    teacher = TeacherEncoder(config, modality).to(device)
    optimizer = torch.optim.Adam(teacher.parameters(), lr=training["lr"], weight_decay=training["weight_decay"],
                                 amsgrad=training["amsgrad"])

    def forward(batch):
        return teacher(batch[modality], batch[f"{modality}_lengths"])

    def loss_terms(batch):
        return {"total": torch.nn.functional.mse_loss(forward(batch), batch["label"])}

    run_config = {"model": config.to_dict(), "training": training, "modality": modality, "seed": seed}
    resume = ResumeState(layout.resume_state(outputs), run_fingerprint(kind="teacher", config=run_config,
                                                                provenance=sources.provenance((modality,))))
    history, best_epoch = fit(teacher, loss_terms=loss_terms, forward=forward, optimizer=optimizer,
                              loaders=loaders, epochs=training["epochs"],
                              grad_accum=PAPER_TEACHER_GRAD_ACCUM if paper else 1,
                              accumulation="sum" if paper else "mean", flush_remainder=not paper,
                              patience=training["early_stopping_patience"], device=device, bf16=bf16, seed=seed,
                              metric_family=metric_family, resume=resume)
    preds = {s: predict_split(teacher, forward, loaders, s, device, bf16) for s in ("valid", "test")}
    info = _run_info(device, bf16, threads)
    save_checkpoint(outputs["checkpoint"], kind="teacher", model=teacher.cpu(), config=run_config,
                    provenance=sources.provenance((modality,)), standardizer=standardizer, extra={"run": info})
    result = _write_outputs(outputs, loaders, preds, history, metric_family, {
        "kind": "teacher", "modality": modality, "seed": seed, "best_epoch": best_epoch,
        "clips": split_counts(sources), **info})
    resume.remove()
    return result


def load_teacher(path: Path, sources: FeatureSources, d_model: int) -> TeacherEncoder:
    """A frozen teacher; refuses one trained on other features or with another width."""
    teacher, _ = _load_teacher_state(path, sources, d_model)
    return teacher


def _load_teacher_state(path: Path, sources: FeatureSources, d_model: int | None) -> tuple[TeacherEncoder, dict]:
    state = load_checkpoint(path, kind="teacher", sources=sources, modalities=("visual", "acoustic"))
    config = ModelConfig.from_dict(state["config"]["model"])
    if d_model is not None and config.d_model != d_model:
        raise MfonError(f"{path}: teacher width d_model={config.d_model} does not match the MFON model's "
                        f"d_model={d_model}; retrain the teachers with the same model.d_model")
    with torch.random.fork_rng(devices=[]):  # its init is overwritten: it must not move the run's RNG
        teacher = TeacherEncoder(config, state["config"]["modality"])
    teacher.load_state_dict(state["state_dict"])
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher, state


# ------------------------------------------------------------------------------------------------ teacher targets
@torch.no_grad()
def teacher_vectors(teacher: TeacherEncoder, data: SplitData, batch_size: int = 64) -> np.ndarray:
    """The teacher's pooled vector of every clip of ``data`` in eval mode: (N, d) float32.

    Batches are padded to their longest clip: with fixed-fidelity masks the padding changes nothing.
    """
    was_training = teacher.training
    teacher.eval()
    modality = teacher.modality
    out = []
    try:
        for i in range(0, len(data), batch_size):
            batch = collate(data, np.arange(i, min(i + batch_size, len(data))), {}, pad_to_max=False)
            out.append(teacher.encode(batch[modality], batch[f"{modality}_lengths"]).float().numpy())
    finally:
        teacher.train(was_training)
    return np.concatenate(out).astype(np.float32)


def teacher_split_vectors(checkpoint: Path, sources: FeatureSources, splits: tuple[str, ...] = SPLITS,
                          d_model: int | None = None) -> tuple[TeacherEncoder, dict[str, tuple[list[str], np.ndarray]]]:
    """A fixed-fidelity teacher and its pooled vector for every usable clip of ``splits``: split -> (keys, (N, d)).

    The clips get the teacher's own truncation (its max_len) and standardisation (from its checkpoint), exactly
    as in its training and as its forward inside MFON training would see them.
    """
    teacher, state = _load_teacher_state(checkpoint, sources, d_model)
    if not teacher.use_masks:
        raise MfonError(f"{checkpoint}: a paper-fidelity teacher; its vectors are recomputed in train mode at "
                        "every step and are not cached")
    modality = teacher.modality
    standardizer = Standardizer.from_state(state["standardizer"]) if state["standardizer"] else None
    out = {}
    for split in splits:
        data = load_split(sources, split, max_len={modality: teacher.max_len}, standardizer=standardizer,
                          modalities=(modality,))
        out[split] = (data.keys, teacher_vectors(teacher, data))
    return teacher, out


def write_teacher_targets(checkpoint: Path, sources: FeatureSources, out_path: Path, *, threads: int = 1,
                          splits: tuple[str, ...] = SPLITS) -> dict:
    """Store a fixed-fidelity teacher's vectors (:func:`teacher_split_vectors`) for every clip of ``splits``.

    ``out_path`` (HDF5): per split a group with ``keys`` and ``vectors`` (N, d); root attributes name the
    teacher checkpoint (SHA-256), its modality and width, and the features it read.
    """
    torch.set_num_threads(max(int(threads), 1))
    teacher, vectors = teacher_split_vectors(checkpoint, sources, splits)
    provenance = sources.provenance((teacher.modality,))
    with atomic_path(out_path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs.update({"format": TARGETS_FORMAT, "modality": teacher.modality,
                         "d_model": teacher.proj.out_features, "teacher_sha256": file_sha256(Path(checkpoint)),
                         "features_config_hash": provenance[teacher.modality]["config_hash"],
                         "manifest_sha256": provenance["manifest_sha256"],
                         "versions": json.dumps(package_versions(), sort_keys=True)})
        for split, (keys, values) in vectors.items():
            group = h5.create_group(split)
            group.create_dataset("keys", data=np.array(keys, dtype=object), dtype=h5py.string_dtype())
            group.create_dataset("vectors", data=values)
    counts = {split: len(keys) for split, (keys, _) in vectors.items()}
    log.info("%s: %s teacher vectors of %s", out_path, teacher.modality, counts)
    return counts


def _aligned(keys: list[str], vectors: np.ndarray, data: SplitData, source: Path) -> torch.Tensor:
    """Rows of ``vectors`` (one per key) in the order of ``data``'s clips; names a missing clip."""
    row = {k: i for i, k in enumerate(keys)}
    missing = [k for k in data.keys if k not in row]
    if missing:
        raise MfonError(f"{source}: no teacher vector for clip {missing[0]} ({len(missing)} missing in split "
                        f"{data.split}); rerun its teacher_targets step")
    return torch.from_numpy(np.ascontiguousarray(vectors[[row[k] for k in data.keys]]))


def read_teacher_targets(path: Path, sources: FeatureSources, modality: str, d_model: int,
                         data: SplitData) -> torch.Tensor:
    """The stored teacher vectors of the clips of ``data``, in its order: (N, d).

    Refuses a file of another modality or width, or made from other features, and names a missing clip.
    """
    path = Path(path)
    if not path.is_file():
        raise MfonError(f"teacher targets not found: {path}")
    provenance = sources.provenance((modality,))
    with h5py.File(path, "r") as h5:
        attrs = dict(h5.attrs)
        if attrs.get("format") != TARGETS_FORMAT:
            raise MfonError(f"{path}: not an mfon teacher-targets file")
        if attrs["modality"] != modality or int(attrs["d_model"]) != d_model:
            raise MfonError(f"{path}: holds {attrs['modality']} vectors of width {int(attrs['d_model'])}, "
                            f"expected {modality} of width {d_model}")
        if attrs["features_config_hash"] != provenance[modality]["config_hash"] \
                or attrs["manifest_sha256"] != provenance["manifest_sha256"]:
            raise MfonError(f"{path}: was computed from other {modality} features or another manifest than "
                            f"{getattr(sources, modality)}; rerun its teacher_targets step")
        if data.split not in h5:
            raise MfonError(f"{path}: has no vectors for split {data.split!r}")
        keys = [k.decode() if isinstance(k, bytes) else str(k) for k in h5[data.split]["keys"][()]]
        vectors = h5[data.split]["vectors"][()]
    return _aligned(keys, vectors, data, path)


# ------------------------------------------------------------------------------------------------------------ MFON
def split_teacher_files(files: dict[str, Path]) -> tuple[dict[str, Path], dict[str, Path]]:
    """(checkpoints, stored targets) of modality -> teacher file, told apart by the names the layout gives them:
    a teacher's checkpoint (:func:`save_checkpoint`) or its stored vectors (:func:`write_teacher_targets`)."""
    files = {m: Path(p) for m, p in files.items()}
    checkpoint, targets = layout.RUN_FILES["checkpoint"], layout.TEACHER_TARGETS_FILE
    unknown = [str(p) for p in files.values() if p.name not in (checkpoint, targets)]
    if unknown:
        raise MfonError(f"{unknown[0]}: neither a teacher checkpoint ({checkpoint}) nor stored teacher targets "
                        f"({targets})")
    return ({m: p for m, p in files.items() if p.name == checkpoint},
            {m: p for m, p in files.items() if p.name == targets})


def train_mfon(sources: FeatureSources, teachers: dict[str, Path], *, model: dict, training: dict, loss: dict,
               runtime: dict, seed: int, outputs: dict, metric_family: str = "mosi", variant: str = "mfon",
               eval_splits: tuple[str, ...] = ("valid", "test"), threads: int = 1,
               teacher_targets: dict[str, Path] | None = None) -> dict:
    """Train one MFON variant, distilling from frozen teachers.

    ``teachers``: modality -> teacher checkpoint. ``teacher_targets``: modality -> stored teacher vectors
    (:func:`write_teacher_targets`), fixed fidelity only; a modality given only as a checkpoint has its vectors
    computed once here the same way. In paper fidelity the checkpoints are run in train mode at every step.
    ``eval_splits=("valid",)`` (hyperparameter search) never reads the test split at all.
    ``outputs``: where the run's files go (:func:`mfon.layout.run_outputs`, the rule's outputs).
    ``threads``: torch CPU threads (the job's scheduler allotment; not a setting of the result).
    """
    outputs = run_files(outputs)
    seed_everything(seed)
    device, bf16 = _runtime(runtime, threads)
    used = tuple(m for m in ("text", "visual", "acoustic") if m in model["modalities"])  # nothing else is read
    max_len = {m: model["max_len"][m] for m in ("visual", "acoustic") if m in used}
    splits, standardizer = load_data(sources, max_len, training["standardize"], used, ("train", *eval_splits))
    dims = feature_dims(sources, used)
    config = ModelConfig.from_dict({**model, **{f"d_{m}": d for m, d in dims.items()}})
    paper = config.fidelity == "paper"
    recipe = Recipe.from_training(training, config.fidelity)
    loaders = SplitBatches(splits, max_len, training["batch_size"], pad_to_max=paper,
                      bucket_by_length=bool(training.get("bucket_by_length", False)))
    net = build_model(config).to(device)
    objective = MFONLoss(loss)
    teacher_targets = dict(teacher_targets or {})
    if paper and teacher_targets:
        raise MfonError("fidelity: paper recomputes the teachers' vectors at every step (in train mode); "
                        "pass teacher checkpoints, not stored targets")
    frozen, cached = {}, {}
    for m, path in teachers.items():
        if paper:
            frozen[m] = load_teacher(path, sources, config.d_model).to(device)
        elif m not in teacher_targets:  # computed once here, as the teacher_targets step would
            _, vectors = teacher_split_vectors(path, sources, ("train",), config.d_model)
            cached[m] = _aligned(*vectors["train"], splits["train"], Path(path)).to(device)
    for m, path in teacher_targets.items():
        cached[m] = read_teacher_targets(path, sources, m, config.d_model, splits["train"]).to(device)

    def forward(batch):
        return net(batch).prediction

    def loss_terms(batch):
        output = net(batch)
        if paper:
            targets = distillation_targets(frozen, batch, config.fidelity) if frozen else {}
        else:
            targets = {m: vectors[batch["index"]] for m, vectors in cached.items()}
        terms = objective(output, batch["label"], targets)
        return {"total": terms.pop("loss"), **terms}

    groups = parameter_groups(net)
    optimizer = _adam(groups, training["lr"], training["weight_decay"], training["amsgrad"])
    run_config = {"model": config.to_dict(), "training": training, "loss": loss, "seed": seed, "variant": variant}
    inputs = {m: file_sha256(Path(p)) for m, p in sorted({**teachers, **teacher_targets}.items())}
    resume = ResumeState(layout.resume_state(outputs), run_fingerprint(
        kind="mfon", config=run_config, provenance=sources.provenance(used), teachers=inputs,
        eval_splits=list(eval_splits)))
    history, best_epoch = fit(net, loss_terms=loss_terms, forward=forward, optimizer=optimizer, loaders=loaders,
                              epochs=training["epochs"], grad_accum=training["grad_accum"],
                              accumulation="sum" if paper else "mean", flush_remainder=not paper,
                              patience=training["early_stopping_patience"], device=device, bf16=bf16, seed=seed,
                              metric_family=metric_family, recipe=recipe, resume=resume)
    preds = {s: predict_split(net, forward, loaders, s, device, bf16) for s in eval_splits}
    info = _run_info(device, bf16, threads)
    save_checkpoint(outputs["checkpoint"], kind="mfon", model=net.cpu(), config=run_config,
                    provenance=sources.provenance(used), standardizer=standardizer, extra={"run": info})
    result = _write_outputs(outputs, loaders, preds, history, metric_family, {
        "kind": "mfon", "variant": variant, "seed": seed, "best_epoch": best_epoch,
        "clips": split_counts(sources), **info})
    resume.remove()
    return result
