"""A real Snakemake run of a tiny workflow up to its figures, analysis files, MMSA export and report archive."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from mfon.analysis import load_representations
from mfon.tsv import read_tsv
from mfon.h5store import FeatureFile
from mfon.importers.mmsa import import_mmsa_pickle

from conftest import IN_CI, PROJECT_ROOT
from test_workflow import TINY_CONFIG as BASE_CONFIG, WORKFLOW_FILES as PIPELINE_FILES
from test_workflow import finished_copy, planned_after_editing, planned_jobs, snakemake

WORKFLOW_FILES = (*PIPELINE_FILES, "report")  # report/: the captions
VARIANTS = ["mfon", "no_lva_licl"]
SEEDS = [1111, 1112]

TINY_CONFIG = {**BASE_CONFIG, "extraction": {"shards": 1}, "training": {**BASE_CONFIG["training"], "epochs": 2},
               "experiment": {"variants": VARIANTS, "ablation_variants": VARIANTS, "seeds": SEEDS},
               "analysis": {"outputs": True}}
TINY_DATASET = {"name": "tiny", "root": "data/tiny", "paper": "mosi",
                "demo": {"n_speakers": 3, "clips_per_speaker": 4, "seed": 3, "min_duration": 1.0,
                         "max_duration": 1.5}}
TEACHERS = ["visual", "acoustic"]  # what mfon distils from
FIGURES = ["plots/training_overview.png", "plots/qc.png", "plots/tsne_visual.png", "plots/table_chart.png",
           "plots/ablation_chart.png", *[f"plots/predictions_{v}.png" for v in VARIANTS],
           *[f"mfon/{v}/seed{s}/curves.png" for v in VARIANTS for s in SEEDS],
           *[f"teachers/{m}/seed{s}/curves.png" for m in TEACHERS for s in SEEDS]]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def planned_rules(output: str) -> set[str]:
    return {rule for rule, _ in planned_jobs(output)} - {"all"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A copy of the workflow and one finished `snakemake --cores 2` of the tiny dataset (figures included)."""
    return finished_copy(tmp_path_factory.mktemp("report"), TINY_CONFIG, TINY_DATASET, WORKFLOW_FILES)


