"""Fixtures of the policy tests; the helpers themselves live in `policy_helpers.py`."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

# --import-mode=importlib does not put test folders on sys.path; the helper module needs it.
sys.path.insert(0, str(Path(__file__).parent))

from policy_helpers import synthetic_shop


@pytest.fixture(scope="session")
def shop() -> dict[str, pd.DataFrame]:
    """A shop of 3,000 customers."""
    return synthetic_shop(3000)
