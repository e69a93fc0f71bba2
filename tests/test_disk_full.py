"""A full disk / file-size limit during extraction: a clear message naming the file, no temporary file left behind.

The extraction runs in a real subprocess under RLIMIT_FSIZE (``ulimit -f``) with SIGXFSZ ignored, so that the
write fails with EFBIG as on a full disk (HDF5 2.0 used to end such a run with a SIGSEGV).
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import textwrap

from mfon.manifest import ingest, write_ingest

from conftest import PROJECT_ROOT
from mediafactory import write_clip

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from mfon.errors import MfonError
    from mfon.extraction import extract_shard

    root = Path(sys.argv[1])
    try:
        extract_shard(root / "manifest.tsv", root / "out" / "acoustic_features.h5", root / "out" / "report.tsv",
                      modality="acoustic", dataset="t",
                      settings={"feature_set": "eGeMAPSv02", "sample_rate": 16000, "pool_rate": None})
    except MfonError as exc:
        print(f"mfon: error: {exc}", file=sys.stderr)
        sys.exit(1)
""")


def _extract(root, limit_bytes: int | None) -> subprocess.CompletedProcess:
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-c", SCRIPT, str(root)], capture_output=True, text=True, timeout=300,
                          preexec_fn=limit if limit_bytes else None, cwd=PROJECT_ROOT,
                          # No bytecode writes: under the limit Python would cache truncated .pyc files.
                          env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
                               "PYTHONDONTWRITEBYTECODE": "1"})


def test_file_size_limit_during_extraction_gives_a_clear_error_and_no_temp_file(tmp_path):
    for i in range(4):
        write_clip(tmp_path / "Raw" / "v" / f"{i}.mp4", 2.0)
    (tmp_path / "label.csv").write_text("video_id,clip_id,text,label,mode\n"
                                        + "".join(f"v,{i},hi,1.0,train\n" for i in range(4)))
    write_ingest(ingest(tmp_path / "label.csv", tmp_path), tmp_path / "manifest.tsv", tmp_path / "rejected.tsv")
    out = tmp_path / "out"

    full = _extract(tmp_path, 20_000)  # 4 clips x 200 frames x 25 descriptors do not fit in 20 kB
    assert full.returncode == 1, (full.returncode, full.stderr[-2000:])  # not -11 (SIGSEGV)
    assert f"mfon: error: {out / 'acoustic_features.h5'}: cannot be written: the disk or quota is full, or a " \
           f"file-size limit (ulimit -f) was reached (File too large); the partial file was removed" in full.stderr
    assert "Traceback" not in full.stderr
    assert sorted(p.name for p in out.iterdir()) == []  # no hidden .tmp file, no half-written output

    fits = _extract(tmp_path, None)  # the same extraction without the limit succeeds
    assert fits.returncode == 0, fits.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["acoustic_features.h5", "report.tsv"]
