"""Pareto/NBD: published estimates, likelihood against quadrature, closed forms against Monte Carlo.

Published MLE on the CDNOW 1/10 sample (Fader and Hardie's Pareto/NBD notes, as quoted in
the data README): r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, log-likelihood -9595.0.
The likelihood is very flat along beta: its exact maximum on this table lies at
beta = 11.6679 (two optimisers agree, and the log-likelihood there is higher than at the
published point), so beta is checked to within 0.0015 and by comparing likelihoods.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import gammaln
from sklearn.exceptions import NotFittedError

from models.baselines import ParetoNBDModel
from models.baselines._fitting import as_summary
from models.baselines.pareto_nbd import _buy_if_alive, pareto_nbd_log_likelihood

PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
CUSTOMERS = np.array([[0, 0.0, 38.86], [2, 30.43, 38.86], [5, 12.0, 38.86], [7, 37.0, 38.0]])


def test_reproduces_published_estimates(fitted_pareto_nbd: ParetoNBDModel) -> None:
    rounded = {k: round(v, 3) for k, v in fitted_pareto_nbd.params_.items()}
    assert {k: rounded[k] for k in ("r", "alpha", "s")} == {
        k: PUBLISHED[k] for k in ("r", "alpha", "s")
    }
    assert abs(fitted_pareto_nbd.params_["beta"] - PUBLISHED["beta"]) < 0.0015


def test_estimate_is_at_least_as_likely_as_the_published_one(
    fitted_pareto_nbd: ParetoNBDModel, cdnow_sample: pd.DataFrame
) -> None:
    data = as_summary(cdnow_sample["frequency"], cdnow_sample["recency"], cdnow_sample["T"])
    r, alpha, s, beta = PUBLISHED.values()
    published = pareto_nbd_log_likelihood(r, alpha, s, beta, data).sum()
    ours = fitted_pareto_nbd.log_likelihood_ * len(cdnow_sample)
    assert ours >= published
    assert round(ours, 1) == -9595.0


def _log_likelihood_by_quadrature(
    params: tuple[float, float, float, float], x: float, t_x: float, age: float
) -> float:
    """Integrate lambda out analytically and the death time numerically (no 2F1 involved).

    L = C [ (alpha+T)^-(r+x) E[e^{-mu T}] + int_{t_x}^T (alpha+tau)^-(r+x) E[mu e^{-mu tau}] dtau ]
    with C = Gamma(r+x) alpha^r / Gamma(r), E[e^{-mu T}] = (beta/(beta+T))^s and
    E[mu e^{-mu tau}] = s/beta (beta/(beta+tau))^(s+1).
    """
    r, alpha, s, beta = params
    log_c = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = (alpha + age) ** -(r + x) * (beta / (beta + age)) ** s
    dead, _ = integrate.quad(
        lambda tau: (alpha + tau) ** -(r + x) * s / beta * (beta / (beta + tau)) ** (s + 1),
        t_x,
        age,
        epsabs=0,
        epsrel=1e-12,
    )
    return float(log_c + np.log(alive + dead))


@pytest.mark.parametrize(
    "params",
    [(0.553, 10.578, 0.606, 11.669), (0.5, 12.0, 0.7, 9.0), (0.3, 5.0, 2.0, 50.0)],
    ids=["alpha<beta", "alpha>beta", "far-apart"],
)
def test_log_likelihood_matches_quadrature(
    params: tuple[float, float, float, float], cdnow_sample: pd.DataFrame
) -> None:
    rows = cdnow_sample.iloc[::40]
    data = as_summary(rows["frequency"], rows["recency"], rows["T"])
    ours = pareto_nbd_log_likelihood(*params, data)
    expected = [
        _log_likelihood_by_quadrature(params, x, t_x, age)
        for x, t_x, age in zip(data.frequency, data.recency, data.T, strict=True)
    ]
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


def _posterior_monte_carlo(
    params: dict[str, float], customer: np.ndarray, t: float, rng: np.random.Generator
) -> dict[str, tuple[float, float]]:
    """P(alive), P(buy in (T, T+t]) and E[purchases] by importance sampling from the prior.

    Individual likelihood: lambda^x e^{-(lambda+mu)T} (alive at T) plus
    lambda^x mu/(lambda+mu) (e^{-(lambda+mu)t_x} - e^{-(lambda+mu)T}) (died in (t_x, T]).
    Alive at T, the next purchase beats death with probability lambda/(lambda+mu) and comes
    within t with 1 - e^{-(lambda+mu)t}; expected purchases are lambda/mu (1 - e^{-mu t}).
    """
    x, t_x, age = customer
    n = 400_000
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    mu = rng.gamma(params["s"], 1 / params["beta"], n)
    both = lam + mu
    alive = lam**x * np.exp(-both * age)
    weight = alive + lam**x * mu / both * (np.exp(-both * t_x) - np.exp(-both * age))
    norm = weight.mean()
    answers = {
        "alive": alive,
        "buy": alive * lam / both * -np.expm1(-both * t),
        "count": alive * lam / mu * -np.expm1(-mu * t),
    }
    return {
        name: (
            value.mean() / norm,
            np.std(value - value.mean() / norm * weight) / np.sqrt(n) / norm,
        )
        for name, value in answers.items()
    }


@pytest.mark.parametrize("row", range(len(CUSTOMERS)))
def test_closed_forms_match_monte_carlo(
    fitted_pareto_nbd: ParetoNBDModel, rng: np.random.Generator, row: int
) -> None:
    x, t_x, age = CUSTOMERS[row]
    horizon = 13.0
    mc = _posterior_monte_carlo(fitted_pareto_nbd.params_, CUSTOMERS[row], horizon, rng)
    ours = {
        "alive": fitted_pareto_nbd.probability_alive(x, t_x, age)[0],
        "buy": fitted_pareto_nbd.probability_of_purchase(horizon, x, t_x, age)[0],
        "count": fitted_pareto_nbd.expected_purchases(horizon, x, t_x, age)[0],
    }
    for name, (estimate, standard_error) in mc.items():
        assert abs(ours[name] - estimate) < 4 * standard_error + 1e-4, name


@pytest.mark.parametrize(
    ("shape", "rate_scale", "s", "life_scale", "t"),
    [
        (0.55, 49.0, 0.6, 50.0, 13.0),  # a typical one-time buyer, weeks
        (0.05, 300.0, 0.6, 300.0, 90.0),  # tiny r: p^(-1/k) is steep
        (80.5, 300.0, 0.5, 250.0, 90.0),  # a heavy buyer: lambda's posterior is narrow
        (3.0, 40.0, 5.0, 2.0, 1000.0),  # short lifetimes, very long horizon
        (2.0, 40.0, 0.6, 50.0, 1e-6),  # a vanishing horizon
        (500.0, 300.0, 2.0, 10.0, 300.0),  # extreme frequency, short lifetimes
        (0.24, 40.0, 0.6, 40.0, 1e5),  # an absurdly long horizon
    ],
)
def test_buy_if_alive_matches_adaptive_quadrature(
    shape: float, rate_scale: float, s: float, life_scale: float, t: float
) -> None:
    """int_0^t E[lambda e^{-lambda u}] E[e^{-mu u}] du with both expectations in closed form."""
    expected, _ = integrate.quad(
        lambda u: (
            shape
            / rate_scale
            * (rate_scale / (rate_scale + u)) ** (shape + 1)
            * (life_scale / (life_scale + u)) ** s
        ),
        0,
        t,
        epsabs=0,
        epsrel=1e-12,
        limit=200,
    )
    ours = _buy_if_alive(
        np.array([shape]), np.array([rate_scale]), s, np.array([life_scale]), np.array([t])
    )[0]
    assert ours == pytest.approx(expected, rel=1e-11, abs=1e-15)


def test_probability_of_purchase_grows_with_the_horizon_up_to_p_alive(
    fitted_pareto_nbd: ParetoNBDModel,
) -> None:
    horizons = [0.0, 0.5, 1, 2, 4, 13, 26, 52, 520]
    x, t_x, age = CUSTOMERS.T
    grid = np.array([fitted_pareto_nbd.probability_of_purchase(h, x, t_x, age) for h in horizons])
    assert (grid[0] == 0).all()
    assert (np.diff(grid, axis=0) >= 0).all()
    assert (grid <= fitted_pareto_nbd.probability_alive(x, t_x, age) + 1e-12).all()


def test_a_given_p_alive_is_the_one_computed_inside(fitted_pareto_nbd: ParetoNBDModel) -> None:
    """Several horizons share one P(alive) (the expensive series): same numbers, bit for bit."""
    x, t_x, age = CUSTOMERS.T
    alive = fitted_pareto_nbd.probability_alive(x, t_x, age)
    for horizon in (1, 4, 52):
        np.testing.assert_array_equal(
            fitted_pareto_nbd.probability_of_purchase(horizon, x, t_x, age, p_alive=alive),
            fitted_pareto_nbd.probability_of_purchase(horizon, x, t_x, age),
        )


def test_a_recent_purchase_does_not_lower_the_chance_of_buying(
    fitted_pareto_nbd: ParetoNBDModel,
) -> None:
    recency = np.linspace(1.0, 38.86, 40)
    p_buy = fitted_pareto_nbd.probability_of_purchase(4.0, np.full(40, 3), recency, 38.86)
    assert (np.diff(p_buy) > 0).all()


def test_expected_purchases_continuous_through_s_equal_one(
    fitted_pareto_nbd: ParetoNBDModel,
) -> None:
    model = ParetoNBDModel()
    values = []
    for s in (1 - 1e-6, 1.0, 1 + 1e-6):
        model.params_ = {**fitted_pareto_nbd.params_, "s": s}
        values.append(model.expected_purchases(39.0, 2, 30.43, 38.86)[0])
    np.testing.assert_allclose(values, values[1], rtol=1e-5)


def test_many_customers_are_predicted_block_by_block_consistently(
    fitted_pareto_nbd: ParetoNBDModel, rng: np.random.Generator
) -> None:
    n = 150_000  # more than one quadrature block
    age = rng.uniform(1, 39, n)
    frequency = rng.poisson(1.5, n)
    recency = np.where(frequency > 0, age * rng.uniform(0.01, 1, n), 0.0)
    every = fitted_pareto_nbd.probability_of_purchase(4.0, frequency, recency, age)
    tail = slice(n - 1000, n)
    alone = fitted_pareto_nbd.probability_of_purchase(
        4.0, frequency[tail], recency[tail], age[tail]
    )
    np.testing.assert_array_equal(every[tail], alone)
    assert ((every >= 0) & (every <= 1)).all()


def test_predicting_before_fit_raises() -> None:
    model = ParetoNBDModel()
    with pytest.raises(NotFittedError):
        model.probability_alive([1], [2.0], [3.0])
    with pytest.raises(NotFittedError):
        model.probability_of_purchase(1.0, [1], [2.0], [3.0])
    with pytest.raises(NotFittedError):
        model.expected_purchases(1.0, [1], [2.0], [3.0])
