"""RecencyRank: ranking by recency, isotonic calibration per horizon."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from models.baselines import RecencyRank


def _snapshot(rng: np.random.Generator, n: int = 5_000) -> tuple[np.ndarray, np.ndarray]:
    """Customers whose waiting time to the next purchase grows with their recency.

    Next purchase after an exponential wait with mean 20 + days since last purchase; half of
    the customers never come back (NaN).
    """
    since = rng.integers(0, 365, n).astype(float)
    wait = rng.exponential(20 + since)
    wait[rng.random(n) < 0.5] = np.nan
    return since, np.ceil(wait)


def test_probabilities_fall_with_recency_and_keep_the_ranking(rng: np.random.Generator) -> None:
    since, until = _snapshot(rng)
    model = RecencyRank(horizons=(7, 30, 90)).fit(since, until)
    grid = np.arange(0, 365, dtype=float)
    for horizon in (7, 30, 90):
        p = model.predict_proba(grid, horizon)
        assert ((p >= 0) & (p <= 1)).all()
        assert (np.diff(p) < 0).all()  # strictly: the calibration keeps the recency order
        bought = np.nan_to_num(until, nan=np.inf) <= horizon
        assert roc_auc_score(bought, model.predict_proba(since, horizon)) == pytest.approx(
            roc_auc_score(bought, model.ranking_score(since))
        )


def test_calibrated_on_the_training_snapshot(rng: np.random.Generator) -> None:
    since, until = _snapshot(rng)
    model = RecencyRank(horizons=(30,)).fit(since, until)
    observed = (np.nan_to_num(until, nan=np.inf) <= 30).mean()
    # Isotonic regression preserves the mean of the labels it was fitted on.
    assert model.predict_proba(since, 30).mean() == pytest.approx(observed, abs=1e-5)


def test_probabilities_never_fall_as_the_horizon_grows(rng: np.random.Generator) -> None:
    since, until = _snapshot(rng)
    model = RecencyRank().fit(since, until)
    table = model.predict_proba_horizons(np.array([0.0, 3.0, 45.0, 200.0, 1000.0]))
    assert table.shape == (5, 5)
    assert (np.diff(table, axis=1) >= 0).all()


def test_unknown_horizon_and_unfitted_model_are_refused(rng: np.random.Generator) -> None:
    with pytest.raises(NotFittedError):
        RecencyRank().predict_proba([1.0], 30)
    since, until = _snapshot(rng, 100)
    model = RecencyRank(horizons=(30,)).fit(since, until)
    with pytest.raises(ValueError, match="horizon"):
        model.predict_proba([1.0], 14)
    with pytest.raises(ValueError, match="increasing"):
        RecencyRank(horizons=(30, 7)).fit(since, until)
    with pytest.raises(ValueError, match=">= 0"):
        model.predict_proba([-1.0], 30)
