"""Job logging: full log in the rule's log file, progress lines on the console, native noise once."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import PROJECT_ROOT

JOB = textwrap.dedent("""
    import logging, os, sys
    sys.path.insert(0, {root!r})
    from mfon.logutil import Progress, run_step, setup_logging
    from mfon.errors import MfonError
    setup_logging({log!r})
    for i in range(5):  # what a native detector prints for every clip, with its own timestamp and thread id
        os.write(2, f"W0000 00:00:{{1700000000 + i}}.1234 {{4242 + i}} landmark_projection_calculator.cc:186] "
                    f"Using NORM_RECT without IMAGE_DIMENSIONS is only supported for square ROIs\\n".encode())
    logging.getLogger("mfon.training").info("a detail for the log only")
    progress = Progress(2, "visual features", every_s=0)
    progress.step()
    progress.step()
    def fail():
        raise MfonError("clip v1/3: the transcript is empty")
    run_step(fail)
""")


def test_progress_reaches_the_console_and_native_noise_the_log_once(tmp_path):
    log = tmp_path / "logs" / "demo" / "visual_features_0of2.log"
    proc = subprocess.run([sys.executable, "-c", JOB.format(root=str(PROJECT_ROOT), log=str(log))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    console = proc.stderr.splitlines()
    assert "[demo/visual_features_0of2] visual features: 1/2" in console[0], console
    assert "[demo/visual_features_0of2] visual features: 2/2" in console[1], console
    assert console[-1] == "ERROR: clip v1/3: the transcript is empty", console
    assert "NORM_RECT" not in proc.stderr and "a detail for the log only" not in proc.stderr
    text = log.read_text()
    assert text.count("Using NORM_RECT") == 1, text
    assert "(4 repeated lines of native-library output left out)" in text, text
    assert "a detail for the log only" in text and "visual features: 2/2" in text
    assert "ERROR mfon: clip v1/3: the transcript is empty" in text


def test_an_operating_system_error_prints_its_one_line_reason_on_the_console(tmp_path):
    # A read-only results folder: the job's PermissionError must reach the console, not only its log.
    results = tmp_path / "results"
    results.mkdir(mode=0o555)
    log, out = tmp_path / "logs" / "demo" / "clip_status.log", results / "clip_status.tsv"
    job = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(PROJECT_ROOT)!r})
        from mfon.logutil import run_step, setup_logging
        from mfon.tsv import write_tsv
        setup_logging({str(log)!r})
        if os.geteuid() == 0:
            os.setuid(65534)  # as a user: root would ignore the folder's mode
        run_step(write_tsv, {str(out)!r}, [], ["key"])
    """)
    proc = subprocess.run([sys.executable, "-c", job], capture_output=True, text=True, timeout=60)
    results.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"ERROR: {results}") and "Permission denied (PermissionError;" in line, line
    assert "Traceback" in log.read_text() and "PermissionError" in log.read_text()
