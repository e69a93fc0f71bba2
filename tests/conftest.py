"""Shared fixtures. Real media from ../shared/data is optional: tests that need it skip without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real test media beside the project; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test media not found at {SHARED_DATA}")
    return SHARED_DATA
