"""Training a unimodal teacher: a self-attention encoder of one frame modality, alone on the label."""

from __future__ import annotations

import torch

from . import layout
from .checkpoints import save_checkpoint
from .data import FeatureSources, feature_dims, split_counts
from .errors import MfonError
from .models.config import ModelConfig
from .models.encoders import TeacherEncoder
from .training import ResumeState, SplitBatches, fit, load_data, predict_split, run_fingerprint, run_files, \
    run_info, device_and_bf16, seed_everything, write_run_outputs

#: The authors train their teachers with 4 summed micro-batches per optimiser step (paper fidelity).
PAPER_TEACHER_GRAD_ACCUM = 4


def train_teacher(sources: FeatureSources, modality: str, *, model: dict, training: dict, runtime: dict, seed: int,
                  outputs: dict, metric_family: str = "mosi", threads: int = 1) -> dict:
    """Train the unimodal teacher of ``modality`` ("visual" or "acoustic") on the sentiment label.

    ``training["label"] == "unimodal"`` trains on the modality's own label (CH-SIMS label_V / label_A).
    ``outputs``: where the run's files go (:func:`mfon.layout.run_outputs`, the rule's outputs).
    ``threads``: torch CPU threads (the job's scheduler allotment; not a setting of the result).
    """
    outputs = run_files(outputs)
    seed_everything(seed)
    device, bf16 = device_and_bf16(runtime, threads, model.get("fidelity", "fixed"))
    max_len = {modality: model["max_len"][modality]}
    splits, standardizer = load_data(sources, max_len, training["standardize"], (modality,))
    target = modality if training["label"] == "unimodal" else "label"
    if target != "label" and modality not in splits["train"].unimodal_labels:
        raise MfonError(f"teacher_training.label 'unimodal' needs column label_{modality[0].upper()} filled in "
                        f"{sources.manifest}")
    # The resolved settings the teacher reads, as stored in its checkpoint (nothing of the other modality).
    resolved = {**model, f"d_{modality}": feature_dims(sources, (modality,))[modality], "modalities": [modality],
                "guide": modality}
    config = ModelConfig.from_dict(resolved)
    paper = config.fidelity == "paper"
    loaders = SplitBatches(splits, max_len, training["batch_size"], target=target, pad_to_max=paper)
    teacher = TeacherEncoder(config, modality).to(device)
    optimizer = torch.optim.Adam(teacher.parameters(), lr=training["lr"], weight_decay=training["weight_decay"],
                                 amsgrad=training["amsgrad"])

    def forward(batch):
        return teacher(batch[modality], batch[f"{modality}_lengths"])

    def loss_terms(batch):
        return {"total": torch.nn.functional.mse_loss(forward(batch), batch["label"])}

    run_config = {"model": resolved, "training": training, "modality": modality, "seed": seed}
    resume = ResumeState(layout.resume_state(outputs), run_fingerprint(kind="teacher", config=run_config,
                                                                provenance=sources.provenance((modality,))))
    history, best_epoch = fit(teacher, loss_terms=loss_terms, forward=forward, optimizer=optimizer,
                              loaders=loaders, epochs=training["epochs"],
                              grad_accum=PAPER_TEACHER_GRAD_ACCUM if paper else 1,
                              accumulation="sum" if paper else "mean", flush_remainder=not paper,
                              patience=training["early_stopping_patience"], device=device, bf16=bf16, seed=seed,
                              metric_family=metric_family, resume=resume)
    preds = {s: predict_split(teacher, forward, loaders, s, device, bf16) for s in ("valid", "test")}
    info = run_info(device, bf16, threads)
    save_checkpoint(outputs["checkpoint"], kind="teacher", model=teacher.cpu(), config=run_config,
                    provenance=sources.provenance((modality,)), standardizer=standardizer, extra={"run": info})
    result = write_run_outputs(outputs, loaders, preds, history, metric_family, {
        "kind": "teacher", "modality": modality, "seed": seed, "best_epoch": best_epoch,
        "clips": split_counts(sources), **info})
    resume.remove()
    return result
