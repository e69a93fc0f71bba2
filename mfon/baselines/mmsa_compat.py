"""What it takes to run MMSA's models through ``MMSA_run`` in this project's environment, in one place.

Written for MMSA 2.2.1 (PyPI ``MMSA==2.2.1``, thuiar/MMSA) under torch 2.13 (CPU and CUDA builds) and numpy 2.
MMSA's files are never edited: each work-around below is a context manager that replaces one named attribute for
the duration of a run and puts it back afterwards. :func:`mmsa_run_patches` applies all of them; each is tested on
its own in tests/test_baselines.py. Imported only by a baseline job (it imports torch and MMSA).

- :func:`cpu_set_device`: ``MMSA_run`` calls ``torch.cuda.set_device(args["device"])`` whatever the device, and
  torch refuses a CPU device there (on a CPU-only build it raises "Torch not compiled with CUDA enabled").
- :func:`plateau_without_verbose`: the MulT, MMIM, MCTN and TFR_NET trainers build
  ``ReduceLROnPlateau(..., verbose=True)``; torch 2.13 no longer has that argument (TypeError).
- :func:`configured_text_width`: MMSA's data loader sets the text width ``feature_dims[0]`` to 768 for every
  model with ``use_bert``, so a BERT-based model sized from it (MMIM) cannot take a narrower encoder such as the
  384-wide MiniLM; the width the configuration names is put back after the data are loaded.
- :class:`RunRecorder` (through :func:`recording`): MMSA has no epoch limit (a trainer stops only after
  ``early_stop`` epochs without improvement), keeps no per-epoch record, and its per-sample results
  (``do_test(return_sample_results=True)``) crash for Graph_MFN (it concatenates empty feature lists), are ignored
  by MMIM and MCTN, and crash on a last batch of one clip (``extend`` over a 0-d array). The recorder wraps the
  trainer MMSA builds: it stops training after ``max_epochs`` validations (by setting ``early_stop`` to 0 after
  the last one, so that MMSA's own loop ends right after saving that epoch's best weights), records each
  validation and, from the trainer's ``torch.save`` of the run's weights file, the best epoch, and takes the
  clip ids and predictions of the final evaluations from the batches and the model's outputs (a forward hook),
  the very values MMSA computes its metrics from. MFM's model returns a tuple, whose first element is the
  prediction.

MMSA_run's results CSV holds numpy-2 reprs (``(np.float64(67.5), ...)``) and one row per call, and its weights
are named per model and dataset; the baseline step therefore gives it a private scratch folder and takes the
results from the recorder instead (mfon/baselines/runner.py).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..logutil import progress_logger

WRITTEN_FOR = {"MMSA": "2.2.1", "torch": "2.13", "numpy": "2"}


@contextlib.contextmanager
def _replaced(owner, name: str, value) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def cpu_set_device() -> Iterator[None]:
    """``torch.cuda.set_device`` does nothing for a non-CUDA device (MMSA_run calls it for every device)."""
    original = torch.cuda.set_device

    def set_device(device) -> None:
        if torch.device(device).type == "cuda":
            original(device)

    with _replaced(torch.cuda, "set_device", set_device):
        yield


class _PlateauWithoutVerbose(torch.optim.lr_scheduler.ReduceLROnPlateau):
    """torch's ReduceLROnPlateau, accepting and ignoring the ``verbose`` argument torch 2.13 removed."""

    def __init__(self, *args, verbose=None, **kwargs):
        super().__init__(*args, **kwargs)


def _modules_using_plateau() -> list:
    import sys

    import MMSA.trains  # noqa: F401  (imports every trainer module)

    return [module for name, module in sorted(sys.modules.items())
            if name.startswith("MMSA.trains.") and module is not None
            and getattr(module, "ReduceLROnPlateau", None) is torch.optim.lr_scheduler.ReduceLROnPlateau]


@contextlib.contextmanager
def plateau_without_verbose() -> Iterator[None]:
    """The trainers that build ``ReduceLROnPlateau(verbose=True)`` get a class that drops the argument."""
    with contextlib.ExitStack() as stack:
        for module in _modules_using_plateau():
            stack.enter_context(_replaced(module, "ReduceLROnPlateau", _PlateauWithoutVerbose))
        yield


@contextlib.contextmanager
def configured_text_width() -> Iterator[None]:
    """After MMSA's data loader ran, ``feature_dims[0]`` of a ``use_bert`` model is the configured one again."""
    import MMSA.run

    original = MMSA.run.MMDataLoader

    def load(args, num_workers):
        width = args["feature_dims"][0]
        loaders = original(args, num_workers)
        if args.get("use_bert"):
            args["feature_dims"][0] = width
        return loaders

    with _replaced(MMSA.run, "MMDataLoader", load):
        yield


class _Batches:
    """A data loader that notes each batch's clip ids and labels as the trainer iterates over it."""

    def __init__(self, loader, seen: list):
        self.loader, self.seen = loader, seen

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            self.seen.append((list(batch["id"]), batch["labels"]["M"].reshape(-1).numpy().copy()))
            yield batch


