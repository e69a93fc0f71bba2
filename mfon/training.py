"""Training and evaluation of unimodal teachers and MFON models, with checkpoints that say how they were made.

One loop (:func:`fit`) serves both: Adam over parameter groups, gradient accumulation, an epoch budget, the model
kept at its best validation MSE, optional early stopping, CUDA and bf16 autocast when configured. Every run writes
``checkpoint.pt``, ``predictions.tsv``, ``metrics.json`` and ``history.tsv`` into its folder.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .atomic import atomic_path
from .tsv import write_tsv
from .data import FeatureSources, SplitData, Standardizer, collate, feature_dims, fit_standardizer, load_split, \
    split_counts
from .errors import MfonError
from .logutil import progress_logger
from .losses import MFONLoss
from .metrics import metrics_for
from .models import ModelConfig, TeacherEncoder, build_model, distillation_targets, parameter_groups
from .provenance import package_versions

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "mfon-checkpoint-v1"
SPLITS = ("train", "valid", "test")


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


def _batches(n: int, batch_size: int, generator: torch.Generator | None) -> list[np.ndarray]:
    order = torch.randperm(n, generator=generator).numpy() if generator is not None else np.arange(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


@dataclass
class Loaders:
    """Splits in memory plus how to batch them."""

    splits: dict[str, SplitData]
    max_len: dict[str, int]
    batch_size: int
    target: str = "label"

    def batches(self, split: str, generator: torch.Generator | None = None):
        data = self.splits[split]
        for idx in _batches(len(data), self.batch_size, generator):
            yield collate(data, idx, self.max_len, target=self.target)


def load_data(sources: FeatureSources, max_len: dict[str, int], standardize: bool, modalities: tuple[str, ...],
              splits: tuple[str, ...] = SPLITS) -> tuple[dict, Standardizer | None]:
    """The splits in memory; a split left out of ``splits`` is never read (its labels included)."""
    standardizer = fit_standardizer(sources, max_len, modalities) if standardize else None
    data = {s: load_split(sources, s, max_len=max_len, standardizer=standardizer, modalities=modalities)
            for s in splits}
    return data, standardizer


def _runtime(runtime: dict) -> tuple[torch.device, bool]:
    torch.set_num_threads(runtime.get("threads", 1))
    return resolve_device(runtime["device"]), bool(runtime.get("bf16", False))


# ------------------------------------------------------------------------------------------------------------ loop
@torch.no_grad()
def predict(model: torch.nn.Module, forward: Callable, loaders: Loaders, split: str, device: torch.device,
            bf16: bool = False) -> np.ndarray:
    model.eval()
    out = []
    for batch in loaders.batches(split):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16 and device.type == "cuda"):
            out.append(forward(_to(batch, device)).float().cpu())
    return torch.cat(out).numpy().astype(np.float64)


def fit(model: torch.nn.Module, *, loss_terms: Callable[[dict], dict[str, torch.Tensor]], forward: Callable,
        optimizer: torch.optim.Optimizer, loaders: Loaders, epochs: int, grad_accum: int, accumulation: str,
        patience: int | None, device: torch.device, bf16: bool, seed: int, metric_family: str,
        on_train: Callable[[], None] | None = None) -> tuple[list[dict], int]:
    """Train for ``epochs``; keep (load back) the state with the lowest validation MSE.

    ``accumulation``: "mean" divides each micro-batch loss by ``grad_accum`` (a true average, the fixed mode);
    "sum" adds them up (what the authors' code does). Returns the history rows and the best epoch.
    """
    metric = metrics_for(metric_family)
    generator = torch.Generator().manual_seed(seed)
    valid_truth = loaders.splits["valid"].labels if loaders.target == "label" \
        else loaders.splits["valid"].unimodal_labels[loaders.target]
    best_loss, best_state, best_epoch, history, stale = float("inf"), None, 0, [], 0
    scale = 1.0 / grad_accum if accumulation == "mean" else 1.0
    for epoch in range(1, epochs + 1):
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
            if step % grad_accum == 0 or step == len(batches):
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
            n_batches += 1
        if not np.isfinite(sums.get("total", 0.0)):
            raise MfonError(f"training diverged at epoch {epoch}: loss is {sums['total']}")
        preds = predict(model, forward, loaders, "valid", device, bf16)
        valid_mse = float(np.mean((preds - valid_truth) ** 2))
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
                break
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


def _write_outputs(out_dir: Path, loaders: Loaders, preds: dict[str, np.ndarray], history: list[dict],
                   metric_family: str, info: dict) -> dict:
    metric = metrics_for(metric_family)
    rows, metrics = [], {}
    for split, pred in preds.items():
        data = loaders.splits[split]
        truth = data.labels if loaders.target == "label" else data.unimodal_labels[loaders.target]
        metrics[split] = metric(pred, truth)
        rows += [{"key": k, "split": split, "truth": float(t), "prediction": round(float(p), 6)}
                 for k, t, p in zip(data.keys, truth, pred)]
    write_tsv(out_dir / "predictions.tsv", rows, ["key", "split", "truth", "prediction"])
    columns = list(dict.fromkeys(k for row in history for k in row))
    write_tsv(out_dir / "history.tsv", history, columns)
    result = {**metrics, **info}
    with atomic_path(out_dir / "metrics.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2, sort_keys=True))
    return result


def _adam(groups: dict[str, list], lr: dict[str, float], weight_decay: dict[str, float], amsgrad: bool):
    params = [{"params": p, "lr": lr[name], "weight_decay": weight_decay[name], "name": name}
              for name, p in groups.items() if p]
    return torch.optim.Adam(params, amsgrad=amsgrad)





# --------------------------------------------------------------------------------------------------------- teacher
def train_teacher(sources: FeatureSources, modality: str, *, model: dict, training: dict, runtime: dict, seed: int,
                  out_dir: Path, metric_family: str = "mosi") -> dict:
    """Train the unimodal teacher of ``modality`` ("visual" or "acoustic") on the sentiment label.

    ``training["label"] == "unimodal"`` trains on the modality's own label (CH-SIMS label_V / label_A).
    """
    out_dir = Path(out_dir)
    seed_everything(seed)
    device, bf16 = _runtime(runtime)
    max_len = {modality: model["max_len"][modality]}
    splits, standardizer = load_data(sources, max_len, training["standardize"], (modality,))
    target = modality if training["label"] == "unimodal" else "label"
    if target != "label" and modality not in splits["train"].unimodal_labels:
        raise MfonError(f"teacher_training.label 'unimodal' needs column label_{modality[0].upper()} filled in "
                        f"{sources.manifest}")
    loaders = Loaders(splits, max_len, training["batch_size"], target=target)
    config = ModelConfig.from_dict({**model, f"d_{modality}": feature_dims(sources, (modality,))[modality],
                                    "modalities": [modality], "guide": modality})
    teacher = TeacherEncoder(config, modality).to(device)
    optimizer = torch.optim.Adam(teacher.parameters(), lr=training["lr"], weight_decay=training["weight_decay"],
                                 amsgrad=training["amsgrad"])

    def forward(batch):
        return teacher(batch[modality], batch[f"{modality}_lengths"])

    def loss_terms(batch):
        return {"total": torch.nn.functional.mse_loss(forward(batch), batch["label"])}

    history, best_epoch = fit(teacher, loss_terms=loss_terms, forward=forward, optimizer=optimizer,
                              loaders=loaders, epochs=training["epochs"], grad_accum=1, accumulation="mean",
                              patience=training["early_stopping_patience"], device=device, bf16=bf16, seed=seed,
                              metric_family=metric_family)
    preds = {s: predict(teacher, forward, loaders, s, device, bf16) for s in ("valid", "test")}
    save_checkpoint(out_dir / "checkpoint.pt", kind="teacher", model=teacher.cpu(),
                    config={"model": config.to_dict(), "training": training, "modality": modality, "seed": seed},
                    provenance=sources.provenance((modality,)), standardizer=standardizer)
    return _write_outputs(out_dir, loaders, preds, history, metric_family, {
        "kind": "teacher", "modality": modality, "seed": seed, "best_epoch": best_epoch,
        "clips": split_counts(sources), "device": str(device)})


def load_teacher(path: Path, sources: FeatureSources, d_model: int) -> TeacherEncoder:
    """A frozen teacher; refuses one trained on other features or with another width."""
    state = load_checkpoint(path, kind="teacher", sources=sources, modalities=("visual", "acoustic"))
    config = ModelConfig.from_dict(state["config"]["model"])
    if config.d_model != d_model:
        raise MfonError(f"{path}: teacher width d_model={config.d_model} does not match the MFON model's "
                        f"d_model={d_model}; retrain the teachers with the same model.d_model")
    teacher = TeacherEncoder(config, state["config"]["modality"])
    teacher.load_state_dict(state["state_dict"])
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


# ------------------------------------------------------------------------------------------------------------ MFON
def train_mfon(sources: FeatureSources, teachers: dict[str, Path], *, model: dict, training: dict, loss: dict,
               runtime: dict, seed: int, out_dir: Path, metric_family: str = "mosi", variant: str = "mfon",
               eval_splits: tuple[str, ...] = ("valid", "test")) -> dict:
    """Train one MFON variant, distilling from the given (frozen) teacher checkpoints.

    ``eval_splits=("valid",)`` (hyperparameter search) never reads the test split at all.
    """
    out_dir = Path(out_dir)
    seed_everything(seed)
    device, bf16 = _runtime(runtime)
    used = tuple(m for m in ("text", "visual", "acoustic") if m in model["modalities"])  # nothing else is read
    max_len = {m: model["max_len"][m] for m in ("visual", "acoustic") if m in used}
    splits, standardizer = load_data(sources, max_len, training["standardize"], used, ("train", *eval_splits))
    loaders = Loaders(splits, max_len, training["batch_size"])
    dims = feature_dims(sources, used)
    config = ModelConfig.from_dict({**model, **{f"d_{m}": d for m, d in dims.items()}})
    net = build_model(config).to(device)
    objective = MFONLoss(loss)
    frozen = {m: load_teacher(p, sources, config.d_model).to(device) for m, p in teachers.items()}

    def forward(batch):
        return net(batch).prediction

    def loss_terms(batch):
        output = net(batch)
        targets = distillation_targets(frozen, batch, config.fidelity) if frozen else {}
        terms = objective(output, batch["label"], targets)
        return {"total": terms.pop("loss"), **terms}

    groups = parameter_groups(net)
    optimizer = _adam(groups, training["lr"], training["weight_decay"], training["amsgrad"])
    history, best_epoch = fit(net, loss_terms=loss_terms, forward=forward, optimizer=optimizer, loaders=loaders,
                              epochs=training["epochs"], grad_accum=training["grad_accum"],
                              accumulation="sum" if config.fidelity == "paper" else "mean",
                              patience=training["early_stopping_patience"], device=device, bf16=bf16, seed=seed,
                              metric_family=metric_family)
    preds = {s: predict(net, forward, loaders, s, device, bf16) for s in eval_splits}
    save_checkpoint(out_dir / "checkpoint.pt", kind="mfon", model=net.cpu(),
                    config={"model": config.to_dict(), "training": training, "loss": loss, "seed": seed,
                            "variant": variant},
                    provenance=sources.provenance(used), standardizer=standardizer)
    return _write_outputs(out_dir, loaders, preds, history, metric_family, {
        "kind": "mfon", "variant": variant, "seed": seed, "best_epoch": best_epoch,
        "clips": split_counts(sources), "device": str(device)})
