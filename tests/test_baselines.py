"""MMSA's models as baselines: real MMSA training of tiny models on a tiny exported pickle, the metrics of the
per-clip predictions against MMSA's own, each MMSA work-around on its own, planning-time refusals, and the
workflow producing the baselines table."""

from __future__ import annotations

import csv
import importlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mfon import layout
from mfon.analysis import paper_table_rows
from mfon.baselines import mmsa_compat
from mfon.baselines.plan import BaselineRefused, baseline_run
from mfon.baselines.runner import mmsa_settings, train_baseline
from mfon.data import FeatureSources
from mfon.errors import MfonError
from mfon.exporters.mmsa import export_mmsa_pickle
from mfon.importers.mmsa import import_mmsa_pickle
from mfon.metrics import metrics_for
from mfon.tables import build_table, check_run
from mfon.tsv import read_tsv

from conftest import PROJECT_ROOT
from mmsa_fixtures import write_mmsa_fixture

os.environ.setdefault("TQDM_DISABLE", "1")
TEXT_MODEL = "packaged:all-MiniLM-L6-v2"
N_PER_SPLIT = (24, 8, 9)  # 9 test clips in batches of 8: MMSA's last test batch holds one clip


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A tiny dataset (imported from a synthetic MMSA-layout pickle) and its MMSA export, laid out as the
    pipeline writes them under <workdir>/results/demo."""
    workdir = tmp_path_factory.mktemp("baselines")
    source = write_mmsa_fixture(workdir / "source.pkl", "mosi", n_per_split=N_PER_SPLIT, seed=5)
    sources = FeatureSources.for_dataset(workdir / "results", "demo")
    folder = workdir / "results" / "demo"
    import_mmsa_pickle(source, dataset="demo", out_manifest=sources.manifest, out_rejected=folder / "qc/rejected.tsv",
                       out_clip_status=sources.clip_status, out_text=sources.text, out_visual=sources.visual,
                       out_acoustic=sources.acoustic, text_mode="retokenize",
                       text_settings={"max_length": 16, "model": TEXT_MODEL}, allow_unknown_sha=True,
                       mmsa_dataset="mosi")
    pickle_path = workdir / layout.mmsa_export("demo")
    export_mmsa_pickle(sources, pickle_path, max_frames={"visual": 20, "acoustic": 20}, text_model=TEXT_MODEL)
    return workdir, sources, pickle_path


def _run(export, tmp_path, model="lf_dnn", seed=1111, max_epochs=3, config=None):
    workdir, sources, pickle_path = export
    settings = {"name": "demo", "text": {"model": TEXT_MODEL}, "experiment": {"metrics": "mosi"},
                "baselines": {"mmsa_dataset": None, "max_epochs": max_epochs, "config": {model: config or {}}}}
    outputs = layout.run_outputs(str(tmp_path / layout.baseline_dir("demo", model, seed)))
    result = train_baseline(pickle_path, pickle_path.with_suffix(".json"), sources.clip_status, outputs,
                            run=baseline_run(settings, model), seed=seed, metric_family="mosi",
                            runtime={"device": "cpu"}, threads=1)
    return outputs, result


def _read_predictions(path: str, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rows = [r for r in read_tsv(path) if r["split"] == split]
    return (np.array([float(r["prediction"]) for r in rows], np.float32),
            np.array([float(r["truth"]) for r in rows], np.float32), [r["key"] for r in rows])


def test_a_baseline_run_writes_an_mfon_style_run_folder_whose_predictions_give_mmsas_metrics(export, tmp_path):
    workdir, sources, pickle_path = export
    # early_stop 100: only max_epochs can end this run after 3 epochs
    outputs, result = _run(export, tmp_path, config={"early_stop": 100, "batch_size": 8})
    assert all(Path(p).is_file() and Path(p).stat().st_size > 0 for p in outputs.values())
    assert not list(Path(outputs["metrics"]).parent.glob(".mmsa-*"))  # MMSA's scratch folder is gone
    metrics = json.loads(Path(outputs["metrics"]).read_text())
    assert metrics == result and metrics["seed"] == 1111 and metrics["model"] == "lf_dnn"
    assert metrics["epochs"] == 3 and 1 <= metrics["best_epoch"] <= 3
    history = read_tsv(outputs["history"])
    assert [int(r["epoch"]) for r in history] == [1, 2, 3] and all(float(r["seconds"]) > 0 for r in history)
    status = {r["key"]: r for r in read_tsv(sources.clip_status)}
    for split, n in (("valid", N_PER_SPLIT[1]), ("test", N_PER_SPLIT[2])):
        pred, truth, keys = _read_predictions(outputs["predictions"], split)
        assert sorted(keys) == sorted(k for k, r in status.items() if r["mode"] == split) and len(keys) == n
        # the per-clip predictions give, through mfon.metrics, the metrics.json numbers ...
        assert metrics_for("mosi")(pred, truth) == metrics[split]
        assert metrics["clips"][split] == {"used": n, "quarantined": 0}
    # ... which are the test metrics MMSA_run reported for the run
    assert {k: v for k, v in metrics["mmsa_test"].items() if k != "Loss"} == metrics["test"]
    rows = read_tsv(outputs["predictions"])
    assert all(r["video_id"] == status[r["key"]]["video_id"] and r["clip_id"] == status[r["key"]]["clip_id"]
               for r in rows)
    assert check_run(_table_files(outputs), "test")["seed"] == 1111  # what the table steps accept
    # the weights: MMSA's state dict, loadable without unpickling code into MMSA's model of the stored settings
    from easydict import EasyDict
    from MMSA.models import AMIO

    checkpoint = torch.load(outputs["checkpoint"], weights_only=True)
    net = AMIO(EasyDict({**checkpoint["mmsa_settings"], "train_mode": "regression"}))
    net.load_state_dict(checkpoint["state_dict"])
    assert checkpoint["model"] == "lf_dnn" and checkpoint["seed"] == 1111


def test_a_failing_mmsa_run_names_model_dataset_and_seed_and_writes_nothing(export, tmp_path):
    with pytest.raises(MfonError, match=r"baseline lf_dnn \(MMSA mosi settings\), seed 1111, .*MMSA failed: "
                                        r"ValueError: .*batch_size"):
        _run(export, tmp_path, config={"batch_size": 0})
    folder = tmp_path / layout.baseline_dir("demo", "lf_dnn", 1111)
    assert not [p.name for p in folder.iterdir()]  # no run files, no MMSA scratch folder


def test_a_ch_sims_run_reads_the_unimodal_labels_and_needs_them(tmp_path):
    source = write_mmsa_fixture(tmp_path / "source.pkl", "sims", n_per_split=(12, 4, 4), seed=5)
    sources = FeatureSources.for_dataset(tmp_path / "results", "sims")
    import_mmsa_pickle(source, dataset="sims", out_manifest=sources.manifest,
                       out_rejected=tmp_path / "results/sims/qc/rejected.tsv", out_clip_status=sources.clip_status,
                       out_text=sources.text, out_visual=sources.visual, out_acoustic=sources.acoustic,
                       text_mode="retokenize", text_settings={"max_length": 12, "model": TEXT_MODEL},
                       allow_unknown_sha=True)
    pickle_path = tmp_path / layout.mmsa_export("sims")
    made = export_mmsa_pickle(sources, pickle_path, family="sims", max_frames={"visual": 10, "acoustic": 10},
                              text_model=TEXT_MODEL)
    assert made["unimodal_labels"] == ["regression_labels_T", "regression_labels_A", "regression_labels_V"]
    settings = {"name": "sims", "text": {"model": TEXT_MODEL}, "experiment": {"metrics": "sims"},
                "baselines": {"mmsa_dataset": None, "max_epochs": 2, "config": {}}}
    outputs = layout.run_outputs(str(tmp_path / layout.baseline_dir("sims", "lf_dnn", 1111)))
    args = (pickle_path, pickle_path.with_suffix(".json"), sources.clip_status, outputs)
    kwargs = {"run": baseline_run(settings, "lf_dnn"), "seed": 1111, "metric_family": "sims",
              "runtime": {"device": "cpu"}}
    result = train_baseline(*args, **kwargs)
    assert result["mmsa_dataset"] == "sims" and set(result["test"]) == {"Mult_acc_2", "Mult_acc_3", "Mult_acc_5",
                                                                         "F1_score", "MAE", "Corr"}
    assert {k: v for k, v in result["mmsa_test"].items() if k != "Loss"} == result["test"]
    pickle_path.with_suffix(".json").write_text(json.dumps({**made, "unimodal_labels": []}))
    with pytest.raises(MfonError, match="regression_labels_T/_A/_V, which the export has not"):
        train_baseline(*args, **kwargs)


def test_a_run_is_a_function_of_its_seed(export, tmp_path):
    first, _ = _run(export, tmp_path / "a", max_epochs=2)
    again, _ = _run(export, tmp_path / "b", max_epochs=2)
    other, _ = _run(export, tmp_path / "c", seed=1112, max_epochs=2)
    text = {name: Path(files["predictions"]).read_text() for name, files in
            (("first", first), ("again", again), ("other", other))}
    assert text["first"] == text["again"] and text["first"] != text["other"]


def test_the_docs_example_runs_an_mmsa_model_on_the_export(export, monkeypatch):
    workdir, _, _ = export
    doc = (PROJECT_ROOT / "docs" / "mmsa_export.md").read_text()
    code = re.search(r"## Running an MMSA model on it.*?```python\n(.*?)```", doc, re.S).group(1)
    monkeypatch.chdir(workdir)
    exec(compile(code, "docs/mmsa_export.md", "exec"), {})
    results = (workdir / "mmsa" / "results" / "normal" / "mosi.csv").read_text().splitlines()
    assert results[0].startswith("Model,") and results[1].startswith("lmf,")
    assert (workdir / "mmsa" / "models" / "lmf-mosi.pth").is_file()


# ----------------------------------------------------------------------------------- each work-around on its own

def test_cpu_set_device_makes_mmsas_set_device_call_harmless_on_the_cpu():
    if torch.cuda.is_available():
        pytest.skip("the work-around matters on CPU-only torch")
    with pytest.raises((AssertionError, RuntimeError, ValueError)):
        torch.cuda.set_device(torch.device("cpu"))  # what MMSA_run does for every device
    original = torch.cuda.set_device
    with mmsa_compat.cpu_set_device():
        torch.cuda.set_device(torch.device("cpu"))
    assert torch.cuda.set_device is original


def test_plateau_without_verbose_lets_mult_and_mmim_build_their_scheduler():
    MULT, MMIM = (importlib.import_module(f"MMSA.trains.singleTask.{name}") for name in ("MULT", "MMIM"))
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(TypeError, match="verbose"):
        MULT.ReduceLROnPlateau(optimizer, mode="min", verbose=True)  # torch 2.13 has no verbose any more
    with mmsa_compat.plateau_without_verbose():
        for module in (MULT, MMIM):
            scheduler = module.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, verbose=True)
            assert scheduler.factor == 0.5
    assert MULT.ReduceLROnPlateau is torch.optim.lr_scheduler.ReduceLROnPlateau


def _mmsa_args(pickle_path: Path, model: str, **extra):
    from MMSA.config import get_config_regression

    made = json.loads(pickle_path.with_suffix(".json").read_text())
    args = get_config_regression(model, "mosi")
    args.update({**made["mmsa_config"], "device": torch.device("cpu"), "train_mode": "regression",
                 "custom_feature": None, "feature_T": None, "feature_A": None, "feature_V": None, **extra})
    return args


def test_configured_text_width_keeps_the_text_models_width_for_bert_models(export):
    import MMSA.run

    _, _, pickle_path = export
    args = _mmsa_args(pickle_path, "mmim")
    assert args["feature_dims"][0] == 384  # the MiniLM of the export
    MMSA.run.MMDataLoader(args, 0)
    assert args["feature_dims"][0] == 768  # what MMSA's loader makes of it
    args = _mmsa_args(pickle_path, "mmim")
    with mmsa_compat.configured_text_width():
        MMSA.run.MMDataLoader(args, 0)
    assert args["feature_dims"][0] == 384


def test_mmsas_own_sample_results_fail_where_the_recorder_takes_predictions(export):
    """MMSA's do_test(return_sample_results=True) breaks on a last batch of one clip; the recorder's capture (used
    by the run above, with batches of 8 over 9 test clips) does not."""
    from MMSA.data_loader import MMDataLoader
    from MMSA.models import AMIO
    from MMSA.trains import ATIO

    _, _, pickle_path = export
    args = _mmsa_args(pickle_path, "lf_dnn", batch_size=8)
    loaders = MMDataLoader(args, 0)
    model, trainer = AMIO(args), ATIO().getTrain(args)
    with pytest.raises(TypeError):
        trainer.do_test(model, loaders["test"], mode="TEST", return_sample_results=True)
    recorder = mmsa_compat.RunRecorder()
    recorder._loaders = loaders
    results = recorder._predict(trainer.do_test, model, loaders["test"], "TEST", "test")
    test = recorder.predictions["test"]
    assert len(test["ids"]) == len(set(test["ids"])) == N_PER_SPLIT[2]
    assert metrics_for("mosi")(test["prediction"], test["truth"])["MAE"] == results["MAE"]


def test_the_prediction_of_a_model_returning_a_tuple_is_its_first_element():
    assert mmsa_compat._prediction((torch.ones(2, 1), torch.zeros(1))).tolist() == [[1.0], [1.0]]
    assert mmsa_compat._prediction({"M": torch.full((2, 1), 2.0)}).tolist() == [[2.0], [2.0]]


# ------------------------------------------------------------------------------------------- planning-time checks

def _settings(models, text_model=TEXT_MODEL, metrics="mosi", **baselines):
    return {"name": "demo", "text": {"model": text_model}, "experiment": {"metrics": metrics},
            "baselines": {"models": models, "mmsa_dataset": None, "max_epochs": None, "config": {}, **baselines}}


def test_bert_models_get_the_configured_text_model_and_its_width(export):
    _, _, pickle_path = export
    made = json.loads(pickle_path.with_suffix(".json").read_text())
    self_mm = baseline_run(_settings(["self_mm"]), "self_mm")
    assert self_mm["config"] == {"pretrained": TEXT_MODEL, "transformers": "bert"}
    config = mmsa_settings(made, self_mm, "cpu")
    assert config["text_out"] == 384 and config["feature_dims"][0] == 384 and Path(config["pretrained"]).is_dir()
    mmim = baseline_run(_settings(["mmim"]), "mmim")
    assert mmim["config"] == {"pretrained": TEXT_MODEL, "transformers": "bert"}
    assert "text_out" not in mmsa_settings(made, mmim, "cpu")
    tfn = baseline_run(_settings(["tfn"], config={"tfn": {"batch_size": 16}}, max_epochs=4), "tfn")
    assert tfn == {"model": "tfn", "mmsa_dataset": "mosi", "config": {"batch_size": 16}, "max_epochs": 4}
    assert baseline_run(_settings(["self_mm"], metrics="sims"), "self_mm")["mmsa_dataset"] == "sims"
    # a text model not available offline is left to the text step, which stops first naming it and the remedies
    assert baseline_run(_settings(["misa"], text_model="no-such-model"), "misa")["config"]["pretrained"] == \
        "no-such-model"


@pytest.mark.parametrize("model, text_model, reason", [
    ("misa", TEXT_MODEL, r"'misa' cannot use the 384-wide text model .*Linear\(768"),
    ("bert_mag", TEXT_MODEL, r"'bert_mag' cannot use the configured text model .*by name"),
    ("mtfn", TEXT_MODEL, r"'mtfn': MMSA has no settings of mtfn for mosi \(it has \['sims'\]\)"),
    ("tfnn", TEXT_MODEL, r"'tfnn' is not one of MMSA's models"),
    ("mlmf", "sims", r"'mlmf' cannot run: MMSA 2.2.1's trainer uses train_results before computing it"),
])
def test_a_model_that_cannot_run_is_refused_by_name_with_the_reason(model, text_model, reason):
    settings = _settings([model], metrics="sims") if text_model == "sims" else _settings([model], text_model=text_model)
    with pytest.raises(BaselineRefused, match=reason):
        baseline_run(settings, model)


# ------------------------------------------------------------------------------------------------ tables and report

def _table_files(outputs: dict) -> dict:
    """The files of a run that the table steps check, as the table rules hand them over."""
    return {name: Path(outputs[name]) for name in layout.TABLE_RUN_FILES}


def test_the_paper_table_puts_the_baselines_above_mfon_with_the_papers_numbers(export, tmp_path):
    outputs, _ = _run(export, tmp_path, max_epochs=1)
    baselines = build_table({"tfn": [_table_files(outputs)], "lmf": [_table_files(outputs)]},
                            tmp_path / "baselines.csv", dataset="demo", paper="mosi")
    assert [r["variant"] for r in baselines] == ["tfn", "lmf"]
    assert baselines[0]["Non0_acc_2_paper"] == 80.8 and "Has0_acc_2_paper" not in baselines[0]
    mfon = build_table({"mfon": [_table_files(outputs)]}, tmp_path / "table.csv", dataset="demo", paper="mosi")
    header, body, _ = paper_table_rows([tmp_path / "baselines.csv", tmp_path / "table.csv"])
    assert [row[0] for row in body] == ["TFN (tfn)", "TFN (paper)", "LMF (lmf)", "LMF (paper)", "MFON (mfon)",
                                        "MFON (paper)"]
    assert body[1][2] == "– / 80.80" and body[1][4] == "34.90" and body[-1][2] == "84.84 / 86.89"
    assert mfon[0]["MAE_mean"] == baselines[0]["MAE_mean"]


def _workflow(tmp_path, models, **baselines):
    from test_workflow import TINY_CONFIG, TINY_DATASET, copy_workflow

    workflow, workdir = copy_workflow(tmp_path / "workflow"), tmp_path / "run"
    (workdir / "config" / "datasets").mkdir(parents=True)
    config = {**TINY_CONFIG, "experiment": {**TINY_CONFIG["experiment"], "variants": ["text_only"]}}
    dataset = {**TINY_DATASET, "paper": "mosi", "baselines": {"models": models, **baselines}}
    (workdir / "config" / "config.yaml").write_text(json.dumps(config))
    (workdir / "config" / "datasets" / "tiny.yaml").write_text(json.dumps(dataset))
    return workflow, workdir


def test_the_workflow_plans_a_job_per_model_and_seed_and_refuses_a_model_by_name(tmp_path):
    from test_workflow import planned_jobs, snakemake

    workflow, workdir = _workflow(tmp_path, ["lf_dnn", "tfn"], max_epochs=2)
    jobs = planned_jobs(snakemake(workflow, workdir, "-n").stdout)  # rule all
    assert {o for r, o in jobs if r == "train_baseline"} == {
        f"{layout.baseline_dir('tiny', m, 1111)}/checkpoint.pt" for m in ("lf_dnn", "tfn")}
    assert ("baseline_table", layout.table("tiny", "baselines")) in jobs
    workflow, workdir = _workflow(tmp_path / "misa", ["lf_dnn", "misa"])
    proc = snakemake(workflow, workdir, "-n", check=False)
    assert proc.returncode != 0 and "baseline 'misa' cannot use the 384-wide text model" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_workflow_builds_the_baselines_table(tmp_path):
    from test_workflow import snakemake

    workflow, workdir = _workflow(tmp_path, ["lf_dnn", "tfn"], max_epochs=2)
    snakemake(workflow, workdir, "--cores", "2", layout.table("tiny", "baselines"))
    with open(workdir / layout.table("tiny", "baselines"), newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["variant"] for r in table] == ["lf_dnn", "tfn"] and table[1]["MAE_paper"] == "0.901"
    for model in ("lf_dnn", "tfn"):
        metrics = json.loads((workdir / layout.baseline_dir("tiny", model, 1111) / "metrics.json").read_text())
        assert {k: v for k, v in metrics["mmsa_test"].items() if k != "Loss"} == metrics["test"]
        assert metrics["epochs"] <= 2


def test_every_mmsa_model_the_plan_knows_has_a_table_name():
    from mfon.baselines.plan import TEXT_INPUT
    from mfon.paper import PAPER_ROW_NAMES

    assert set(TEXT_INPUT) <= set(PAPER_ROW_NAMES), set(TEXT_INPUT) - set(PAPER_ROW_NAMES)
