"""The results layout: the rule patterns and the parser of run folders agree with the path builders."""

import re
from pathlib import Path

import pytest

from mfon import layout


@pytest.mark.parametrize("tuned, variant", [(False, "mfon"), (False, "no_lva_licl"), (True, "mfon")])
def test_run_dirs_match_the_rule_pattern_and_parse_back(tuned, variant):
    folder = layout.run_dir("mosi", variant, 1112, tuned=tuned)
    pattern = re.escape(layout.RUN_DIR_PATTERN).replace(r"\{dataset\}", "(?P<dataset>[^/]+)") \
        .replace(r"\{run_folder\}", f"(?P<run_folder>{layout.RUN_FOLDER_REGEX})").replace(r"\{seed\}", r"(?P<seed>\d+)")
    match = re.fullmatch(pattern, folder)
    assert match and match["dataset"] == "mosi" and match["seed"] == "1112"
    assert layout.RUN_DIR_PATTERN.format(**match.groupdict()) == folder
    parsed = layout.parse_run_dir(folder)
    assert (parsed["dataset"], parsed["variant"], parsed["seed"], parsed["tuned"]) == ("mosi", variant, 1112, tuned)
    assert str(parsed["workdir"]) == "."


@pytest.mark.parametrize("folder", ["results/mosi/teachers/visual/seed1", "results/mosi/search/trial3",
                                    "results/mosi/teachers/seed1",
                                    "elsewhere/mosi/mfon/mfon/seed1", "results/mosi/mfon/mfon/seedX"])
def test_other_folders_are_not_runs(folder):
    assert layout.parse_run_dir(folder) is None


def test_outputs_made_after_training_never_clash_with_training_outputs():
    folder = layout.run_dir("demo", "mfon", 1)
    made = {layout.run_analysis_file(folder, name) for name in layout.RUN_ANALYSIS_FILES}
    assert not made & set(layout.run_outputs(folder).values())


def test_no_file_name_of_a_run_folder_is_spelled_outside_the_layout():
    """The package, the rules and the workflow scripts ask :mod:`mfon.layout` for a run folder's files."""
    from conftest import PROJECT_ROOT

    names = [*layout.RUN_FILES.values(), layout.RESUME_FILE, layout.TEACHER_TARGETS_FILE,
             *layout.RUN_ANALYSIS_FILES.values()]
    files = [*PROJECT_ROOT.glob("mfon/**/*.py"), *PROJECT_ROOT.glob("rules/*.smk"),
             *PROJECT_ROOT.glob("workflow_scripts/*.py"), PROJECT_ROOT / "Snakefile"]
    spelled = [f"{path.relative_to(PROJECT_ROOT)}: {name}" for path in files if path.name != "layout.py"
               for name in names if name in path.read_text(encoding="utf-8")]
    assert len(files) > 40 and not spelled, spelled


def test_a_table_reads_back_the_runs_its_rule_declares():
    runs = {"mfon": [layout.run_dir("demo", "mfon", s) for s in (1, 2)],
            "text_only": [layout.run_dir("demo", "text_only", 1)]}
    inputs = layout.table_inputs(runs)
    back = layout.table_runs(inputs, ["mfon", "text_only"])
    assert [[files["metrics"] for files in back[v]] for v in runs] == \
        [[layout.run_outputs(folder)["metrics"] for folder in folders] for folders in runs.values()]
    assert set(back["mfon"][1]) == set(layout.TABLE_RUN_FILES) and back["mfon"][1]["checkpoint"].endswith(
        layout.RUN_FILES["checkpoint"])


def test_the_default_experiment_keeps_the_layout_and_a_named_one_has_its_own_folder():
    assert layout.run_dir("demo", "mfon", 1111) == "results/demo/mfon/mfon/seed1111"
    assert layout.teacher_dir("demo", "visual", 1111) == "results/demo/teachers/visual/seed1111"
    assert layout.table("demo", "ablation") == "results/demo_ablation.csv"
    assert layout.run_dir("demo", "no_lva", 1111, experiment="low_lr") == \
        "results/demo/experiments/low_lr/mfon/no_lva/seed1111"
    assert layout.teacher_dir("demo", "visual", 1, "low_lr") == "results/demo/experiments/low_lr/teachers/visual/seed1"
    assert layout.table("demo", "search", experiment="low_lr") == "results/demo/experiments/low_lr/search.csv"
    assert layout.search_best("demo", "low_lr") == "results/demo/experiments/low_lr/search/best.json"


@pytest.mark.parametrize("tuned, variant", [(False, "no_licl"), (True, "mfon")])
@pytest.mark.parametrize("experiment", [None, "low_lr", "mfon"])
def test_an_experiments_run_parses_back(tuned, variant, experiment):
    parsed = layout.parse_run_dir(layout.run_dir("demo", variant, 7, tuned=tuned, experiment=experiment))
    assert parsed == {"workdir": Path("."), "dataset": "demo", "variant": variant, "seed": 7, "tuned": tuned,
                      "experiment": experiment}


def test_experiment_runs_finds_every_experiments_finished_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    finished = [layout.run_dir("demo", "mfon", 1), layout.run_dir("demo", "mfon", 2, tuned=True, experiment="b"),
                layout.run_dir("demo", "no_lva", 3, experiment="a")]
    for folder in [*finished, layout.teacher_dir("demo", "visual", 1), layout.trial_dir("demo", 0, "a")]:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / layout.RUN_FILES["metrics"]).write_text("{}")
    (tmp_path / layout.run_dir("demo", "text_only", 1)).mkdir(parents=True)  # no metrics: not finished
    assert layout.experiment_runs("demo") == sorted(finished)


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "default", "with space", "x" * 65, 3])
def test_a_bad_experiment_name_says_which_and_why(name):
    with pytest.raises(ValueError, match=r"experiment_name .* cannot name a results folder") as caught:
        layout.check_experiment_name(name)
    assert repr(name) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("name", [None, "low_lr", "lr-1e-5", "v2.1", "A"])
def test_good_experiment_names_pass(name):
    assert layout.check_experiment_name(name) == name
