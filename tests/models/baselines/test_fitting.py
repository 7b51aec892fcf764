"""Maximum likelihood on simulated data: days as the unit, many customers, few repeaters."""

from __future__ import annotations

import numpy as np
import pytest

from models.baselines import BetaGeoModel, ParetoNBDModel
from models.baselines._fitting import as_summary, compress, distinct_rows


def simulate_pareto_nbd(
    rng: np.random.Generator, n: int, r: float, alpha: float, s: float, beta: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequency, recency, T) in whole days for a cohort acquired over one year, seen for two.

    Purchases form a Poisson process of rate lambda ~ Gamma(r, alpha) until an exponential
    death with rate mu ~ Gamma(s, beta) (Schmittlein et al. 1987); time is rounded to days.
    """
    age = rng.integers(365, 730, n).astype(float)
    lam = rng.gamma(r, 1 / alpha, n)
    lifetime = rng.exponential(1 / rng.gamma(s, 1 / beta, n))
    active = np.minimum(lifetime, age)
    frequency = rng.poisson(lam * active)
    # The last of x uniform purchase times in (0, active) is active * U^(1/x).
    last = active * rng.random(n) ** (1 / np.maximum(frequency, 1))
    recency = np.where(frequency > 0, np.maximum(np.round(last), 1.0), 0.0)
    return frequency.astype(float), np.minimum(recency, age), age


def test_pareto_nbd_recovers_parameters_in_days(rng: np.random.Generator) -> None:
    truth = {"r": 0.6, "alpha": 80.0, "s": 0.5, "beta": 60.0}
    frequency, recency, age = simulate_pareto_nbd(rng, 20_000, **truth)
    model = ParetoNBDModel().fit(frequency, recency, age)
    for name, value in truth.items():
        assert model.params_[name] == pytest.approx(value, rel=0.1), name


@pytest.mark.parametrize("model_class", [BetaGeoModel, ParetoNBDModel])
def test_fits_with_few_repeaters(rng: np.random.Generator, model_class: type) -> None:
    # Rare buyers with short lives: about 2% of 30,000 customers ever buy twice.
    frequency, recency, age = simulate_pareto_nbd(rng, 30_000, r=0.1, alpha=400.0, s=1.5, beta=20.0)
    assert 0.005 < (frequency > 0).mean() < 0.05
    model = model_class().fit(frequency, recency, age)
    assert all(np.isfinite(v) and v > 0 for v in model.params_.values())
    assert np.isfinite(model.log_likelihood_)
    p_buy = model.probability_of_purchase(90.0, frequency, recency, age)
    assert ((p_buy >= 0) & (p_buy <= 1)).all()
    # Predicted buyers in the next 90 days are a plausible share: well under everyone.
    assert p_buy.mean() < 0.1


def test_compress_keeps_the_likelihood_exact(rng: np.random.Generator) -> None:
    frequency, recency, age = simulate_pareto_nbd(rng, 5_000, r=0.6, alpha=80.0, s=0.5, beta=60.0)
    data = as_summary(frequency, recency, age)
    distinct, weights = compress(data)
    assert weights.sum() == 5_000
    assert distinct.T.size < 5_000
    before = np.column_stack([data.frequency, data.recency, data.T])
    after = np.repeat(
        np.column_stack([distinct.frequency, distinct.recency, distinct.T]),
        weights.astype(int),
        axis=0,
    )
    np.testing.assert_array_equal(np.unique(before, axis=0), np.unique(after, axis=0))
    assert sorted(map(tuple, before)) == sorted(map(tuple, after))


def test_distinct_rows_round_trip() -> None:
    a = np.array([1.0, 2.0, 1.0, 3.0, 2.0])
    b = np.array([5.0, 5.0, 5.0, 5.0, 6.0])
    codes, first = distinct_rows(a, b)
    assert first.tolist() == [0, 1, 3, 4]
    np.testing.assert_array_equal(a[first][codes], a)
    np.testing.assert_array_equal(b[first][codes], b)


def test_pareto_probability_of_purchase_same_with_and_without_repeated_rows(
    fitted_pareto_nbd: ParetoNBDModel, rng: np.random.Generator
) -> None:
    """Whole-week ages repeat, so the quadrature runs once per distinct (x, T)."""
    n = 20_000
    age = rng.integers(1, 40, n).astype(float)
    frequency = rng.poisson(0.8, n).astype(float)
    recency = np.where(frequency > 0, np.ceil(age * rng.random(n)), 0.0)
    together = fitted_pareto_nbd.probability_of_purchase(4.0, frequency, recency, age)
    one_by_one = np.array(
        [
            fitted_pareto_nbd.probability_of_purchase(4.0, frequency[i], recency[i], age[i])[0]
            for i in range(0, n, 997)
        ]
    )
    np.testing.assert_allclose(together[::997], one_by_one, rtol=1e-12)
