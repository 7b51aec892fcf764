"""BG/NBD: published estimates, closed forms against Monte Carlo, and basic behaviour.

Reference figures come from Fader, Hardie and Lee (2005), "Counting your customers the easy
way", Marketing Science 24(2): MLE r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 with
log-likelihood -9582.4 on the CDNOW 1/10 sample, and 1.226 expected purchases in the next 39
weeks for the customer with x = 2, t_x = 30.43, T = 38.86.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from models.baselines import BetaGeoModel

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
# Customers (x, t_x, T) in weeks: a one-time buyer, the paper's example, a frequent buyer who
# went quiet, and a frequent recent buyer.
CUSTOMERS = np.array([[0, 0.0, 38.86], [2, 30.43, 38.86], [5, 12.0, 38.86], [7, 37.0, 38.0]])


def test_reproduces_published_estimates(fitted_bg_nbd: BetaGeoModel) -> None:
    assert {k: round(v, 3) for k, v in fitted_bg_nbd.params_.items()} == PUBLISHED


def test_reproduces_published_log_likelihood(
    fitted_bg_nbd: BetaGeoModel, cdnow_sample: pd.DataFrame
) -> None:
    total = fitted_bg_nbd.log_likelihood_ * len(cdnow_sample)
    assert round(total, 1) == -9582.4


def test_paper_example_expected_purchases_in_39_weeks(fitted_bg_nbd: BetaGeoModel) -> None:
    assert round(float(fitted_bg_nbd.expected_purchases(39, 2, 30.43, 38.86)[0]), 3) == 1.226


def test_alive_for_certain_without_repeat_purchases(fitted_bg_nbd: BetaGeoModel) -> None:
    p_alive = fitted_bg_nbd.probability_alive([0, 0, 2], [0.0, 0.0, 30.43], [5.0, 38.86, 38.86])
    assert p_alive[:2].tolist() == [1.0, 1.0]
    assert 0.0 < p_alive[2] < 1.0


def _posterior_monte_carlo(
    params: dict[str, float], customer: np.ndarray, t: float, rng: np.random.Generator
) -> tuple[float, float, float, float]:
    """P(buy in (T, T+t]) and E[purchases] by importance sampling from the prior.

    Draw lambda ~ Gamma(r, alpha) and p ~ Beta(a, b), weight by the individual likelihood of
    the history, and average the individual-level answers: alive-at-T probability times
    1 - exp(-lambda t) (the next purchase comes before any dropout), and (1 - exp(-lambda p t))
    / p expected purchases (the individual-level BG/NBD mean, restarted at T by memorylessness).
    """
    x, t_x, age = customer
    n = 400_000
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    alive = (1 - p) ** x * lam**x * np.exp(-lam * age)
    dropped = p * (1 - p) ** (x - 1) * lam**x * np.exp(-lam * t_x) if x > 0 else 0.0
    weight = alive + dropped
    buy = alive * -np.expm1(-lam * t)
    count = alive * -np.expm1(-lam * p * t) / p
    norm = weight.mean()
    buy_se = np.std(buy - buy.mean() / norm * weight) / np.sqrt(n) / norm
    count_se = np.std(count - count.mean() / norm * weight) / np.sqrt(n) / norm
    return buy.mean() / norm, buy_se, count.mean() / norm, count_se


@pytest.mark.parametrize("row", range(len(CUSTOMERS)))
def test_closed_forms_match_monte_carlo(
    fitted_bg_nbd: BetaGeoModel, rng: np.random.Generator, row: int
) -> None:
    x, t_x, age = CUSTOMERS[row]
    horizon = 13.0
    buy_mc, buy_se, count_mc, count_se = _posterior_monte_carlo(
        fitted_bg_nbd.params_, CUSTOMERS[row], horizon, rng
    )
    buy = fitted_bg_nbd.probability_of_purchase(horizon, x, t_x, age)[0]
    count = fitted_bg_nbd.expected_purchases(horizon, x, t_x, age)[0]
    assert abs(buy - buy_mc) < 4 * buy_se + 1e-4
    assert abs(count - count_mc) < 4 * count_se + 1e-4


def test_probability_of_purchase_grows_with_the_horizon_up_to_p_alive(
    fitted_bg_nbd: BetaGeoModel,
) -> None:
    horizons = np.array([0.0, 0.5, 1, 2, 4, 13, 26, 52, 520, 1e30])
    x, t_x, age = CUSTOMERS.T
    grid = np.array([fitted_bg_nbd.probability_of_purchase(h, x, t_x, age) for h in horizons])
    assert (grid[0] == 0).all()
    assert (np.diff(grid, axis=0) >= 0).all()
    p_alive = fitted_bg_nbd.probability_alive(x, t_x, age)
    assert (grid <= p_alive + 1e-12).all()
    np.testing.assert_allclose(grid[-1], p_alive, rtol=1e-3)


def test_expected_purchases_grow_with_the_horizon(fitted_bg_nbd: BetaGeoModel) -> None:
    x, t_x, age = CUSTOMERS.T
    grid = np.array([fitted_bg_nbd.expected_purchases(h, x, t_x, age) for h in (0, 1, 13, 39)])
    assert (grid[0] == 0).all()
    assert (np.diff(grid, axis=0) > 0).all()


def test_expected_purchases_stay_finite_far_out_on_the_no_dropout_ridge() -> None:
    """A young shop's fit (75 days of orders) ended here: scipy's 2F1 is NaN at these
    parameters, though the answer is nearly a Poisson rate times the horizon (no dropout)."""
    model = BetaGeoModel()
    model.params_ = {"r": 42933480.9, "alpha": 2374706889.99, "a": 0.000167675, "b": 5791.05}
    x, t_x, T = np.array([0.0, 1.0, 4.0]), np.array([0.0, 30.0, 70.0]), np.array([10.0, 60.0, 75.0])
    expected = model.expected_purchases(90, x, t_x, T)
    r, alpha = model.params_["r"], model.params_["alpha"]
    without_dropout = (r + x) / (alpha + T) * 90 * model.probability_alive(x, t_x, T)
    assert np.isfinite(expected).all()
    assert (expected <= without_dropout).all()  # dropout can only take purchases away
    np.testing.assert_allclose(expected, without_dropout, rtol=1e-6)


def test_time_unit_only_rescales_alpha(
    fitted_bg_nbd: BetaGeoModel, cdnow_sample: pd.DataFrame
) -> None:
    weeks = fitted_bg_nbd
    days = BetaGeoModel().fit(
        cdnow_sample["frequency"], cdnow_sample["recency"] * 7, cdnow_sample["T"] * 7
    )
    assert days.params_["alpha"] == pytest.approx(weeks.params_["alpha"] * 7, rel=1e-4)
    for name in ("r", "a", "b"):
        assert days.params_[name] == pytest.approx(weeks.params_[name], rel=1e-4)
    p_weeks = weeks.probability_of_purchase(4, 2, 30.43, 38.86)
    p_days = days.probability_of_purchase(28, 2, 30.43 * 7, 38.86 * 7)
    np.testing.assert_allclose(p_days, p_weeks, rtol=1e-4)


def test_predicting_before_fit_raises() -> None:
    model = BetaGeoModel()
    with pytest.raises(NotFittedError):
        model.probability_alive([1], [2.0], [3.0])
    with pytest.raises(NotFittedError):
        model.probability_of_purchase(1.0, [1], [2.0], [3.0])
    with pytest.raises(NotFittedError):
        model.expected_purchases(1.0, [1], [2.0], [3.0])


def test_refuses_inconsistent_summaries() -> None:
    model = BetaGeoModel()
    with pytest.raises(ValueError, match="recency"):
        model.fit([1, 0], [5.0, 0.0], [4.0, 3.0])
    with pytest.raises(ValueError, match="whole numbers"):
        model.fit([1.5, 0], [2.0, 0.0], [4.0, 3.0])
    with pytest.raises(ValueError, match="repeat purchase"):
        model.fit([0, 0], [0.0, 0.0], [4.0, 3.0])
