"""The results layout: the rule patterns and the parser of run folders agree with the path builders."""

import re

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
