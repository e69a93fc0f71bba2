"""Logging of a pipeline job: the full log in the rule's log file, progress lines on the console.

A job's log file (``logs/...``) gets every ``mfon`` record and the process's native stderr (MediaPipe,
TensorFlow Lite, FFmpeg chatter), the latter with repeated lines written once. The console (the terminal
Snakemake runs in) gets one line per progress step -- epochs, extraction and probing progress -- prefixed
with the job's name, and the error message when a job fails.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

PROGRESS_LOGGER = "mfon.progress"

_console = sys.stderr  # where progress and failures go; stays the terminal when fd 2 goes to the log


def progress_logger() -> logging.Logger:
    """The logger whose records also reach the console: one line per epoch or progress step."""
    return logging.getLogger(PROGRESS_LOGGER)


def job_label(log_path: str | Path) -> str:
    """``logs/demo/mfon/mfon_seed1111.log`` -> ``demo/mfon/mfon_seed1111``: the job, as the console shows it."""
    parts = Path(log_path).with_suffix("").parts
    below = [i for i, part in enumerate(parts) if part == "logs"]
    return "/".join(parts[below[-1] + 1:] if below else parts[-1:])


def setup_logging(log_path: str | Path | None = None, level: int = logging.INFO,
                  capture_stderr: bool = True) -> None:
    """Send `mfon` logs to ``log_path`` and progress lines to the console (everything to stderr without a path).

    With a log file, the process's stderr (file descriptor 2) is appended to it as well (repeated lines of
    native libraries once), so that their chatter lands in the rule's log, not on the console.
    """
    global _console
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = []
    if log_path:
        end_with_parent()  # a job's log path: this process is a pipeline job
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        Path(log_path).write_text("")
        handlers.append(logging.FileHandler(log_path, mode="a", encoding="utf-8"))
        if capture_stderr:
            sys.stderr.flush()
            _console = os.fdopen(os.dup(2), "w", buffering=1)
            _NativeStderr(Path(log_path)).start()
        console = logging.StreamHandler(_console)
        console.setFormatter(logging.Formatter(f"[{job_label(log_path)}] %(message)s"))
        console.addFilter(lambda record: record.name == PROGRESS_LOGGER)
    else:
        handlers.append(logging.StreamHandler(sys.stderr))
        console = None
    for handler in handlers:
        handler.setFormatter(fmt)
    logging.basicConfig(level=level, handlers=handlers, force=True)
    if console is not None:
        logging.getLogger().addHandler(console)


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def end_with_parent() -> None:
    """Ask the kernel to end this process (SIGTERM) when the process that started it is gone (Linux).

    Snakemake starts a script job as its own child (its bash execs the interpreter), so a job whose Snakemake
    was killed with SIGKILL, which leaves no chance to end its jobs, does not go on training on its own.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = os.getppid()
    try:
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent was gone before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


class _NativeStderr:
    """fd 2 into a pipe; a thread appends each line to the log, repeated native-library lines only once.

    A line's identity ignores glog-style headers and numbers (timestamps, thread ids, addresses), so that the
    same message from each clip's detector is written once, with a count of what was left out at exit.
    Python tracebacks and indented lines are always written.
    """

    _HEADER = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [^\]]*\] ")

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.seen: set[str] = set()
        self.suppressed = 0
        self.written = 0
        self.stopped = False

    def start(self) -> None:
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        self.reader = os.fdopen(read_fd, "r", errors="replace")
        self.out = open(self.log_path, "a", encoding="utf-8", buffering=1)
        self.thread = threading.Thread(target=self._pump, name="native-stderr", daemon=True)
        self.thread.start()
        atexit.register(self.stop)

    def _key(self, line: str) -> str | None:
        if not line.strip() or line[0].isspace() or line.startswith("Traceback") or "Error" in line:
            return None
        return re.sub(r"\d+", "#", self._HEADER.sub("", line))

    def _pump(self) -> None:
        for line in self.reader:
            key = self._key(line)
            if key is not None and key in self.seen:
                self.suppressed += 1
                continue
            if key is not None:
                self.seen.add(key)
            self.out.write(line)
            self.written += 1

    def stop(self) -> None:
        """Close fd 2 so the thread sees the end, let it drain, note what was left out."""
        if self.stopped:
            return
        self.stopped = True
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        self.thread.join(timeout=5)
        if self.suppressed:
            self.out.write(f"({self.suppressed} repeated lines of native-library output left out)\n")
        self.out.flush()


@contextmanager
def native_stderr_to(log_path: Path):
    """Within the block, native libraries' stderr (fd 2: MediaPipe, TensorFlow Lite) goes to ``log_path``, repeated
    lines once, while Python's ``sys.stderr`` (messages, warnings, tracebacks) stays the terminal. Yields the
    capture: ``written`` and ``suppressed`` count the lines, for a note on the console."""
    sys.stderr.flush()
    saved_fd = os.dup(2)
    terminal, python_stderr = os.fdopen(os.dup(2), "w", buffering=1), sys.stderr
    sys.stderr = terminal
    capture = _NativeStderr(Path(log_path))
    capture.start()
    try:
        yield capture
    finally:
        capture.stop()
        capture.out.close()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        sys.stderr = python_stderr
        terminal.close()


class Progress:
    """Logs `done/total, rate, ETA` at most every ``every_s`` seconds (and at the end), on the console too."""

    def __init__(self, total: int, what: str, every_s: float = 10.0):
        self.total, self.what, self.every_s = total, what, every_s
        self.logger = progress_logger()
        self.start = self.last = time.monotonic()
        self.done = 0

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every_s or self.done == self.total:
            self.last = now
            elapsed = now - self.start
            rate = self.done / elapsed if elapsed > 0 else float("inf")
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            self.logger.info("%s: %d/%d (%.2f/s, ETA %.0f s)", self.what, self.done, self.total, rate, eta)


def run_step(func, /, *args, **kwargs):
    """Run a pipeline step; an MfonError ends the job with its message (no traceback). An operating-system
    error (permission denied, a read-only folder, a missing file) ends it with a one-line reason on the
    console and its traceback in the log; other errors propagate."""
    from .errors import MfonError

    try:
        return func(*args, **kwargs)
    except MfonError as exc:
        logging.getLogger("mfon").error("%s", exc)
        print(f"ERROR: {exc}", file=_console)
        raise SystemExit(1) from None
    except OSError as exc:
        logging.getLogger("mfon").exception("operating-system error")
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"ERROR: {where}{exc.strerror or exc} ({type(exc).__name__}; the traceback is in the job's log). "
              f"Check the folder's permissions and free space, then rerun", file=_console)
        raise SystemExit(1) from None
