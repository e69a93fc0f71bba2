"""Files a researcher reads after a run: merged predictions, the paper-style table, saved representations.

* :func:`load_representations` reads a run's saved test-split vectors (written by
  :func:`mfon.representations.save_representations`).
* :func:`merge_predictions` joins the predictions of every run of a dataset into one table, the composite clip key
  split into video and clip id by the manifest.
* :func:`paper_table` writes the metric table as the paper prints it (mean ± std, its metric names, the best
  mean of each metric in bold).
* :func:`per_seed_table` lists every run's test metrics (MFON variants and teachers), one row per seed.
* :func:`worst_clips` lists each variant's test predictions farthest from the truth, with the transcript.
"""

from __future__ import annotations

import csv
import html
import json
import logging
import re
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .tsv import read_tsv, write_tsv
from .errors import MfonError
from .metrics import SIMS_EDGES_3
from .paper import PAPER_ROW_NAMES

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["video_id", "clip_id", "split", "variant", "seed", "truth", "prediction"]
DECIMALS = 6
BOLD = re.compile(r"\*\*(.+?)\*\*")
SENTIMENT_CLASSES = ("negative", "neutral", "positive")


def load_representations(path: Path) -> dict:
    """A file written by :func:`save_representations` (plain arrays only: no pickle)."""
    path = Path(path)
    if not path.is_file():
        raise MfonError(f"representations file not found: {path}")
    with np.load(path, allow_pickle=False) as npz:
        missing = [k for k in ("keys", "truth", "visual", "made_json") if k not in npz]
        if missing:
            raise MfonError(f"{path}: not a representations file (missing {missing})")
        out = {k: npz[k] for k in npz.files}
    out["made"] = json.loads(str(out.pop("made_json")))
    out["keys"] = [str(k) for k in out["keys"]]
    return out


def sentiment_classes(truth: np.ndarray, family: str) -> np.ndarray:
    """0 negative, 1 neutral, 2 positive: the sign for MOSI/MOSEI/demo, CH-SIMS' 3-class edges for sims."""
    truth = np.asarray(truth)
    truth = truth if truth.dtype.kind == "f" else truth.astype(np.float64)
    if family == "sims":  # edges in the labels' own precision, as mfon.metrics compares them
        inner = np.asarray(SIMS_EDGES_3[1:-1], dtype=truth.dtype)
        return np.sum(truth[:, None] > inner[None, :], axis=1)
    return (np.sign(truth) + 1).astype(int)


# -------------------------------------------------------------------------------------------- merged predictions
def merge_predictions(runs: list[dict], manifest: Path, out_path: Path) -> list[dict]:
    """One row per (run, clip): ``runs`` holds ``variant``, ``seed`` and ``files`` (predictions TSVs of the run).

    Truth and prediction are rounded to 6 decimals (the float32 labels print as 1.1, not 1.100000023841858).
    """
    ids = {r["key"]: (r["video_id"], r["clip_id"]) for r in read_tsv(manifest)}
    rows = []
    for run in runs:
        for path in run["files"]:
            if not Path(path).is_file():
                raise MfonError(f"predictions of {run['variant']} seed {run['seed']} not found: {path}")
            for r in read_tsv(path):
                if r["key"] not in ids:
                    raise MfonError(f"{path}: clip {r['key']!r} is not in {manifest}; the run was trained on "
                                    f"another manifest (rerun it)")
                video_id, clip_id = ids[r["key"]]
                rows.append({"video_id": video_id, "clip_id": clip_id, "split": r["split"],
                             "variant": run["variant"], "seed": run["seed"],
                             "truth": round(float(r["truth"]), DECIMALS),
                             "prediction": round(float(r["prediction"]), DECIMALS)})
    write_tsv(out_path, rows, PREDICTION_COLUMNS)
    log.info("wrote %s: %d rows from %d runs", out_path, len(rows), len(runs))
    return rows


# ----------------------------------------------------------------------------------------------- paper-style table
# The paper's columns: header -> the metrics shown in it ("a / b" when two; Tables 2-5).
PAPER_COLUMNS = {
    "mosi": [("Acc2 ↑ (Has0 / Non0)", ("Has0_acc_2", "Non0_acc_2")),
             ("F1 ↑ (Has0 / Non0)", ("Has0_F1_score", "Non0_F1_score")),
             ("Acc7 ↑", ("Mult_acc_7",)), ("Corr ↑", ("Corr",)), ("MAE ↓", ("MAE",))],
    "sims": [("Acc2 ↑", ("Mult_acc_2",)), ("F1 ↑", ("F1_score",)), ("Corr ↑", ("Corr",)), ("MAE ↓", ("MAE",))],
}


