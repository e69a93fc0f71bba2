"""Snakemake's console during a run: short job headers, and the whole run's remaining time after each job.

A job header lists every input file and the reason names every changed one: for the table, lines of thousands of
characters that bury the jobs' own progress lines. On the console (not in Snakemake's log file under
``.snakemake/log/``, which keeps every line whole) a long list shows its first files and how many more there are,
and names that log. Only when there is such a log: a dry run (``-n``, ``--reason``) lists everything.
"""

from __future__ import annotations

import logging
import os
import time

from .progress import TrainingJob, whole_run_estimate

LIST_WIDTH = 120  # characters of the file lists of one header line on the console
HEADER_WIDTH = 240  # at most, of a shortened header line (unless one file's path is longer): under 300 in all


def short_list(items: list[str], width: int = LIST_WIDTH) -> str:
    """``a, b, … and 12 more``: the first items within about ``width`` characters (at least one); the whole list
    when it fits."""
    whole = ", ".join(items)
    if len(whole) <= width:
        return whole
    shown = [items[0]]
    for item in items[1:]:
        if len(", ".join([*shown, item])) > width:
            break
        shown.append(item)
    return f"{', '.join(shown)}, … and {len(items) - len(shown)} more"


def short_header_item(text: str, where: str, width: int = LIST_WIDTH) -> str:
    """A job header's ``input`` (``a, b, c``) or ``reason`` (``Missing output files: a, b; Input files updated by
    another job: c, d``) with each file list shortened (:func:`short_list`) to its share of ``width``, or to its
    count when that is still over :data:`HEADER_WIDTH`; a shortened one names ``where`` all of it is."""
    clauses = [clause.partition(": ") if ": " in clause else ("", "", clause) for clause in text.split("; ")]
    share = max(width // len(clauses), 60)
    short = "; ".join(f"{label}{sep}{short_list(files.split(', '), share)}" for label, sep, files in clauses)
    if short == text:
        return text
    if len(short) + len(where) > HEADER_WIDTH:
        short = "; ".join(f"{label}{sep}{n} files" if (n := len(files.split(", "))) > 1 else f"{label}{sep}{files}"
                          for label, sep, files in clauses)
    return f"{short} (all in {where})"


class RunConsole(logging.Formatter):
    """Wraps the formatter of Snakemake's console handler: shortens the job headers' file lists, times each job
    (from its header to its "Finished" line) and adds the whole run's remaining training time to the progress
    line."""

    def __init__(self, inner: logging.Formatter, workflow):
        super().__init__()
        self.inner, self.workflow = inner, workflow
        self.started: dict[int, float] = {}
        self.finished: dict[int, float] = {}
        self.epochs: dict = {}  # per job: its planned epochs, None for a job that does not train

    def format(self, record: logging.LogRecord) -> str:
        from snakemake_interface_logger_plugins.common import LogEvent

        event = getattr(record, "event", None)
        logs = self.workflow.logger_manager.get_logfile()
        if event in (LogEvent.JOB_INFO, LogEvent.JOB_ERROR) and logs:
            where = os.path.relpath(logs[0])
            record = logging.makeLogRecord(record.__dict__)
            if record.__dict__.get("input"):
                record.input = [short_header_item(", ".join(record.input), where)]
            if isinstance(record.__dict__.get("reason"), str):
                record.reason = short_header_item(record.reason, where)
        text = self.inner.format(record)
        now = time.monotonic()
        if event == LogEvent.JOB_INFO:
            self.started.setdefault(record.jobid, now)
        elif event == LogEvent.JOB_FINISHED and record.job_id in self.started:
            self.finished[record.job_id] = now - self.started[record.job_id]
        elif event == LogEvent.PROGRESS:
            estimate = self.estimate(now)
            if estimate:
                text = f"{text}\n{estimate}"
        return text

    def estimate(self, now: float) -> str | None:
        dag = self.workflow.dag
        if dag is None or not self.started:  # no job header seen (--quiet rules): nothing timed, no estimate
            return None
        finished, pending, at_once = [], [], []
        for job in dag.needrun_jobs(exclude_finished=False):
            if job not in self.epochs:
                self.epochs[job] = planned_epochs(job)
            epochs = self.epochs[job]
            if epochs is None:
                continue
            kind = (job.rule.name, model_of(job.wildcards_dict))
            if job.jobid in self.finished:
                finished.append(TrainingJob(kind, epochs, self.finished[job.jobid]))
            elif not dag.finished(job):
                pending.append(TrainingJob(kind, epochs, now - self.started.get(job.jobid, now)))
                at_once.append(self.side_by_side(job))
        return whole_run_estimate(finished, pending, min(at_once, default=1))

    def side_by_side(self, job) -> int:
        """How many jobs like ``job`` run at once: on a cluster, ``--jobs``; locally, ``--cores`` over its threads."""
        resources = self.workflow.resource_settings
        if not self.workflow.local_exec:
            return max(resources.nodes or 1, 1)
        return max((resources.cores or 1) // max(job.threads, 1), 1)


def planned_epochs(job) -> int | None:
    """The epochs a training job plans (its ``run`` param's training settings; a baseline's ``max_epochs``);
    None for other jobs."""
    run = getattr(job.params, "run", None)
    if not isinstance(run, dict):
        return None
    training = run.get("training", run)
    epochs = training.get("epochs", training.get("max_epochs")) if isinstance(training, dict) else None
    return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None


def model_of(wildcards: dict) -> str:
    """What a training job trains, from its wildcards: a variant, a teacher's modality or a baseline model."""
    return next((str(wildcards[k]) for k in ("variant", "modality", "model") if k in wildcards), "")


def install(workflow) -> None:
    """Put :class:`RunConsole` on Snakemake's own console handler (not a logger plugin's, not the log file's);
    written against Snakemake 9.27's logging (requirements/lock.txt), a Snakemake without it keeps its console."""
    manager = getattr(workflow, "logger_manager", None)
    for handler in manager.logger.handlers if manager is not None else ():
        if handler.name == "DefaultStreamHandler" and not isinstance(handler.formatter, RunConsole):
            handler.setFormatter(RunConsole(handler.formatter, workflow))
