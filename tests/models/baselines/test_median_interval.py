"""MedianIntervalRule: last purchase + median interval, softened and calibrated."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from models.baselines import MedianIntervalRule


def _snapshot(rng: np.random.Generator, n: int = 6_000) -> tuple[np.ndarray, ...]:
    """Regular buyers: each buys every `interval` days (+-10%), a fifth have one purchase only."""
    interval = rng.choice([15.0, 30.0, 60.0, 120.0], n)
    since = np.floor(rng.uniform(0, 1.2, n) * interval)
    until = np.maximum(interval * rng.normal(1, 0.1, n) - since, 1.0).round()
    median_interval = interval.copy()
    median_interval[rng.random(n) < 0.2] = np.nan
    return since, median_interval, until


def test_predicted_gap_falls_back_to_the_population_median() -> None:
    since = np.array([10.0, 10.0, 40.0, 0.0])
    intervals = np.array([30.0, np.nan, 20.0, 50.0])
    until = np.array([20.0, np.nan, 5.0, 50.0])
    model = MedianIntervalRule(horizons=(30,)).fit(since, intervals, until)
    assert model.population_median_interval_ == 30.0  # median of 30, 20 and 50
    np.testing.assert_array_equal(
        model.predict_days_until_next(since, intervals), [20.0, 20.0, -20.0, 50.0]
    )


def test_hard_rule_without_spread(rng: np.random.Generator) -> None:
    since, intervals, until = _snapshot(rng)
    model = MedianIntervalRule(horizons=(30,), spread=0.0).fit(since, intervals, until)
    p = model.predict_proba(since, intervals, 30)
    gap = model.predict_days_until_next(since, intervals)
    fires = (gap > 0) & (gap <= 30)
    bought = until <= 30
    # Two calibrated levels: the buying rate where the rule fires and where it does not.
    np.testing.assert_allclose(p[fires], bought[fires].mean(), atol=2e-6)
    np.testing.assert_allclose(p[~fires], bought[~fires].mean(), atol=2e-6)


def test_soft_rule_ranks_regular_buyers_well(rng: np.random.Generator) -> None:
    since, intervals, until = _snapshot(rng)
    model = MedianIntervalRule(horizons=(7, 30)).fit(since, intervals, until)
    test_since, test_intervals, test_until = _snapshot(rng)
    for horizon in (7, 30):
        p = model.predict_proba(test_since, test_intervals, horizon)
        assert ((p >= 0) & (p <= 1)).all()
        assert roc_auc_score(test_until <= horizon, p) > 0.8


def test_probabilities_never_fall_as_the_horizon_grows(rng: np.random.Generator) -> None:
    since, intervals, until = _snapshot(rng)
    model = MedianIntervalRule().fit(since, intervals, until)
    table = model.predict_proba_horizons(since[:500], intervals[:500])
    assert table.shape == (500, 5)
    assert (np.diff(table, axis=1) >= 0).all()


def test_refusals() -> None:
    with pytest.raises(NotFittedError):
        MedianIntervalRule().predict_proba([1.0], [10.0], 30)
    with pytest.raises(ValueError, match="two purchases"):
        MedianIntervalRule().fit([1.0, 2.0], [np.nan, np.nan], [3.0, np.nan])
    model = MedianIntervalRule(horizons=(30,)).fit([1.0, 2.0], [10.0, np.nan], [3.0, np.nan])
    with pytest.raises(ValueError, match="horizon"):
        model.predict_proba([1.0], [10.0], 90)
    with pytest.raises(ValueError, match="length"):
        model.predict_proba([1.0, 2.0], [10.0], 30)
