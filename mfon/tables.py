"""Metric tables: one row per variant, mean and population std over seeds, as papers print them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from .analysis import paper_table
from .tsv import read_tsv, write_tsv
from .errors import MfonError
from .metrics import MOSI_KEYS, PERCENT_METRICS, SIMS_KEYS
from .paper import paper_numbers

log = logging.getLogger(__name__)


def _scaled(name: str, value: float) -> float:
    return value * 100.0 if name in PERCENT_METRICS else value


def check_run(files: dict[str, Path], split: str) -> dict:
    """The metrics of a finished run, after checking that its files (``metrics``, ``predictions`` and
    ``checkpoint``: :data:`mfon.layout.TABLE_RUN_FILES`) make a complete, consistent run.

    A file emptied or removed by an interrupted rerun, metrics without the table's split, a seed other than the
    folder's, or predictions that do not cover the split's clips raise :class:`MfonError` naming the folder and
    what is wrong, instead of tabulating stale numbers.
    """
    files = {name: Path(path) for name, path in files.items()}
    folder = files["metrics"].parent
    metrics, predictions = files["metrics"].name, files["predictions"].name
    remedy = (f"; the run is incomplete (an interrupted rerun?): delete {folder} and rerun snakemake, which "
              f"trains it again")
    problems = [f"{path.name} is missing" if not path.is_file() else f"{path.name} is empty"
                for path in files.values() if not path.is_file() or path.stat().st_size == 0]
    if problems:
        raise MfonError(f"{folder}: " + ", ".join(problems) + remedy)
    try:
        result = json.loads(files["metrics"].read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MfonError(f"{folder}: {metrics} is not valid JSON ({exc}){remedy}") from exc
    if not isinstance(result, dict) or not isinstance(result.get(split), dict) or "seed" not in result:
        raise MfonError(f"{folder}: {metrics} holds no {split!r} metrics or no seed{remedy}")
    if folder.name.startswith("seed") and folder.name[4:].isdigit() and int(folder.name[4:]) != result["seed"]:
        raise MfonError(f"{folder}: {metrics} is of seed {result['seed']}, the folder of seed {folder.name[4:]}"
                        f"{remedy}")
    expected = result.get("clips", {}).get(split, {}).get("used")
    predicted = sum(row.get("split") == split for row in read_tsv(files["predictions"]))
    if expected is not None and predicted != expected:
        raise MfonError(f"{folder}: {predictions} has {predicted} {split} clips, {metrics} counts {expected}"
                        f"{remedy}")
    return result


def metric_row(variant: str, run_files: list[dict[str, Path]], *, dataset: str, split: str = "test",
               paper: str | None = None) -> dict:
    """One table row: the mean and population std over ``run_files`` (one ``{file name: path}`` per seed, each
    checked by :func:`check_run`) of every metric, the seeds, and the clips used and quarantined per split."""
    results = [check_run(files, split) for files in run_files]
    if not results:
        raise MfonError(f"variant {variant!r} has no finished run")
    present = list(results[0][split])
    order = next((keys for keys in (MOSI_KEYS, SIMS_KEYS) if set(keys) == set(present)), sorted(present))
    row: dict = {"dataset": dataset, "variant": variant, "split": split, "n_seeds": len(results),
                 "seeds": " ".join(str(r["seed"]) for r in results)}
    for name in order:
        values = np.array([_scaled(name, r[split][name]) for r in results], dtype=np.float64)
        row[f"{name}_mean"] = round(float(values.mean()), 4)
        row[f"{name}_std"] = round(float(values.std(ddof=0)), 4)
        published = paper_numbers(paper, variant).get(name)
        if published is not None:
            row[f"{name}_paper"] = published
            row[f"{name}_diff"] = round(row[f"{name}_mean"] - published, 4)
    clips = results[0]["clips"]
    for s in ("train", "valid", "test"):
        row[f"clips_{s}"] = clips.get(s, {}).get("used", 0)
        row[f"quarantined_{s}"] = clips.get(s, {}).get("quarantined", 0)
    return row


def _write_rows(rows: list[dict], out_csv: Path) -> None:
    write_tsv(out_csv, rows, list(dict.fromkeys(k for row in rows for k in row)), delimiter=",")


def build_table(runs: dict[str, list[dict[str, Path]]], out_csv: Path, *, dataset: str,
                split: str = "test", paper: str | None = None) -> list[dict]:
    """``runs`` maps variant -> the files of each of its seeds' runs (:func:`check_run`). Percent metrics are
    x100; MAE and Corr stay values.

    Standard deviations are population std (numpy's default, ddof=0) as the field reports them. With ``paper``
    ("mosi", "mosei", "sims"), each metric the paper reports for the variant gets ``<metric>_paper`` and
    ``<metric>_diff`` (ours minus the paper's) columns beside it. Every run is checked first (:func:`check_run`).
    """
    rows = [metric_row(variant, run_files, dataset=dataset, split=split, paper=paper)
            for variant, run_files in runs.items()]
    _write_rows(rows, out_csv)
    log.info("wrote %s: %d variants", out_csv, len(rows))
    return rows


def experiments_table(groups: list[tuple[str, str, list[dict[str, Path]]]], out_csv: Path, out_md: Path, *,
                      dataset: str, title: str, split: str = "test") -> list[dict]:
    """Experiments side by side: one row per (experiment, variant, the files of its seeds' runs) of ``groups``,
    as :func:`build_table` makes them with an ``experiment`` column first; the paper-style Markdown beside it."""
    rows = [{"experiment": experiment, **metric_row(variant, run_files, dataset=dataset, split=split)}
            for experiment, variant, run_files in groups]
    _write_rows(rows, out_csv)
    paper_table(out_csv, out_md, title=title)
    log.info("wrote %s: %d rows of %d experiments", out_csv, len(rows), len({r["experiment"] for r in rows}))
    return rows
