"""Logging to a rule's log file, and progress lines for long loops."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path


_console = sys.stderr  # where run_step reports a failure; stays the terminal when stderr is redirected


def setup_logging(log_path: str | Path | None = None, level: int = logging.INFO,
                  capture_stderr: bool = True) -> None:
    """Send `mfon` logs to ``log_path`` (and stderr when no path is given).

    With a log file, the process's stderr (file descriptor 2) is appended to it as well, so that native
    libraries' chatter (MediaPipe, TensorFlow Lite, FFmpeg) lands in the rule's log, not on the console.
    """
    global _console
    handlers: list[logging.Handler] = []
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        Path(log_path).write_text("")
        handlers.append(logging.FileHandler(log_path, mode="a", encoding="utf-8"))
        if capture_stderr:
            sys.stderr.flush()
            _console = os.fdopen(os.dup(2), "w", buffering=1)
            fd = os.open(log_path, os.O_WRONLY | os.O_APPEND)
            os.dup2(fd, 2)
            os.close(fd)
    else:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(level=level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


class Progress:
    """Logs `done/total, rate, ETA` at most every ``every_s`` seconds (and at the end)."""

    def __init__(self, logger: logging.Logger, total: int, what: str, every_s: float = 10.0):
        self.logger, self.total, self.what, self.every_s = logger, total, what, every_s
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
    """Run a pipeline step; an MfonError ends the job with its message (no traceback), other errors propagate."""
    from .errors import MfonError

    try:
        return func(*args, **kwargs)
    except MfonError as exc:
        logging.getLogger("mfon").error("%s", exc)
        print(f"ERROR: {exc}", file=_console)
        raise SystemExit(1) from None