def test_every_figure_is_a_png_image(run):
    _, workdir = run
    for name in FIGURES:
        data = (workdir / "results" / "tiny" / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, name
    assert (workdir / "results" / "tiny_table.md").read_text().count("(paper)") == len(VARIANTS)


def test_nothing_reruns_and_a_figure_change_redraws_that_figure_only(run):
    workflow, workdir = run
    assert planned_rules(snakemake(workflow, workdir, "-n", "--cores", "2").stdout) == set()
    def redrawn(module):
        return {rule for rule, _ in planned_after_editing(workflow, workdir, module)} - {"all"}

    assert redrawn("mfon/figures/qc.py") == {"qc_figure"}
    assert redrawn("mfon/figures/curves.py") == {"run_curves", "teacher_curves", "training_overview"}
    assert redrawn("mfon/figures/common.py") == {"run_curves", "teacher_curves", "training_overview",
                                                 "prediction_figure", "table_chart", "qc_figure", "tsne_figure"}


def test_tsne_is_drawn_from_the_saved_test_vectors(run):
    workflow, workdir = run
    results = workdir / "results" / "tiny"
    test_keys = [r["key"] for r in read_tsv(results / "qc" / "clip_status.tsv") if r["mode"] == "test"]
    for variant in VARIANTS:
        rep = load_representations(results / "mfon" / variant / f"seed{SEEDS[0]}" / "representations.npz")
        assert rep["keys"] == test_keys and rep["visual"].shape == (len(test_keys), 16)
        assert np.isfinite(rep["visual"]).all() and rep["made"]["variant"] == variant
        # The rebuilt model reproduces the run's own test predictions: the vectors are the trained model's.
        saved = {r["key"]: float(r["prediction"])
                 for r in read_tsv(results / "mfon" / variant / f"seed{SEEDS[0]}" / "predictions.tsv")
                 if r["split"] == "test"}
        np.testing.assert_allclose(rep["prediction"], [saved[k] for k in rep["keys"]], atol=1e-5)
    # Other vectors in the saved file: only the t-SNE is redrawn, and it changes; the original file gives back
    # the original figure byte for byte (fixed t-SNE seed).
    saved_file, figure = results / "mfon" / "mfon" / f"seed{SEEDS[0]}" / "representations.npz", \
        results / "plots" / "tsne_visual.png"
    original, original_figure = saved_file.read_bytes(), figure.read_bytes()
    with np.load(saved_file) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["visual"] = np.random.default_rng(0).normal(size=arrays["visual"].shape)
    with open(saved_file, "wb") as fh:
        np.savez(fh, **arrays)
    try:
        assert planned_rules(snakemake(workflow, workdir, "-n", "--cores", "2").stdout) == {"tsne_figure"}
        snakemake(workflow, workdir, "--cores", "2", str(figure.relative_to(workdir)))
        assert figure.read_bytes() != original_figure
    finally:
        saved_file.write_bytes(original)
    snakemake(workflow, workdir, "--cores", "2", str(figure.relative_to(workdir)))
    assert figure.read_bytes() == original_figure


def test_merged_predictions_one_row_per_run_and_clip(run):
    workflow, workdir = run
    manifest = read_tsv(workdir / "results" / "tiny" / "manifest.tsv")
    rows = read_tsv(workdir / "results" / "tiny_predictions.tsv")
    assert list(rows[0]) == ["video_id", "clip_id", "split", "variant", "seed", "truth", "prediction"]
    evaluated = [m for m in manifest if m["mode"] in ("valid", "test")]
    assert len(rows) == len(VARIANTS) * len(SEEDS) * len(evaluated)
    assert len({(r["variant"], r["seed"], r["video_id"], r["clip_id"]) for r in rows}) == len(rows)
    by_id = {(m["video_id"], m["clip_id"]): m for m in manifest}
    for r in rows:
        truth = by_id[(r["video_id"], r["clip_id"])]
        assert r["split"] == truth["mode"] and float(r["truth"]) == round(float(truth["label"]), 6)
        assert len(r["prediction"].split(".")[-1]) <= 6


@pytest.mark.slow  # reruns every checkpoint over the train split (about 1.5 min on 2 cores)
def test_train_split_is_added_on_request(run):
    workflow, workdir = run
    manifest = read_tsv(workdir / "results" / "tiny" / "manifest.tsv")
    changed = {**TINY_CONFIG, "analysis": {"train_predictions": True}}
    (workdir / "train.yaml").write_text(yaml.safe_dump(changed))
    snakemake(workflow, workdir, "--cores", "2", "results/tiny_predictions.tsv",
              "--configfile", str(workdir / "train.yaml"))  # --configfile takes every argument after it
    rows = read_tsv(workdir / "results" / "tiny_predictions.tsv")
    train = [r for r in rows if r["split"] == "train"]
    assert len(train) == len(VARIANTS) * len(SEEDS) * sum(m["mode"] == "train" for m in manifest)
    assert {r["split"] for r in rows} == {"train", "valid", "test"}
    snakemake(workflow, workdir, "--cores", "2", "results/tiny_predictions.tsv")  # back to the default


def test_mmsa_export_of_own_videos_round_trips(run, tmp_path):
    _, workdir = run
    results = workdir / "results" / "tiny"
    out = tmp_path / "again"
    import_mmsa_pickle(results / "mmsa" / "unaligned.pkl", dataset="tiny", out_manifest=out / "manifest.tsv",
                       out_rejected=out / "rejected.tsv", out_clip_status=out / "clip_status.tsv",
                       out_text=out / "text.h5", out_visual=out / "visual.h5", out_acoustic=out / "acoustic.h5",
                       text_mode="pickle_ids", label_range=(-3, 3), text_settings={"max_length": 24})
    before = {r["key"]: r for r in read_tsv(results / "manifest.tsv")}
    after = {r["key"]: r for r in read_tsv(out / "manifest.tsv")}
    assert set(after) == set(before)
    for key, row in after.items():
        assert row["mode"] == before[key]["mode"] and row["text"] == before[key]["text"]
        assert np.float32(row["label"]) == np.float32(before[key]["label"])
    for modality, name in (("visual", "visual.h5"), ("acoustic", "acoustic.h5")):
        with FeatureFile(results / "features" / f"{modality}_features.h5") as a, FeatureFile(out / name) as b:
            for key in before:
                np.testing.assert_array_equal(a.clip(key)["features"], b.clip(key)["features"])
                assert b.clip(key)["attrs"]["n_frames"] == a.clip(key)["attrs"]["n_frames"]
    with FeatureFile(results / "features" / "text_features.h5") as a, FeatureFile(out / "text.h5") as b:
        for key in before:
            np.testing.assert_array_equal(a.clip(key)["input_ids"], b.clip(key)["input_ids"])


def test_report_archive_holds_the_results(run):
    workflow, workdir = run
    snakemake(workflow, workdir, "--report", "report.zip")
    with zipfile.ZipFile(workdir / "report.zip") as archive:
        names = archive.namelist()
        page = archive.read("report/report.html").decode()
        sizes = {n: archive.getinfo(n).file_size for n in names}
    # Results are stored as report/data/raw/<hash>/<file name>.
    results = Counter(Path(n).name for n in names if n.startswith("report/data/raw/") and sizes[n] > 0)
    expected = Counter(Path(name).name for name in [*FIGURES, "table.html", "ablation.html", "tiny_table.csv",
                                                    "tiny_ablation.csv", "tiny_per_seed.csv",
                                                    "tiny_worst_clips.html"])
    assert results == expected, (results, expected)
    # The page's Results menu: dataset -> subcategory -> results.
    categories = json.loads(re.search(r"var categories = (\{.*?\});\n", page).group(1))
    assert {k: len(v) for k, v in categories["tiny"].items()} == {
        "Tables": 7, "Training curves": 1, "Training curves per run": (len(VARIANTS) + len(TEACHERS)) * len(SEEDS),
        "Predictions (test split)": len(VARIANTS) + 1, "Quality control": 1, "Representations (Fig. 4)": 1}
    assert "MFON pipeline" in page and "kept epoch" in page  # the workflow description and the captions


def _chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome")
                 if shutil.which(n)), None)


