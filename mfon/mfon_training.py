"""Training one MFON variant, distilling from frozen teachers (or their stored vectors)."""

from __future__ import annotations

from pathlib import Path

import torch

from . import layout
from .checkpoints import load_teacher, save_checkpoint
from .data import FeatureSources, feature_dims, split_counts
from .errors import MfonError
from .losses import MFONLoss
from .models.config import ModelConfig
from .models.encoders import distillation_targets
from .models.mfon import build_model, parameter_groups
from .provenance import file_sha256
from .teacher_targets import aligned, read_teacher_targets, teacher_split_vectors
from .training import Recipe, ResumeState, SplitBatches, fit, load_data, predict_split, run_fingerprint, run_files, \
    run_info, device_and_bf16, seed_everything, write_run_outputs


def _adam(groups: dict[str, list], lr: dict[str, float], weight_decay: dict[str, float], amsgrad: bool):
    params = [{"params": p, "lr": lr[name], "weight_decay": weight_decay[name], "name": name}
              for name, p in groups.items() if p]
    return torch.optim.Adam(params, amsgrad=amsgrad)


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
    device, bf16 = device_and_bf16(runtime, threads, model.get("fidelity", "fixed"))
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
            cached[m] = aligned(*vectors["train"], splits["train"], Path(path)).to(device)
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
    info = run_info(device, bf16, threads)
    save_checkpoint(outputs["checkpoint"], kind="mfon", model=net.cpu(), config=run_config,
                    provenance=sources.provenance(used), standardizer=standardizer, extra={"run": info})
    result = write_run_outputs(outputs, loaders, preds, history, metric_family, {
        "kind": "mfon", "variant": variant, "seed": seed, "best_epoch": best_epoch,
        "clips": split_counts(sources), **info})
    resume.remove()
    return result
