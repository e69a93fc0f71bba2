"""Figures and analysis files from small hand-made inputs: values, what a bad input gets, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mfon.figures import curves, predictions, qc, table_chart, tsne
from mfon.analysis import merge_predictions, paper_table, sentiment_classes
from mfon.tsv import read_tsv, write_tsv
from mfon.errors import MfonError
from mfon.h5store import SCHEMA_VERSION, write_feature_file
from mfon.layout import TABLE_RUN_FILES, run_outputs
from mfon.tables import build_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(folder: Path, seed: int, rng: np.random.Generator) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    history = [{"epoch": e, "train_total": 2.0 / e, "train_task": 1.5 / e, "valid_mse": 1.0 + 0.1 * (e - 3) ** 2,
                "valid_MAE": 0.9, "valid_Corr": 0.1 * e} for e in range(1, 6)]
    write_tsv(folder / "history.tsv", history, list(history[0]))
    metrics = {name: float(rng.uniform(0.4, 0.9)) for name in
               ("Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score", "Mult_acc_5", "Mult_acc_7", "Corr")}
    metrics["MAE"] = float(rng.uniform(0.7, 1.2))
    (folder / "metrics.json").write_text(json.dumps({"seed": seed, "best_epoch": 3, "test": metrics, "clips": {}}))
    truth = rng.choice([-3.0, -1.2, 0.0, 0.4, 2.6], size=12)
    rows = [{"key": f"v{i // 3}$_${i % 3}", "split": "test" if i < 8 else "valid", "truth": t,
             "prediction": round(float(t + rng.normal(0, 0.5)), 6)} for i, t in enumerate(truth)]
    write_tsv(folder / "predictions.tsv", rows, ["key", "split", "truth", "prediction"])
    # The table checks that a run folder is complete; figures never read the weights.
    (folder / "checkpoint.pt").write_bytes(b"weights not read here")
    return folder


def table_files(folder: Path) -> dict[str, str]:
    """The files of a run its table checks."""
    return {name: run_outputs(folder)[name] for name in TABLE_RUN_FILES}


@pytest.fixture
def runs(tmp_path):
    rng = np.random.default_rng(0)
    return {(v, s): _run(tmp_path / v / f"seed{s}", s, rng) for v in ("mfon", "no_lva_licl") for s in (1, 2)}


def _png(path: Path) -> bool:
    return path.is_file() and path.read_bytes().startswith(PNG_MAGIC) and path.stat().st_size > 5000


def test_curves_predictions_and_table_figures(runs, tmp_path):
    folder = runs[("mfon", 1)]
    curves.plot_run_curves(folder / "history.tsv", folder / "metrics.json", tmp_path / "curves.png", title="t")
    overview = [{"variant": v, "seed": s, "history": f / "history.tsv", "metrics": f / "metrics.json"}
                for (v, s), f in runs.items()]
    curves.plot_curves_overview(overview, tmp_path / "overview.png", title="t")
    predictions.plot_predictions([runs[("mfon", s)] / "predictions.tsv" for s in (1, 2)], tmp_path / "pred.png", title="t")
    build_table({v: [table_files(runs[(v, s)]) for s in (1, 2)] for v in ("mfon", "no_lva_licl")},
                tmp_path / "table.csv", dataset="d", paper="mosi")
    table_chart.plot_table_chart(tmp_path / "table.csv", tmp_path / "chart.png", title="t")
    for name in ("curves.png", "overview.png", "pred.png", "chart.png"):
        assert _png(tmp_path / name), name
    # Same inputs, same bytes: the PNGs carry no timestamp, so reruns do not churn the report.
    first = (tmp_path / "chart.png").read_bytes()
    table_chart.plot_table_chart(tmp_path / "table.csv", tmp_path / "chart.png", title="t")
    assert (tmp_path / "chart.png").read_bytes() == first


@pytest.mark.parametrize("draw", ["curves", "overview", "predictions", "chart", "qc", "tsne"])
def test_a_missing_input_is_named(draw, tmp_path):
    missing = tmp_path / "nowhere" / "input.file"
    out = tmp_path / "out.png"
    calls = {
        "curves": lambda: curves.plot_run_curves(missing, missing, out, title="t"),
        "overview": lambda: curves.plot_curves_overview(
            [{"variant": "mfon", "seed": 1, "history": missing, "metrics": missing}], out, title="t"),
        "predictions": lambda: predictions.plot_predictions([missing], out, title="t"),
        "chart": lambda: table_chart.plot_table_chart(missing, out, title="t"),
        "qc": lambda: qc.plot_qc(missing, {"visual": missing}, out, title="t"),
        "tsne": lambda: tsne.plot_tsne({"mfon": missing}, out, title="t"),
    }
    with pytest.raises(MfonError, match=str(missing)):
        calls[draw]()
    assert not out.exists()


def test_predictions_without_the_split_are_refused(runs, tmp_path):
    with pytest.raises(MfonError, match="no train predictions"):
        predictions.plot_predictions([runs[("mfon", 1)] / "predictions.tsv"], tmp_path / "p.png", title="t", split="train")


def _feature_file(path: Path, modality: str, clips: dict[str, tuple[np.ndarray, int]]) -> None:
    with write_feature_file(path) as writer:
        writer.set_root_attrs({"schema_version": SCHEMA_VERSION, "modality": modality, "dataset": "d",
                               "config_hash": "0" * 64, "dim_names": ["a", "b"]})
        for key, (valid, nonfinite) in clips.items():
            writer.add_clip(key, {"features": np.zeros((len(valid), 2), np.float32), "valid": valid.astype(np.uint8)},
                            {"n_frames": len(valid), "nonfinite_replaced": nonfinite})


def test_qc_summary_counts_statuses_frames_faces_and_nonfinite(tmp_path):
    status = [{"key": "a$_$1", "mode": "train", "usable": "1", "reason": ""},
              {"key": "a$_$2", "mode": "train", "usable": "1", "reason": "visual: no face found (kept, zero-filled)"},
              {"key": "b$_$1", "mode": "test", "usable": "0", "reason": "acoustic: audio track is silent"},
              {"key": "b$_$2", "mode": "test", "usable": "0", "reason": "acoustic: audio track is silent"}]
    write_tsv(tmp_path / "clip_status.tsv", status, list(status[0]))
    _feature_file(tmp_path / "visual.h5", "visual", {"a$_$1": (np.array([1, 1, 0, 1]), 0),
                                                      "a$_$2": (np.zeros(6), 0)})
    _feature_file(tmp_path / "acoustic.h5", "acoustic", {"a$_$1": (np.ones(10), 3), "a$_$2": (np.ones(12), 0)})
    summary = qc.qc_summary(tmp_path / "clip_status.tsv",
                               {"acoustic": tmp_path / "acoustic.h5", "visual": tmp_path / "visual.h5"})
    assert summary["reasons"] == {"usable": 1, "usable, visual: no face found": 1,
                                  "left out, acoustic: audio track is silent": 2}
    np.testing.assert_array_equal(summary["modalities"]["visual"]["frames"], [4, 6])
    np.testing.assert_allclose(summary["modalities"]["visual"]["valid"], [0.75, 0.0])
    np.testing.assert_array_equal(summary["modalities"]["acoustic"]["nonfinite"], [3, 0])
    qc.plot_qc(tmp_path / "clip_status.tsv", {"acoustic": tmp_path / "acoustic.h5",
                                                 "visual": tmp_path / "visual.h5"}, tmp_path / "qc.png", title="t")
    assert _png(tmp_path / "qc.png")


def test_sentiment_classes_follow_the_metric_conventions():
    np.testing.assert_array_equal(sentiment_classes(np.array([-2.0, 0.0, 0.2]), "mosi"), [0, 1, 2])
    sims = np.array([-0.8, -0.1, 0.0, 0.1, 0.2], np.float32)  # 0.1 itself is neutral, as mfon.metrics has it
    np.testing.assert_array_equal(sentiment_classes(sims, "sims"), [0, 0, 1, 1, 2])


def test_tsne_is_deterministic_given_its_seed_and_needs_three_clips():
    vectors = np.random.default_rng(1).normal(size=(20, 8))
    np.testing.assert_array_equal(tsne.tsne_embedding(vectors, 3), tsne.tsne_embedding(vectors, 3))
    with pytest.raises(MfonError, match="at least 3"):
        tsne.tsne_embedding(vectors[:2], 0)


def test_merged_predictions_split_keys_by_the_manifest(tmp_path):
    # "x$_" + "$_$" + "$y": splitting the key at its first "$_$" would give video "x", clip "_$$y".
    manifest = [{"key": "x$_$_$$y", "video_id": "x$_", "clip_id": "$y"},
                {"key": "v$_$1", "video_id": "v", "clip_id": "1"}]
    write_tsv(tmp_path / "manifest.tsv", manifest, ["key", "video_id", "clip_id"])
    rows = [{"key": "x$_$_$$y", "split": "test", "truth": 1.100000023841858, "prediction": 0.1234567891},
            {"key": "v$_$1", "split": "valid", "truth": -0.5, "prediction": 2.0}]
    write_tsv(tmp_path / "p.tsv", rows, list(rows[0]))
    merged = merge_predictions([{"variant": "mfon", "seed": 1, "files": [tmp_path / "p.tsv"]},
                                {"variant": "no_lva", "seed": 2, "files": [tmp_path / "p.tsv"]}],
                               tmp_path / "manifest.tsv", tmp_path / "merged.tsv")
    assert len(merged) == 4
    first = read_tsv(tmp_path / "merged.tsv")[0]
    assert first == {"video_id": "x$_", "clip_id": "$y", "split": "test", "variant": "mfon", "seed": "1",
                     "truth": "1.1", "prediction": "0.123457"}
    write_tsv(tmp_path / "manifest.tsv", manifest[1:], ["key", "video_id", "clip_id"])
    with pytest.raises(MfonError, match="x\\$_\\$_\\$\\$y"):
        merge_predictions([{"variant": "mfon", "seed": 1, "files": [tmp_path / "p.tsv"]}], tmp_path / "manifest.tsv",
                          tmp_path / "merged.tsv")


def test_paper_table_prints_mean_std_and_the_papers_row(runs, tmp_path):
    build_table({"mfon": [table_files(runs[("mfon", s)]) for s in (1, 2)]}, tmp_path / "t.csv", dataset="d",
                paper="mosi")
    values = [json.loads((runs[("mfon", s)] / "metrics.json").read_text())["test"]["MAE"] for s in (1, 2)]
    text = paper_table(tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.html", title="d")
    ours, paper = [line for line in text.splitlines() if line.startswith("| MFON")]
    assert f"{np.mean(values):.3f} ± {np.std(values):.3f}" in ours
    assert paper == "| MFON (paper) | – | 84.84 / 86.89 | 84.75 / 86.86 | 44.90 | 0.797 | 0.725 |"
    page = (tmp_path / "t.html").read_text()
    assert "<th>Acc7 ↑</th>" in page and '<tr class="paper"><td>MFON (paper)</td>' in page
