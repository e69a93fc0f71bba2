"""The whole run's remaining-time estimate and the console's short job headers, on exact inputs."""

from __future__ import annotations

from mfon.console import short_header_item, short_list
from mfon.progress import TrainingJob, about, seconds_per_epoch, whole_run_estimate

TEACHER_V, TEACHER_A = ("train_teacher", "visual"), ("train_teacher", "acoustic")
MFON, TEXT_ONLY = ("train_mfon", "mfon"), ("train_mfon", "text_only")


def test_rates_are_per_kind_with_the_rule_as_fallback():
    rates = seconds_per_epoch([TrainingJob(TEACHER_V, 10, 50.0), TrainingJob(TEACHER_V, 10, 70.0),
                               TrainingJob(TEACHER_A, 20, 40.0), TrainingJob(MFON, 0, 9.0)])
    assert rates == {TEACHER_V: 6.0, TEACHER_A: 2.0, "train_teacher": 160 / 40}  # a 0-epoch job measures nothing


def test_estimate_from_measured_rates_less_the_time_running_jobs_had():
    finished = [TrainingJob(TEACHER_V, 10, 60.0), TrainingJob(MFON, 10, 300.0)]
    pending = [TrainingJob(MFON, 10, 100.0),  # running for 100 s: 200 s to go
               TrainingJob(MFON, 10), TrainingJob(TEXT_ONLY, 10),  # 300 s; text_only at train_mfon's rate: 300 s
               TrainingJob(TEACHER_A, 10)]  # train_teacher's rate: 60 s
    line = whole_run_estimate(finished, pending, at_once=2)
    assert line == ("whole run: 4 training jobs (40 epochs) to go: about 7 min left (estimate: the measured seconds "
                    "per epoch of 2 finished jobs, 2 at a time)")  # (200 + 300 + 300 + 60) / 2 = 430 s


def test_estimate_names_jobs_it_cannot_time_and_runs_no_more_at_once_than_there_are_jobs():
    line = whole_run_estimate([TrainingJob(TEACHER_V, 5, 50.0)],
                              [TrainingJob(TEACHER_V, 5, 20.0), TrainingJob(MFON, 3)], at_once=4)
    assert line == ("whole run: 2 training jobs (8 epochs) to go: about 30 s left, plus 1 of a kind not timed yet "
                    "(estimate: the measured seconds per epoch of 1 finished job, 1 at a time)")


def test_estimate_before_any_and_after_all_training_and_without_training():
    assert whole_run_estimate([], [TrainingJob(MFON, 1)], at_once=2) == (
        "whole run: 1 training job (1 epoch) to go; a time estimate follows the first finished training job")
    assert whole_run_estimate([TrainingJob(MFON, 1, 3.0)], [], at_once=2) == "whole run: all training jobs done"
    assert whole_run_estimate([], [], at_once=2) is None
    assert (about(119.4), about(120), about(3600)) == ("about 119 s", "about 2 min", "about 60 min")


def test_a_long_file_list_shows_its_first_files_and_where_all_are():
    files = [f"results/d/run{i}/metrics.json" for i in range(40)]  # 27 characters each
    assert short_list(files, width=100) == ", ".join(files[:3]) + ", … and 37 more"
    assert short_list(files[:2], width=100) == ", ".join(files[:2])
    assert short_list(["x" * 150, "y"], width=100) == "x" * 150 + ", … and 1 more"  # at least one, whole
    reason = f"Missing output files: {', '.join(files[:2])}; Input files updated by another job: {', '.join(files)}"
    assert short_header_item(reason, "LOG", width=200) == (
        f"Missing output files: {', '.join(files[:2])}; Input files updated by another job: "
        f"{', '.join(files[:3])}, … and 37 more (all in LOG)")
    assert short_header_item("Updated input files: results/.code/train_mfon.sha256", "LOG") == (
        "Updated input files: results/.code/train_mfon.sha256")


def test_a_header_with_many_long_lists_falls_back_to_counts():
    many = [f"results/a_long_dataset_name/mfon/visual_only/seed{i}/predictions.tsv" for i in range(9)]
    reason = (f"Missing output files: {', '.join(many)}; Updated input files: results/.code/train_mfon.sha256; "
              f"Input files updated by another job: {', '.join(many)}")
    short = short_header_item(reason, ".snakemake/log/2026-12-07T174245.926524.snakemake.log")
    assert short == ("Missing output files: 9 files; Updated input files: results/.code/train_mfon.sha256; Input "
                     "files updated by another job: 9 files (all in .snakemake/log/2026-12-07T174245.926524."
                     "snakemake.log)")
