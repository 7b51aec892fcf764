"""Fixtures every test tier shares: where the benchmark data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def cdnow_path() -> Path:
    """The CDNOW master file shipped beside the repository (../shared/data)."""
    path = SHARED_DATA / "cdnow_master.csv"
    assert path.exists(), f"CDNOW data missing at {path}"
    return path
