"""The skip policy of conftest.py: in CI (CI=true) missing real media and a hard dependency that fails to import
fail the run; on a developer's machine they skip. Checked by running pytest on a copy of the test folder that has
no ../shared/data beside it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import PROJECT_ROOT

PROBES = textwrap.dedent("""
    import pytest

    def test_hard_dependency():
        pytest.importorskip("mfon_missing_hard_dependency")

    def test_optional_extra():
        pytest.importorskip("feat.mfon_missing_submodule")  # py-feat is an optional extra

    def test_plain_skip():
        pytest.skip("a deliberate skip with its own reason")
""")
MODULE_LEVEL = textwrap.dedent("""
    import pytest

    cv2 = pytest.importorskip("mfon_missing_module_level_dependency")

    def test_never_collected():
        pass
""")


@pytest.fixture
def copy(tmp_path):
    """<tmp>/project/tests with the real conftest, mediafactory and test_ingest, plus probe tests; no
    <tmp>/shared/data."""
    tests = tmp_path / "project" / "tests"
    tests.mkdir(parents=True)
    for name in ("conftest.py", "mediafactory.py", "test_ingest.py"):
        shutil.copy(PROJECT_ROOT / "tests" / name, tests / name)
    (tests / "test_probes.py").write_text(PROBES)
    (tests / "test_module_level.py").write_text(MODULE_LEVEL)
    return tmp_path


def pytest_in(copy, ci: bool) -> tuple[int, str]:
    """pytest's exit status and its short summary (one line per test that did not pass, with -rA all)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env.update(PYTHONPATH=str(PROJECT_ROOT), HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    if ci:
        env["CI"] = "true"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "-q",
                           "--continue-on-collection-errors", "tests/test_probes.py", "tests/test_module_level.py",
                           "tests/test_ingest.py::test_real_mosi_clip_probes"],
                          cwd=copy / "project", env=env, capture_output=True, text=True, timeout=300)
    summary = "\n".join(line for line in proc.stdout.splitlines()
                         if re.match(r"^(PASSED|FAILED|SKIPPED|ERROR) ", line))
    return proc.returncode, summary


def test_in_ci_missing_media_and_hard_imports_fail(copy):
    rc, summary = pytest_in(copy, ci=True)
    assert rc == 1, summary
    expected = [
        r"ERROR tests/test_ingest.py::test_real_mosi_clip_probes - Failed: real test media not found at "
        + re.escape(str(copy / "shared" / "data")) + r"; CI=true, so the tests that use it must run, not skip",
        r"FAILED tests/test_probes.py::test_hard_dependency - could not import 'mfon_missing_hard_dependency'",
        r"ERROR tests/test_module_level.py - could not import 'mfon_missing_module_level_dependency'",
        r"SKIPPED \[1\] tests/test_probes.py:\d+: could not import 'feat.mfon_missing_submodule'",  # optional extra
        r"SKIPPED \[1\] tests/test_probes.py:\d+: a deliberate skip with its own reason",
    ]
    for pattern in expected:
        assert re.search(pattern, summary), f"{pattern!r} not in:\n{summary}"
    assert len(summary.splitlines()) == len(expected), summary


def test_outside_ci_they_skip(copy):
    rc, summary = pytest_in(copy, ci=False)
    assert rc == 0, summary
    lines = summary.splitlines()
    assert len(lines) == 5 and all(line.startswith("SKIPPED") for line in lines), summary
    assert "real test media not found" in summary


def test_in_ci_present_media_are_used(copy, shared_data):
    (copy / "shared").mkdir()
    (copy / "shared" / "data").symlink_to(shared_data)
    rc, summary = pytest_in(copy, ci=True)
    assert "PASSED tests/test_ingest.py::test_real_mosi_clip_probes" in summary, summary