def _browser() -> str:
    browser = _chromium()
    if browser is None:
        message = "no Chromium found (chromium, chromium-browser, google-chrome)"
        if IN_CI:  # .ci/run installs Debian's chromium: a missing browser means the page went unchecked
            pytest.fail(f"{message}; CI=true, so the rendered report page must be checked", pytrace=False)
        pytest.skip(f"{message}: the rendered report page is not checked in a browser on this machine")
    return browser


def _rendered(browser: str, page: Path, *options: str) -> str:
    """The document of ``page`` after its scripts ran, in a 1440 x 900 window (a laptop's screen)."""
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=30000",
                           "--window-size=1440,900", *options, "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


# Opens every PNG result of the page in turn, as its menu button does (the report's `app.setView`), and records
# where the page draws it: natural and shown size, and the box on the screen.
MEASURE_FIGURES = """<script>
window.addEventListener("load", function () {
  var paths = Object.keys(results).filter(function (p) { return p.endsWith(".png"); }), shown = {}, i = 0;
  function measure(path, tries) {
    var img = document.querySelector('img[src="' + results[path].data_uri + '"]');
    if ((!img || !img.complete || !img.naturalWidth) && tries > 0) {
      return setTimeout(function () { measure(path, tries - 1); }, 100);
    }
    var box = img ? img.getBoundingClientRect() : null;
    shown[path] = box && {natural: [img.naturalWidth, img.naturalHeight], width: box.width, top: box.top,
                          bottom: box.bottom};
    next();
  }
  function next() {
    if (i === paths.length) {
      var out = document.createElement("pre");
      out.id = "figures-shown";
      out.textContent = JSON.stringify(shown);
      return document.body.appendChild(out);
    }
    var path = paths[i++];
    app.setView({content: "img", contentPath: results[path].data_uri, resultPath: path, navbarMode: "resultinfo"});
    setTimeout(function () { measure(path, 50); }, 100);
  }
  setTimeout(next, 500);
});
</script>"""


def test_report_shows_every_figure_whole_at_a_readable_scale(run, tmp_path):
    browser = _browser()
    workflow, workdir = run
    snakemake(workflow, workdir, "--report", str(tmp_path / "report.html"))
    head, _, tail = (tmp_path / "report.html").read_text(encoding="utf-8").rpartition("</body>")
    (tmp_path / "measured.html").write_text(head + MEASURE_FIGURES + "</body>" + tail, encoding="utf-8")
    dom = _rendered(browser, tmp_path / "measured.html")
    found = re.search(r'<pre id="figures-shown">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    shown = json.loads(html.unescape(found.group(1)))
    assert sorted(shown) == sorted(f"results/tiny/{name}" for name in FIGURES)
    for path, figure in shown.items():
        assert figure is not None, f"{path}: not drawn"
        # The page shrinks a figure wider than its column (to its width): text stays readable at 90% or more.
        assert figure["width"] >= 0.9 * figure["natural"][0], (path, figure)
        # The pane centres a figure vertically and cannot scroll above it: a taller one would lose its title.
        assert 0 <= figure["top"] and figure["bottom"] <= 900, (path, figure)


def test_report_page_renders_in_headless_chromium(run, tmp_path):
    browser = _browser()
    workflow, workdir = run
    snakemake(workflow, workdir, "--report", str(tmp_path / "report.html"))
    dom = _rendered(browser, tmp_path / "report.html")
    assert "Results" in dom and "tiny" in dom, dom[:2000]
    # The page's scripts ran: the menu, the workflow description (report/workflow.rst) and the rule graph,
    # drawn by vega-embed (its action menu), are in the rendered document.
    for shown in ("Workflow", "Statistics", "section holds, per dataset", "Open in Vega Editor"):
        assert shown in dom, shown
