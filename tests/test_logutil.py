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


def test_a_job_ends_when_the_snakemake_that_started_it_is_killed(tmp_path):
    import os
    import signal
    import time

    (tmp_path / "job.py").write_text(textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(PROJECT_ROOT)!r})
        from mfon.logutil import setup_logging
        setup_logging(snakemake.log[0])
        with open("job.pid", "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(120)  # a long training run
        open(snakemake.output[0], "w").close()
    """))
    (tmp_path / "Snakefile").write_text('rule train:\n    output: "done"\n    log: "logs/train.log"\n'
                                        '    script: "job.py"\n')
    scheduler = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1", "-q"], cwd=tmp_path,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid_file, job = tmp_path / "job.pid", None
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and scheduler.poll() is None, "the job did not start"
            time.sleep(0.1)
        job = int(pid_file.read_text())
        assert int(open(f"/proc/{job}/stat").read().rsplit(")", 1)[1].split()[1]) == scheduler.pid  # no shell between
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait()
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{job}") and "zombie" not in open(f"/proc/{job}/status").read():
            assert time.monotonic() < deadline, "the job outlived the Snakemake that started it"
            time.sleep(0.1)
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
        if job is not None and os.path.exists(f"/proc/{job}"):
            os.kill(job, signal.SIGKILL)
