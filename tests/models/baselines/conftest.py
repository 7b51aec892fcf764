"""Shared fixtures: the CDNOW 1/10 sample summary (weeks) and models fitted on it once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.baselines import BetaGeoModel, ParetoNBDModel

DATA = Path("/work/shared/data")
if not DATA.exists():  # a checkout next to the shared folder
    DATA = Path(__file__).resolve().parents[4] / "shared" / "data"


@pytest.fixture(scope="session")
def cdnow_sample() -> pd.DataFrame:
    """2,357 customers, 39-week calibration period ending 1997-09-30 (Fader et al. 2005)."""
    return pd.read_csv(DATA / "cdnow_sample_summary.csv")


@pytest.fixture(scope="session")
def fitted_bg_nbd(cdnow_sample: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow_sample["frequency"], cdnow_sample["recency"], cdnow_sample["T"])


@pytest.fixture(scope="session")
def fitted_pareto_nbd(cdnow_sample: pd.DataFrame) -> ParetoNBDModel:
    return ParetoNBDModel().fit(
        cdnow_sample["frequency"], cdnow_sample["recency"], cdnow_sample["T"]
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20050301)
