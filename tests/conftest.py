"""Shared fixtures and the skip policy.

Real media from ../shared/data: tests that need it skip without it on a developer's machine, but FAIL in CI
(``CI=true``), where a missing folder means the suite did not test what it claims. Likewise in CI a
``pytest.importorskip`` of a hard dependency that fails to import fails the test; only the optional extras in
:data:`OPTIONAL_EXTRAS` may skip there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
# Modules of optional extras (pyproject's [project.optional-dependencies] other than test): may be absent in CI.
OPTIONAL_EXTRAS = ("feat",)
IMPORT_SKIP_PREFIX = "could not import "  # pytest.importorskip's reason: "could not import 'NAME': ..."

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real test media beside the project; skipped when absent, except in CI where it fails."""
    if not SHARED_DATA.is_dir():
        message = f"real test media not found at {SHARED_DATA}"
        if IN_CI:
            pytest.fail(f"{message}; CI=true, so the tests that use it must run, not skip", pytrace=False)
        pytest.skip(message)
    return SHARED_DATA


def _forbidden_import_skip(report) -> str | None:
    """The reason of a skip by importorskip of a hard dependency, when that must fail (CI), else None."""
    if not (IN_CI and report.skipped and isinstance(report.longrepr, tuple)):
        return None
    reason = str(report.longrepr[2])
    if reason.startswith("Skipped: "):
        reason = reason[len("Skipped: "):]
    if not reason.startswith(IMPORT_SKIP_PREFIX):
        return None
    module = reason[len(IMPORT_SKIP_PREFIX):].split(":", 1)[0].strip("'\"")
    if module.split(".")[0] in OPTIONAL_EXTRAS:
        return None
    return reason


def _fail_instead_of_skip(report) -> None:
    reason = _forbidden_import_skip(report)
    if reason is not None:
        report.outcome = "failed"
        report.longrepr = f"{reason}\nCI=true: a hard dependency that fails to import fails the test, not skips it"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    _fail_instead_of_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield  # a module-level importorskip skips the whole module at collection
    _fail_instead_of_skip(report)
    return report
