"""One baseline run: an MMSA model trained on the dataset's MMSA export through ``MMSA_run`` (one seed), written
as a run folder with the files of an MFON run (mfon.layout.run_outputs), by output name:

- ``predictions``: key, video_id, clip_id, split, truth, prediction of every valid and test clip, as MMSA's
  final evaluations computed them (float32, written so that they read back exactly);
- ``metrics``: the valid and test metrics computed by :mod:`mfon.metrics` from those predictions, checked
  equal to the test metrics MMSA_run reports (kept under ``mmsa_test``), the best and last epoch, the clips used
  and quarantined per split, MMSA's resolved settings, device and versions;
- ``history``: per epoch, MMSA's validation results and the seconds it took;
- ``checkpoint``: the best epoch's weights (MMSA's state dict) with MMSA's resolved settings, loadable with
  ``torch.load(..., weights_only=True)`` and MMSA's ``AMIO(settings)``.

MMSA_run's own outputs (weights named per model and dataset, a results CSV appended per dataset, a log) go to a
scratch folder of this run that is removed afterwards, so runs of several seeds or models never share a file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import MfonError
from ..metrics import metrics_for
from ..provenance import package_versions
from ..tsv import read_tsv, write_tsv

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
PREDICTION_COLUMNS = ["key", "video_id", "clip_id", "split", "truth", "prediction"]


def _float_text(value: np.float32) -> str:
    """The shortest text that reads back as the same float32."""
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def _clip_counts(clip_status: Path) -> dict:
    rows = read_tsv(clip_status)
    return {s: {"used": sum(r["mode"] == s and r["usable"] == "1" for r in rows),
                "quarantined": sum(r["mode"] == s and r["usable"] != "1" for r in rows)} for s in SPLITS}


def _json_safe(value):
    """MMSA's resolved settings (an EasyDict with paths, devices and numpy scalars) as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def mmsa_settings(export_made: dict, run: dict, device) -> dict:
    """What MMSA_run's ``config`` gets: the export's path, widths and lengths (``unaligned.json``'s
    ``mmsa_config``), the run's settings (planned by :func:`mfon.baselines.plan.baseline_run`; a configured text
    model resolved to what BERT loads, the settings carrying its width from the export) and the device."""
    from ..features.text import resolve_text_model
    from .plan import check_text_width, text_width_settings

    config = {**export_made["mmsa_config"], **run["config"], "device": device}
    if "pretrained" in run["config"]:  # a model reading text through BERT: the export's text model and width
        width = export_made["text"]["width"]
        check_text_width(run["model"], width, run["config"]["pretrained"], f"baseline {run['model']!r}")
        config.update(text_width_settings(run["model"], width, run["config"]))
        config["pretrained"] = resolve_text_model(config["pretrained"])
    return config


def train_baseline(pickle_path: Path, export_json: Path, clip_status: Path, outputs: dict[str, str], *, run: dict,
                   seed: int, metric_family: str, runtime: dict, threads: int = 1) -> dict:
    """Train ``run["model"]`` once (``seed``) on the export ``pickle_path`` and write ``outputs``
    (mfon.layout.run_outputs of the run folder). Returns the metrics record."""
    made = json.loads(Path(export_json).read_text(encoding="utf-8"))
    model, dataset = run["model"], run["mmsa_dataset"]
    what = f"baseline {model} (MMSA {dataset} settings), seed {seed}, on {pickle_path}"
    if dataset == "sims" and len(made.get("unimodal_labels", [])) < 3:
        raise MfonError(f"{what}: MMSA's sims data loader reads regression_labels_T/_A/_V, which the export has "
                        "not (the label sheet has no label_T/label_A/label_V); set baselines.mmsa_dataset: mosi")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded at run time (README "Text models")
    os.environ.setdefault("TQDM_DISABLE", "1")    # MMSA's progress bars would fill the log
    import torch
    from MMSA import MMSA_run

    from ..training import resolve_device
    from .mmsa_compat import RunRecorder, mmsa_run_patches

    torch.set_num_threads(max(int(threads), 1))
    device = resolve_device(runtime["device"])
    config = mmsa_settings(made, run, device)
    recorder = RunRecorder(max_epochs=run["max_epochs"])
    run_dir = Path(outputs["metrics"]).parent
    run_dir.mkdir(parents=True, exist_ok=True)
    # MMSA's log records reach this job's log through the root logger; its own console handler (verbose_level 0)
    # prints errors only.
    with tempfile.TemporaryDirectory(prefix=".mmsa-", dir=run_dir) as scratch:
        try:
            with mmsa_run_patches(recorder):
                MMSA_run(model, dataset, config=config, seeds=[seed], gpu_ids=[], num_workers=0, verbose_level=0,
                         model_save_dir=scratch, res_save_dir=scratch, log_dir=scratch)
        except Exception as exc:  # MMSA's own failure: name the run and MMSA's message
            log.exception("MMSA_run failed")
            raise MfonError(f"{what}: MMSA failed: {type(exc).__name__}: {exc}") from exc
        weights = Path(scratch) / f"{model}-{dataset}.pth"
        state = torch.load(weights, map_location="cpu", weights_only=True)
    if recorder.test_results is None or set(recorder.predictions) != {"valid", "test"}:
        raise MfonError(f"{what}: MMSA_run ended without its final evaluation")

    ids = {r["key"]: r for r in read_tsv(Path(clip_status))}
    metric = metrics_for(metric_family)
    result: dict = {}
    rows = []
    for split in ("valid", "test"):
        p = recorder.predictions[split]
        result[split] = metric(p["prediction"], p["truth"])
        rows += [{"key": key, "video_id": ids[key]["video_id"], "clip_id": ids[key]["clip_id"], "split": split,
                  "truth": _float_text(t), "prediction": _float_text(y)}
                 for key, t, y in zip(p["ids"], p["truth"], p["prediction"])]
    reported = {k: float(v) for k, v in recorder.test_results.items() if k in result["test"]}
    differ = {k: (v, result["test"][k]) for k, v in reported.items() if abs(v - result["test"][k]) > 1e-9}
    if differ:
        raise MfonError(f"{what}: mfon.metrics and MMSA disagree on the test split (MMSA, ours): {differ}")
    settings = _json_safe(dict(recorder.settings))
    result.update({
        "seed": seed, "model": model, "mmsa_dataset": dataset, "best_epoch": recorder.best_epoch,
        "epochs": len(recorder.history), "max_epochs": run["max_epochs"], "clips": _clip_counts(clip_status),
        "mmsa_test": {k: float(v) for k, v in recorder.test_results.items()}, "mmsa_settings": settings,
        "device": str(device), "threads": int(threads), "versions": package_versions(("MMSA", "torch", "numpy"))})

    with atomic_path(outputs["checkpoint"]) as tmp:
        torch.save({"kind": "mmsa", "model": model, "mmsa_dataset": dataset, "seed": seed,
                    "mmsa_settings": settings, "state_dict": state}, tmp)
    write_tsv(outputs["predictions"], rows, PREDICTION_COLUMNS)
    history = [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
               for row in recorder.history]
    write_tsv(outputs["history"], history, list(dict.fromkeys(k for row in history for k in row)))
    with atomic_path(outputs["metrics"]) as tmp:  # last: a table reads a run only once this exists
        tmp.write_text(json.dumps(result, indent=2, sort_keys=True))
    log.info("%s: test %s (best epoch %d of %d)", what, result["test"], recorder.best_epoch, len(recorder.history))
    return result