def _prediction(output) -> torch.Tensor:
    """The sentiment prediction in a model's output: ``output["M"]``, or the first element where the model
    returns a tuple (MFM)."""
    value = output["M"] if isinstance(output, dict) else output[0]
    return value.detach().float().cpu()


class RunRecorder:
    """Instruments the trainer MMSA builds for one run (see the module docstring).

    After the run: ``settings`` (MMSA's resolved settings), ``history`` (one dict per epoch: the validation
    results and the seconds the epoch took), ``best_epoch``, ``test_results`` (the dict MMSA's final ``do_test``
    returned, as MMSA_run reports it) and ``predictions`` (split -> ids, truth and prediction arrays, float32 as
    MMSA computed them).
    """

    def __init__(self, max_epochs: int | None = None):
        self.max_epochs = max_epochs
        self.settings: dict | None = None
        self.history: list[dict] = []
        self.best_epoch = 0
        self.test_results: dict | None = None
        self.predictions: dict[str, dict] = {}
        self._loaders = None
        self._training = False

    def instrument(self, trainer) -> None:
        self.settings = trainer.args  # MMSA's resolved settings of the run (an EasyDict)
        do_train, do_test = trainer.do_train, trainer.do_test
        recorder = self

        def train(model, dataloader, *args, **kwargs):
            recorder._loaders, recorder._training = dataloader, True
            early_stop, weights, save = trainer.args.early_stop, Path(trainer.args.model_save_path), torch.save

            def saving(obj, f, *a, **kw):  # the trainer saves the best weights right after validating an epoch
                save(obj, f, *a, **kw)
                if isinstance(f, (str, os.PathLike)) and Path(f) == weights:
                    recorder.best_epoch = len(recorder.history)

            recorder._epoch_start = time.monotonic()
            try:
                with _replaced(torch, "save", saving):
                    return do_train(model, dataloader, *args, **kwargs)
            finally:
                trainer.args.early_stop = early_stop
                recorder._training = False

        def test(model, dataloader, mode="VAL", *args, **kwargs):
            if recorder._training:
                if mode != "VAL":  # per-epoch test results (return_epoch_results) are not recorded
                    return do_test(model, dataloader, mode, *args, **kwargs)
                results = do_test(model, dataloader, mode, *args, **kwargs)
                now = time.monotonic()
                epoch, seconds = len(recorder.history) + 1, round(now - recorder._epoch_start, 3)
                recorder.history.append({"epoch": epoch, **results, "seconds": seconds})
                recorder._epoch_start = now
                progress_logger().info("epoch %d%s: valid %s %.4g (%.1f s)", epoch,
                                       f"/{recorder.max_epochs}" if recorder.max_epochs else "",
                                       trainer.args.KeyEval, results[trainer.args.KeyEval], seconds)
                if recorder.max_epochs is not None and len(recorder.history) >= recorder.max_epochs:
                    trainer.args.early_stop = 0  # MMSA's loop ends after this epoch (epochs - best >= 0)
                return results
            results = recorder._predict(do_test, model, dataloader, mode, "test", *args, **kwargs)
            recorder.test_results = {k: v for k, v in results.items() if np.isscalar(v)}
            recorder._predict(do_test, model, recorder._loaders["valid"], "VALID", "valid")
            return results

        trainer.do_train, trainer.do_test = train, test

    def _predict(self, do_test, model, loader, mode, split, *args, **kwargs) -> dict:
        seen, outputs = [], []
        hook = model.register_forward_hook(lambda _m, _in, out: outputs.append(_prediction(out)))
        try:
            results = do_test(model, _Batches(loader, seen), mode, *args, **kwargs)
        finally:
            hook.remove()
        if len(outputs) != len(seen):
            raise RuntimeError(f"MMSA's {mode} evaluation ran the model {len(outputs)} times over {len(seen)} "
                               "batches; its predictions cannot be matched to clips")
        self.predictions[split] = {
            "ids": [i for ids, _ in seen for i in ids],
            "truth": np.concatenate([labels for _, labels in seen]).astype(np.float32),
            "prediction": torch.cat([o.reshape(-1) for o in outputs]).numpy().astype(np.float32),
        }
        return results


@contextlib.contextmanager
def recording(recorder: RunRecorder) -> Iterator[RunRecorder]:
    """MMSA_run's trainer factory hands every trainer it builds to ``recorder``."""
    import MMSA.run

    class RecordedATIO(MMSA.run.ATIO):
        def getTrain(self, args):
            trainer = super().getTrain(args)
            recorder.instrument(trainer)
            return trainer

    with _replaced(MMSA.run, "ATIO", RecordedATIO):
        yield recorder


@contextlib.contextmanager
def mmsa_run_patches(recorder: RunRecorder) -> Iterator[RunRecorder]:
    """Every work-around above, for one MMSA_run call."""
    with cpu_set_device(), plateau_without_verbose(), configured_text_width(), recording(recorder):
        yield recorder
