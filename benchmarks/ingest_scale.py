"""Ingest of a very large label sheet: wall time, peak memory and log size against the rule's declared memory.

    .venv/bin/python benchmarks/ingest_scale.py                  # 1,000,000 rows (a few minutes on 2 cores)
    .venv/bin/python benchmarks/ingest_scale.py --rows 100000

The sheet is generated, never stored: a small demo corpus (real clips, kept) followed by ``--rows`` rows whose
media do not exist (rejected at probing) or whose label is ``nan`` (every tenth; rejected at the sheet check),
with MMSA-like ids and a ten-word transcript. Ingest runs as the pipeline runs it (``ingest_to_files``) in a
fresh process; its peak memory (max RSS) is compared with what the ``ingest`` rule declares for this sheet
(``mfon.manifest.ingest_mem_mb``).
"""

from __future__ import annotations

import argparse
import csv
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mfon.manifest import ingest_mem_mb  # noqa: E402

JOB = """
import logging, sys
sys.path.insert(0, {root!r})
from mfon.manifest import ingest_to_files
logging.basicConfig(filename={log!r}, level=logging.INFO)
result = ingest_to_files({sheet!r}, {data!r}, {out!r} + "/manifest.tsv", {out!r} + "/rejected.tsv",
                         {out!r} + "/rejected_when_refused.tsv", threads=2)
print(len(result.manifest), len(result.rejected))
"""


def make_sheet(data: Path, rows: int) -> Path:
    from mfon.demo import generate_demo_corpus

    sheet = generate_demo_corpus(data, n_speakers=3, clips_per_speaker=2, seed=0)
    with open(sheet, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    with open(sheet, "a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, restval="")
        for i in range(rows):
            writer.writerow({"video_id": f"vid{i // 20:07d}", "clip_id": str(i % 20),
                             "text": "and it was a really rather good film in the end",
                             "label": "nan" if i % 10 == 9 else f"{(i % 61) / 10 - 3:.1f}",
                             "mode": ("train", "valid", "test")[i % 3]})
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        out.mkdir()
        sheet = make_sheet(data, args.rows)
        log = out / "ingest.log"
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", JOB.format(root=str(ROOT), log=str(log), sheet=str(sheet),
                                                                data=str(data), out=str(out))],
                              capture_output=True, text=True, check=True)
        wall = time.monotonic() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        kept, rejected = map(int, proc.stdout.split())
        declared = ingest_mem_mb(sheet)
        print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
        print(f"sheet: {args.rows + 6:,} rows, {sheet.stat().st_size / 1e6:.1f} MB; kept {kept}, rejected {rejected:,}")
        print(f"ingest: {wall:.1f} s wall, peak memory {peak_mb:.0f} MB; the rule declares mem_mb={declared} "
              f"({'within' if peak_mb <= declared else 'OVER'} it)")
        print(f"log: {log.stat().st_size / 1e3:.1f} kB; rejected.tsv: {(out / 'rejected.tsv').stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
