"""Files a researcher reads after a run: merged predictions, the paper-style table, saved representations.

* :func:`load_representations` reads a run's saved test-split vectors (written by
  :func:`mfon.representations.save_representations`).
* :func:`merge_predictions` joins the predictions of every run of a dataset into one table, the composite clip key
  split into video and clip id by the manifest.
* :func:`paper_table` writes the metric table as the paper prints it (mean ± std, its metric names).
"""

from __future__ import annotations

import csv
import html
import json
import logging
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


def _number(name: str, value: float) -> str:
    return f"{value:.3f}" if name in ("MAE", "Corr") else f"{value:.2f}"


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
    the other), laid out as the paper's Tables 2-5: ours as mean ± population std over seeds; a "(paper)" row
    after each row the paper reports, "–" where it prints no number."""
    rows = read_metric_tables(table_csvs)
    family = "mosi" if "Has0_acc_2_mean" in rows[0] else "sims"
    columns = PAPER_COLUMNS[family]
    header = ["Model", "seeds", *(h for h, _ in columns)]
    body = []
    for row in rows:
        name = PAPER_ROW_NAMES.get(row["variant"], row["variant"])
        body.append([f"{name} ({row['variant']})", row["n_seeds"],
                     *(" / ".join(f"{_number(m, float(row[f'{m}_mean']))} ± {_number(m, float(row[f'{m}_std']))}"
                                  for m in metrics) for _, metrics in columns)])
        if any(row.get(f"{m}_paper", "") != "" for _, metrics in columns for m in metrics):
            body.append([f"{name} (paper)", "–",
                         *(" / ".join(_number(m, float(row[f"{m}_paper"])) if row.get(f"{m}_paper", "") != ""
                                      else "–" for m in metrics) for _, metrics in columns)])
    note = (f"Split {rows[0]['split']}; accuracies and F1 in %, mean ± population std over seeds"
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


def _html_page(title: str, header: list[str], body: list[list[str]], note: str) -> str:
    """A standalone page with the table (the Snakemake report shows it in a frame)."""
    def cells(tag: str, row: list[str]) -> str:
        return "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row)

    rows = "".join(('<tr class="paper">' if row[1] == "–" else "<tr>") + cells("td", row) + "</tr>" for row in body)
    style = ("body{font-family:sans-serif}table{border-collapse:collapse}"
             "td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
             "tr.paper{color:#666;font-style:italic}")
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{style}</style></head><body><h3>{html.escape(title)}</h3>"
            f"<table><thead><tr>{cells('th', header)}</tr></thead><tbody>{rows}</tbody></table>"
            f"<p>{html.escape(note)}</p></body></html>\n")