LOWER_IS_BETTER = ("MAE",)


def _number(name: str, value: float) -> str:
    return f"{value:.3f}" if name in ("MAE", "Corr") else f"{value:.2f}"


def best_means(rows: list[dict], metrics) -> dict[str, str]:
    """Metric -> the best mean of ``rows`` as printed (lowest MAE, highest of the others); none with one row."""
    if len(rows) < 2:
        return {}
    pick = {m: (min if m in LOWER_IS_BETTER else max) for m in metrics}
    return {m: _number(m, pick[m](float(r[f"{m}_mean"]) for r in rows)) for m in metrics}


def read_metric_tables(table_csvs: Path | str | list) -> list[dict]:
    """The rows of one table written by :func:`mfon.tables.build_table`, or of several in order (the baselines'
    table above the MFON table)."""
    rows = []
    for table_csv in [table_csvs] if isinstance(table_csvs, (str, Path)) else table_csvs:
        if not Path(table_csv).is_file():
            raise MfonError(f"metric table not found: {table_csv}")
        with open(table_csv, encoding="utf-8", newline="") as fh:
            found = list(csv.DictReader(fh))
        if not found:
            raise MfonError(f"{table_csv}: has no rows")
        rows += found
    return rows


def paper_table_rows(table_csvs: Path | str | list) -> tuple[list[str], list[list[str]], str]:
    """Header, rows and footnote of a table written by :func:`mfon.tables.build_table` (or of several, one after
    the other), laid out as the paper's Tables 2-5: ours as mean ± population std over seeds, the best mean of each
    metric over all rows in bold (``**``; equal printed means are all bold); a "(paper)" row after each row the
    paper reports, "–" where it prints no number."""
    rows = read_metric_tables(table_csvs)
    family = "mosi" if "Has0_acc_2_mean" in rows[0] else "sims"
    columns = PAPER_COLUMNS[family]
    best = best_means(rows, [m for _, metrics in columns for m in metrics])

    def mean_std(row: dict, metric: str) -> str:
        mean = _number(metric, float(row[f"{metric}_mean"]))
        text = f"{mean} ± {_number(metric, float(row[f'{metric}_std']))}"
        return f"**{text}**" if best.get(metric) == mean else text

    header = ["Model", "seeds", *(h for h, _ in columns)]
    body = []
    for row in rows:
        name = PAPER_ROW_NAMES.get(row["variant"], row["variant"])
        if row.get("experiment"):  # the experiments table (mfon.tables.experiments_table)
            name = f"{row['experiment']}: {name}"
        body.append([f"{name} ({row['variant']})", row["n_seeds"],
                     *(" / ".join(mean_std(row, m) for m in metrics) for _, metrics in columns)])
        if any(row.get(f"{m}_paper", "") != "" for _, metrics in columns for m in metrics):
            body.append([f"{name} (paper)", "–",
                         *(" / ".join(_number(m, float(row[f"{m}_paper"])) if row.get(f"{m}_paper", "") != ""
                                      else "–" for m in metrics) for _, metrics in columns)])
    note = (f"Split {rows[0]['split']}; accuracies and F1 in %, mean ± population std over seeds; bold: the best "
            f"mean of each metric"
            + ("; Acc2 and F1: negative/non-negative (Has0) / negative/positive (Non0)." if family == "mosi" else "."))
    return header, body, note


