"""The whole run's remaining time: the epochs of the training jobs still to run at the measured rates of those done.

Snakemake's "31 of 56 steps (55%) done" counts jobs, and the jobs left are the long ones. The console (see
:mod:`mfon.console`) prints this estimate after each finished job. Pure: the Snakemake side hands in what it
measured and what it still plans. Only the Snakemake process imports it, no job's code: rewording the estimate
reruns nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingJob:
    """A training job of the run: its kind (rule and the model it trains, e.g. ``("train_mfon", "text_only")``),
    its planned epochs, and its wall seconds so far (the whole job's once it has finished)."""

    kind: tuple[str, str]
    epochs: int
    seconds: float = 0.0


def about(seconds: float) -> str:
    """``about 40 s`` below two minutes, else ``about 12 min``."""
    return f"about {seconds:.0f} s" if seconds < 120 else f"about {seconds / 60:.0f} min"


def counted(n: int, noun: str) -> str:
    """``1 epoch``, ``3 epochs``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def seconds_per_epoch(finished: Iterable[TrainingJob]) -> dict[tuple[str, str] | str, float]:
    """Measured wall seconds per epoch of each kind, and of each rule (over its kinds) as the fallback of a kind
    not finished yet. A job that stops early (patience) counts its planned epochs: the rate of such runs, too."""
    totals: dict[tuple[str, str] | str, list[float]] = {}
    for job in finished:
        if job.epochs > 0:
            for key in (job.kind, job.kind[0]):
                seconds, epochs = totals.get(key, [0.0, 0])
                totals[key] = [seconds + job.seconds, epochs + job.epochs]
    return {key: seconds / epochs for key, (seconds, epochs) in totals.items()}


def whole_run_estimate(finished: Iterable[TrainingJob], pending: Iterable[TrainingJob], at_once: int) -> str | None:
    """One console line: the wall time the pending training jobs still need, estimated as their epochs at the
    measured seconds per epoch of the finished jobs of their kind (else of their rule), less the seconds the
    running ones have already had, over ``at_once`` jobs running side by side. None when the run has no training.
    """
    finished, pending = list(finished), list(pending)
    if not finished and not pending:
        return None
    if not pending:
        return "whole run: all training jobs done"
    rates = seconds_per_epoch(finished)
    epochs = sum(job.epochs for job in pending)
    head = f"whole run: {counted(len(pending), 'training job')} ({counted(epochs, 'epoch')}) to go"
    timed = [job for job in pending if job.kind in rates or job.kind[0] in rates]
    if not timed:
        return f"{head}; a time estimate follows the first finished training job"
    seconds = sum(max(job.epochs * rates.get(job.kind, rates.get(job.kind[0], 0.0)) - job.seconds, 0.0)
                  for job in timed)
    at_once = max(min(at_once, len(timed)), 1)
    seconds /= at_once
    untimed = len(pending) - len(timed)
    rest = f", plus {untimed} of a kind not timed yet" if untimed else ""
    return (f"{head}: {about(seconds)} left{rest} (estimate: the measured seconds per epoch of {len(finished)} "
            f"finished {'job' if len(finished) == 1 else 'jobs'}, {at_once} at a time)")
