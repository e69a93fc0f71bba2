"""Figures and analysis files from small hand-made inputs: values, what a bad input gets, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mfon.figures import curves, predictions, qc, table_chart, tsne
from mfon.figures.common import DPI, PAGE_HEIGHT, PAGE_WIDTH, VARIANT_COLOURS, variant_colour
from mfon.analysis import merge_predictions, paper_table, per_seed_table, sentiment_classes, worst_clips
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


def _legends_clear_of_data(fig) -> int:
    """Assert that no legend of ``fig`` covers an axes' data area (colour bars aside); returns how many legends."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()  # the figure is closed: a canvas again to measure it on
    fig.draw(renderer)
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    data_axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    for legend in legends:
        box = legend.get_window_extent(renderer).shrunk(0.99, 0.99)
        for ax in data_axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), (
                [t.get_text() for t in legend.get_texts()], ax.get_title())
        assert min(t.get_fontsize() for t in legend.get_texts()) >= 8
    return len(legends)


def _fits_the_page(path: Path) -> None:
    """The PNG keeps to the report's page (PAGE_WIDTH x PAGE_HEIGHT at DPI, a little slack for tight bounding
    boxes): the page shrinks a wider figure and cuts the top off a taller one."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.width <= PAGE_WIDTH * DPI * 1.05 and image.height <= PAGE_HEIGHT * DPI * 1.05, (path, image.size)


def _bar_colours(fig) -> dict[str, tuple]:
    """Label -> face colour of every bar series of ``fig``."""
    return {c.get_label(): tuple(c.patches[0].get_facecolor()) for ax in fig.axes for c in ax.containers
            if hasattr(c, "patches")}


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


def test_figures_keep_legends_off_the_data_and_fit_the_page(runs, tmp_path):
    folder = runs[("mfon", 1)]
    figures = {
        "curves.png": curves.plot_run_curves(folder / "history.tsv", folder / "metrics.json", tmp_path / "curves.png",
                                             title="t"),
        # Ten variants (the runs' files under every variant name): the overview keeps its size.
        "overview.png": curves.plot_curves_overview(
            [{"variant": name, "seed": s, "history": f / "history.tsv", "metrics": f / "metrics.json"}
             for name in VARIANT_COLOURS for (_, s), f in runs.items()], tmp_path / "overview.png", title="t"),
        "pred.png": predictions.plot_predictions([runs[("mfon", s)] / "predictions.tsv" for s in (1, 2)],
                                                 tmp_path / "pred.png", title="t", seeds=[1, 2]),
    }
    build_table({v: [table_files(runs[(v, s)]) for s in (1, 2)] for v in ("mfon", "no_lva_licl")},
                tmp_path / "table.csv", dataset="d", paper="mosi")
    figures["chart.png"] = table_chart.plot_table_chart(tmp_path / "table.csv", tmp_path / "chart.png", title="t")
    for name, fig in figures.items():
        assert _legends_clear_of_data(fig) >= 1, name
        _fits_the_page(tmp_path / name)


def test_run_curves_leave_out_switched_off_terms_and_tick_whole_epochs(tmp_path):
    history = [{"epoch": e, "train_total": 1.0 / e, "train_task": 0.8 / e, "train_va": 0.0, "train_icl": 0.0,
                "valid_mse": 1.0 / e, "valid_Has0_acc_2": 0.5, "valid_MAE": 0.9, "valid_Corr": 0.1 * e}
               for e in (1, 2)]
    write_tsv(tmp_path / "history.tsv", history, list(history[0]))
    (tmp_path / "metrics.json").write_text(json.dumps({"best_epoch": 2, "test": {}}))
    fig = curves.plot_run_curves(tmp_path / "history.tsv", tmp_path / "metrics.json", tmp_path / "c.png", title="t")
    losses, mse, fractions, mae = fig.axes[:4]
    assert [t.get_text() for t in losses.get_legend().get_texts()] == ["total", "task", "kept: epoch 2"]
    assert "off: va, icl" in losses.get_title()
    # MAE has its own axes: the fractions' panel holds accuracy and Corr only.
    assert [t.get_text() for t in fractions.get_legend().get_texts()] == ["Has0_acc_2", "Corr", "kept: epoch 2"]
    assert [line.get_label() for line in mae.get_lines()][0].startswith("_")  # the MAE curve, unlabelled
    np.testing.assert_array_equal(mae.get_lines()[0].get_ydata(), [0.9, 0.9])
    for ax in fig.axes[:4]:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks == [1, 2], ticks
    # A run of one epoch (a teacher's, often): one tick, at 1.
    write_tsv(tmp_path / "history.tsv", history[:1], list(history[0]))
    (tmp_path / "metrics.json").write_text(json.dumps({"best_epoch": 1, "test": {}}))
    fig = curves.plot_run_curves(tmp_path / "history.tsv", tmp_path / "metrics.json", tmp_path / "c.png", title="t")
    assert all(list(ax.get_xticks()) == [1] for ax in fig.axes[:4])


def test_one_colour_per_variant_in_every_chart(runs, tmp_path):
    build_table({v: [table_files(runs[(v, s)]) for s in (1, 2)] for v in ("mfon", "no_lva_licl")},
                tmp_path / "table.csv", dataset="d", paper="mosi")
    build_table({v: [table_files(runs[(v, s)]) for s in (1, 2)] for v in ("no_lva_licl",)},
                tmp_path / "ablation.csv", dataset="d", paper="mosi")
    table = _bar_colours(table_chart.plot_table_chart(tmp_path / "table.csv", tmp_path / "t.png", title="t"))
    ablation = _bar_colours(table_chart.plot_table_chart(tmp_path / "ablation.csv", tmp_path / "a.png", title="t"))
    # no_lva_licl is second in one chart and first in the other: the same colour, its own.
    name = "w/o L_ICL L_va"
    assert table[name] == ablation[name] != table["MFON"]
    from matplotlib.colors import to_rgba
    assert table[name] == to_rgba(VARIANT_COLOURS["no_lva_licl"])
    assert len(set(VARIANT_COLOURS.values())) == len(VARIANT_COLOURS)
    # A name outside the variants (a baseline model) gets a colour of its own, the same every time.
    assert variant_colour("self_mm") not in VARIANT_COLOURS.values()
    assert variant_colour("self_mm") == variant_colour("self" + "_mm")


def test_predictions_mark_each_seed_and_scale_the_confusion(runs, tmp_path):
    fig = predictions.plot_predictions([runs[("mfon", s)] / "predictions.tsv" for s in (1, 2)], tmp_path / "p.png",
                                       title="t", seeds=[1111, 1112])
    scatter = fig.axes[0]
    assert [t.get_text() for t in scatter.get_legend().get_texts()] == ["seed 1111", "seed 1112"]
    first, second = scatter.collections[:2]
    assert tuple(first.get_facecolor()[0]) != tuple(second.get_facecolor()[0])
    assert len(first.get_offsets()) == 8 and len(second.get_offsets()) == 8  # each seed's 8 test clips
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    with pytest.raises(MfonError, match="2 predictions files but 1 seeds"):
        predictions.plot_predictions([runs[("mfon", s)] / "predictions.tsv" for s in (1, 2)], tmp_path / "p.png",
                                     title="t", seeds=[1])


def test_overview_band_spans_the_seeds_epoch_by_epoch():
    short = {"epoch": np.array([1.0, 2.0]), "valid_mse": np.array([4.0, 2.0])}
    long = {"epoch": np.array([1.0, 2.0, 3.0]), "valid_mse": np.array([2.0, 1.0, 0.5])}
    epochs, mean, low, high = curves._seed_band([short, long], "valid_mse")
    np.testing.assert_array_equal(epochs, [1, 2, 3])
    np.testing.assert_allclose(mean, [3.0, 1.5, 0.5])  # epoch 3: the seed that reached it
    np.testing.assert_allclose(low, [2.0, 1.0, 0.5])
    np.testing.assert_allclose(high, [4.0, 2.0, 0.5])


def test_paper_table_marks_the_best_mean_of_each_metric(runs, tmp_path):
    build_table({v: [table_files(runs[(v, s)]) for s in (1, 2)] for v in ("mfon", "no_lva_licl")},
                tmp_path / "t.csv", dataset="d", paper="mosi")
    means = {v: {m: np.mean([json.loads((runs[(v, s)] / "metrics.json").read_text())["test"][m] for s in (1, 2)])
                 for m in ("MAE", "Corr", "Mult_acc_7")} for v in ("mfon", "no_lva_licl")}
    text = paper_table(tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "t.html", title="d")
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in text.splitlines() if "(mfon)" in line
            or "(no_lva_licl)" in line}
    lowest_mae = min(means, key=lambda v: means[v]["MAE"])  # MAE: lower is better
    highest_corr = max(means, key=lambda v: means[v]["Corr"])
    name = {"mfon": "MFON (mfon)", "no_lva_licl": "w/o L_ICL L_va (no_lva_licl)"}
    mae_cells = {v: rows[name[v]][-1] for v in means}
    corr_cells = {v: rows[name[v]][-2] for v in means}
    assert mae_cells[lowest_mae].startswith(f"**{means[lowest_mae]['MAE']:.3f} ± ")
    assert not any(mae_cells[v].startswith("**") for v in means if v != lowest_mae)
    assert corr_cells[highest_corr].startswith("**") and sum(c.startswith("**") for c in corr_cells.values()) == 1
    assert "(paper)" in text and not any("**" in line for line in text.splitlines() if "(paper)" in line)
    page = (tmp_path / "t.html").read_text()
    assert f"<b>{means[lowest_mae]['MAE']:.3f} ± " in page and "**" not in page
    # One row: nothing to compare, nothing bold.
    build_table({"mfon": [table_files(runs[("mfon", s)]) for s in (1, 2)]}, tmp_path / "one.csv", dataset="d",
                paper="mosi")
    assert "**" not in paper_table(tmp_path / "one.csv", tmp_path / "one.md", title="d")


def test_per_seed_table_lists_every_run_and_teacher(runs, tmp_path):
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "metrics.json").write_text(json.dumps({"best_epoch": 4, "kind": "teacher",
                                                      "test": {"MAE": 1.25, "Corr": 0.5}}))
    listed = [{"model": v, "seed": s, "metrics": runs[(v, s)] / "metrics.json"} for v, s in runs]
    listed.append({"model": "teacher visual", "seed": 1, "metrics": teacher / "metrics.json"})
    per_seed_table(listed, tmp_path / "per_seed.csv")
    import csv
    with open(tmp_path / "per_seed.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["model"], r["seed"]) for r in rows] == [(v, str(s)) for v, s in runs] + [("teacher visual", "1")]
    for row, (v, s) in zip(rows, runs):
        test = json.loads((runs[(v, s)] / "metrics.json").read_text())["test"]
        assert {k: float(row[k]) for k in test} == test and row["best_epoch"] == "3"
    assert rows[-1]["MAE"] == "1.25" and rows[-1]["Has0_acc_2"] == "" and rows[-1]["best_epoch"] == "4"
    (teacher / "metrics.json").write_text("{}")
    with pytest.raises(MfonError, match="teacher/metrics.json: not a run's metrics file.*rerun teacher visual"):
        per_seed_table(listed, tmp_path / "again.csv")
    assert not (tmp_path / "again.csv").exists()


def test_worst_clips_rank_each_variants_errors_with_the_transcript(tmp_path):
    manifest = [{"key": f"v$_${i}", "video_id": "v", "clip_id": str(i), "text": f"words {i}"} for i in range(4)]
    write_tsv(tmp_path / "manifest.tsv", manifest, list(manifest[0]))
    merged = [{"video_id": "v", "clip_id": str(i), "split": split, "variant": variant, "seed": seed,
               "truth": 1.0, "prediction": 1.0 + error}
              for variant, seed, i, split, error in [("mfon", 1, 0, "test", 0.5), ("mfon", 2, 0, "test", -2.0),
                                                     ("mfon", 1, 1, "test", 0.1), ("mfon", 1, 2, "valid", 3.0),
                                                     ("no_prompt", 1, 3, "test", 1.5)]]
    write_tsv(tmp_path / "merged.tsv", merged, list(merged[0]))
    rows = worst_clips(tmp_path / "merged.tsv", tmp_path / "manifest.tsv", tmp_path / "worst.tsv",
                       tmp_path / "worst.html", n=2)
    assert [(r["variant"], r["rank"], r["seed"], r["clip_id"], r["abs_error"]) for r in rows] == [
        ("mfon", 1, "2", "0", 2.0), ("mfon", 2, "1", "0", 0.5), ("no_prompt", 1, "1", "3", 1.5)]
    assert rows[0]["transcript"] == "words 0"  # the valid clip with the largest error is not listed
    assert read_tsv(tmp_path / "worst.tsv")[0]["transcript"] == "words 0"
    page = (tmp_path / "worst.html").read_text()
    assert "<td>words 3</td>" in page and page.count("<tr>") == 1 + len(rows)