def markdown_table(header: list[str], body: list[list[str]], note: str) -> str:
    """The rows of :func:`paper_table_rows` as a Markdown table with its footnote (the README prints the same)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
             *("| " + " | ".join(cells) + " |" for cells in body), "", note]
    return "\n".join(lines) + "\n"


def paper_table(table_csvs: Path | str | list, out_md: Path, out_html: Path | None = None, *, title: str) -> str:
    """Write the paper-style table of one or several metric tables (:func:`paper_table_rows`) as Markdown (and
    as an HTML page for the report); returns the Markdown."""
    header, body, note = paper_table_rows(table_csvs)
    text = f"### {title}\n\n" + markdown_table(header, body, note)
    with atomic_path(out_md) as tmp:
        tmp.write_text(text, encoding="utf-8")
    if out_html is not None:
        with atomic_path(out_html) as tmp:
            tmp.write_text(_html_page(title, header, body, note), encoding="utf-8")
    return text


def _html_page(title: str, header: list[str], body: list[list[str]], note: str, text_column: int = 0) -> str:
    """A standalone page with the table (the Snakemake report shows it in a frame); numbers right-aligned, the
    first column and ``text_column`` (1-based; 0: none) left-aligned."""
    def cells(tag: str, row: list[str]) -> str:
        # **best** (the Markdown's bold) becomes <b>best</b>: the cells are escaped first, so only the marks turn
        return "".join(f"<{tag}>" + BOLD.sub(r"<b>\1</b>", html.escape(c)) + f"</{tag}>" for c in row)

    rows = "".join(('<tr class="paper">' if row[1] == "–" else "<tr>") + cells("td", row) + "</tr>" for row in body)
    style = ("body{font-family:sans-serif}table{border-collapse:collapse}"
             "td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
             "tr.paper{color:#666;font-style:italic}"
             + (f"td:nth-child({text_column}){{text-align:left}}" if text_column else ""))
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{style}</style></head><body><h3>{html.escape(title)}</h3>"
            f"<table><thead><tr>{cells('th', header)}</tr></thead><tbody>{rows}</tbody></table>"
            f"<p>{html.escape(note)}</p></body></html>\n")


# ------------------------------------------------------------------------------------------------ per-seed table
def per_seed_table(runs: list[dict], out_csv: Path) -> list[dict]:
    """Every run's test metrics, one row per run: ``runs`` holds ``model`` (a variant, or ``teacher <modality>``),
    ``seed`` and ``metrics`` (the metrics file the run wrote). Columns: model, seed, the kept epoch, then the metrics in
    the order the first run lists them (a metric a run lacks is left empty)."""
    rows, metric_names = [], {}
    for run in runs:
        path = Path(run["metrics"])
        try:
            made = json.loads(path.read_text(encoding="utf-8"))
            test, best_epoch = made["test"], made["best_epoch"]
        except FileNotFoundError as exc:
            raise MfonError(f"metrics of {run['model']} seed {run['seed']} not found: {path}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise MfonError(f"{path}: not a run's metrics file ({exc}); rerun {run['model']} seed "
                            f"{run['seed']}") from exc
        metric_names.update(dict.fromkeys(test))
        rows.append({"model": run["model"], "seed": run["seed"], "best_epoch": best_epoch, **test})
    write_tsv(out_csv, rows, ["model", "seed", "best_epoch", *metric_names], delimiter=",")
    log.info("wrote %s: %d runs", out_csv, len(rows))
    return rows


# --------------------------------------------------------------------------------------------- worst predictions
WORST_CLIP_COLUMNS = ["variant", "rank", "seed", "video_id", "clip_id", "transcript", "truth", "prediction",
                      "abs_error"]


def worst_clips(merged: Path, manifest: Path, out_tsv: Path, out_html: Path | None = None, *, n: int = 10,
                split: str = "test", title: str = "worst-predicted clips") -> list[dict]:
    """The ``n`` predictions of each variant farthest from the truth on ``split`` (every seed's predictions
    compete), with the clip's transcript: where to start reading to understand a variant's errors."""
    for path in (merged, manifest):
        if not Path(path).is_file():
            raise MfonError(f"cannot list the worst clips: {path} not found")
    transcripts = {(r["video_id"], r["clip_id"]): r.get("text", "") for r in read_tsv(manifest)}
    by_variant: dict[str, list[dict]] = {}
    for r in read_tsv(merged):
        if r["split"] == split:
            error = abs(float(r["prediction"]) - float(r["truth"]))
            by_variant.setdefault(r["variant"], []).append({**r, "abs_error": round(error, DECIMALS)})
    rows = []
    for variant, predictions in by_variant.items():
        # Ties broken by clip and seed, so that the list is the same from run to run.
        ranked = sorted(predictions, key=lambda r: (-r["abs_error"], r["video_id"], r["clip_id"], r["seed"]))
        for rank, r in enumerate(ranked[:n], start=1):
            rows.append({"variant": variant, "rank": rank, "seed": r["seed"], "video_id": r["video_id"],
                         "clip_id": r["clip_id"], "transcript": transcripts.get((r["video_id"], r["clip_id"]), ""),
                         "truth": r["truth"], "prediction": r["prediction"], "abs_error": r["abs_error"]})
    write_tsv(out_tsv, rows, WORST_CLIP_COLUMNS)
    if out_html is not None:
        note = (f"The {n} {split}-split predictions of each variant farthest from the truth, all seeds ranked "
                f"together; abs_error = |prediction − truth|.")
        body = [[str(r[c]) for c in WORST_CLIP_COLUMNS] for r in rows]
        with atomic_path(out_html) as tmp:
            tmp.write_text(_html_page(title, WORST_CLIP_COLUMNS, body, note,
                                      text_column=WORST_CLIP_COLUMNS.index("transcript") + 1), encoding="utf-8")
    log.info("wrote %s: %d rows from %d variants", out_tsv, len(rows), len(by_variant))
    return rows
