"""Pareto/NBD repurchase model.

Sources: Schmittlein, Morrison and Colombo (1987), "Counting your customers: who are they and
what will they do next?", Management Science 33(1), 1-24; the formulas used are those of
Fader and Hardie (2005), "A note on deriving the Pareto/NBD model and related expressions"
(brucehardie.com/notes/009), in the numerically stable form of ``lifetimes`` and
PyMC-Marketing.

- While alive, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``
  and dies after an exponential lifetime with rate ``mu ~ Gamma(s, beta)``, independently.
- Log-likelihood: the note's Section 3, with its ``A_0`` term in the two branches
  ``alpha >= beta`` and ``alpha < beta``. The hypergeometric terms are computed
  through Euler's transformation ``2F1(a, b; a+1; z) = (1-z)^(1-b) 2F1(1, a+1-b; a+1; z)``,
  whose series has only positive, bounded terms, so large ``x`` does not overflow.
- ``P(alive | x, t_x, T)``: the note's Section 5.
- Conditional expected purchases in ``(T, T + t]``: the note's Section 6.
- ``P(at least one purchase in (T, T + t] | history)`` = ``P(alive) * E[lambda/(lambda+mu)
  (1 - exp(-(lambda+mu) t))]`` with ``lambda ~ Gamma(r + x, alpha + T)`` and
  ``mu ~ Gamma(s, beta + T)`` independent (the posterior given alive at ``T``). Writing the
  bracket as ``int_0^t lambda exp(-(lambda+mu) u) du`` and taking expectations under the
  integral gives a 1-D integral; substituting ``p = ((alpha+T)/(alpha+T+u))^(r+x)`` turns it
  into ``int_{p_t}^1 ((beta+T)/(beta+T+u(p)))^s dp`` with a bounded integrand; after a further
  ``p = q^4`` (to smooth its logarithmic behaviour at ``p -> 0``) fixed Gauss-Legendre
  quadrature evaluates it for millions of customers at once (derived here; checked against
  adaptive quadrature and Monte Carlo in the tests).

Inputs are per-customer arrays in one time unit: ``frequency`` = repeat purchases,
``recency`` = first to last purchase, ``T`` = first purchase to the end of the period.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln, hyp2f1
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from models.baselines._fitting import (
    LOG_BOUND,
    FloatArray,
    Summary,
    as_horizon,
    as_summary,
    compress,
    distinct_rows,
    maximise_log_likelihood,
)

PARAM_NAMES = ("r", "alpha", "s", "beta")
MAX_LOG_DROPOUT_SHAPE = 5.0  # cap of log s and log beta in the fit (see ParetoNBDModel.fit)

# Gauss-Legendre nodes for P(buy), applied in q = p^(1/_POWER): on the cases tested (including
# r + x from 0.05 to 500 and horizons from 1e-6 to 1e5) this agrees with adaptive quadrature
# to a relative 1e-12.
_QUADRATURE_NODES = 48
_POWER = 4
# Customers per block in the quadrature, so memory stays ~ block * nodes * 8 bytes.
_BLOCK = 100_000
# Below this many customers, evaluating every row beats finding the distinct ones first.
_MIN_ROWS_TO_GROUP = 2_000


def _log_a0(r: float, alpha: float, s: float, beta: float, data: Summary) -> FloatArray:
    """log A_0 of Fader and Hardie's note (Section 3), vectorised and stable.

    ``A_0 = [F(t_x) - F(T)]`` with ``F(y) = 2F1(r+s+x, c; r+s+x+1; d / (m + y)) / (m + y)^(r+s+x)``
    where ``m = max(alpha, beta)``, ``d = |alpha - beta|`` and ``c = s + 1`` if ``alpha >= beta``
    else ``r + x``. Euler's transformation gives
    ``log F(y) = -(r+s+x) log(m+y) + (1-c) log(1-z) + log 2F1(1, r+s+x+1-c; r+s+x+1; z)``.
    """
    x = data.frequency
    c: float | FloatArray
    if alpha >= beta:
        larger, smaller, c = alpha, beta, s + 1.0
    else:
        larger, smaller, c = beta, alpha, r + x
    gap = larger - smaller
    c_per_row = np.broadcast_to(c, x.shape)

    def log_f(y: FloatArray) -> FloatArray:
        # F(y) depends on (x, y) alone and those pairs repeat a lot (whole days, few
        # frequencies): the series, ~10 us a value, runs once per distinct pair.
        codes, first = _distinct_pairs(x, y)
        xs, ys, cs = x[first], y[first], c_per_row[first]
        rsx_first = r + s + xs
        z = gap / (larger + ys)
        log_one_minus_z = np.log(smaller + ys) - np.log(larger + ys)
        value = (
            -rsx_first * np.log(larger + ys)
            + (1.0 - cs) * log_one_minus_z
            + np.log(hyp2f1(1.0, rsx_first + 1.0 - cs, rsx_first + 1.0, z))
        )
        return np.asarray(value[codes])

    at_last_purchase, at_end = log_f(data.recency), log_f(data.T)
    with np.errstate(divide="ignore"):
        # F decreases in y, so log(F(t_x) - F(T)) = log F(t_x) + log(1 - exp(log F(T) - log F(t_x))).
        # Clamp the difference at 0: when t_x = T the two are equal and A_0 = 0 (log = -inf).
        return np.asarray(
            at_last_purchase + np.log(-np.expm1(np.minimum(at_end - at_last_purchase, 0.0)))
        )


def _distinct_pairs(x: FloatArray, y: FloatArray) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, first)`` of :func:`distinct_rows` over (x, y); every row its own group when
    grouping would not halve the work (or the frame is too small to pay for it)."""
    if x.size >= _MIN_ROWS_TO_GROUP:
        codes, first = distinct_rows(x, y)
        if first.size <= x.size // 2:
            return codes, first
    everyone = np.arange(x.size)
    return everyone, everyone


def pareto_nbd_log_likelihood(
    r: float, alpha: float, s: float, beta: float, data: Summary
) -> FloatArray:
    """Per-customer log-likelihood, Section 3 of Fader and Hardie's note.

    Far from the optimum `hyp2f1` can overflow: the value is then NaN, which the optimiser
    treats as "worse than anything" (no warning: it is an expected part of the search)."""
    x, age = data.frequency, data.T
    with np.errstate(invalid="ignore", over="ignore"):
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive_at_end = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
        died_before_end = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, data)
        total = common + np.logaddexp(alive_at_end, died_before_end)
    return np.asarray(total, dtype=np.float64)


def rescaled_likelihood(
    data: Summary,
) -> tuple[Callable[[FloatArray], float], FloatArray, float]:
    """The mean log-likelihood over log-parameters on time rescaled to mean T = 1, a starting
    point, and the scale (so the same starting values suit days and weeks)."""
    if not (data.frequency > 0).any():
        raise ValueError("Pareto/NBD needs at least one customer with a repeat purchase")
    scale = float(data.T.mean())
    distinct, weights = compress(data)
    scaled = Summary(distinct.frequency, distinct.recency / scale, distinct.T / scale)
    total = float(weights.sum())
    mean_rate = max(float(scaled.frequency.mean() / scaled.T.mean()), 1e-3)
    start = np.log([1.0, 1.0 / mean_rate, 1.0, 1.0])

    def mean_log_likelihood(log_params: FloatArray) -> float:
        r, alpha, s, beta = np.exp(log_params)
        return float(pareto_nbd_log_likelihood(r, alpha, s, beta, scaled) @ weights) / total

    return mean_log_likelihood, start, scale


def params_in_days(log_params: FloatArray, scale: float) -> dict[str, float]:
    """``r, alpha, s, beta`` back on the original time unit (alpha and beta scale with it)."""
    r, alpha, s, beta = np.exp(log_params)
    return {
        "r": float(r),
        "alpha": float(alpha * scale),
        "s": float(s),
        "beta": float(beta * scale),
    }


class ParetoNBDModel(BaseEstimator):
    """Pareto/NBD model fitted by maximum likelihood.

    Learns ``params_`` (dict with ``r``, ``alpha``, ``s``, ``beta``), ``log_likelihood_`` (mean
    per customer at the optimum), ``n_customers_`` and ``optimizer_``.
    """

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> ParetoNBDModel:
        """Fit on per-customer ``frequency``, ``recency``, ``T`` (see the module docstring)."""
        data = as_summary(frequency, recency, T)
        mean_log_likelihood, start, scale = rescaled_likelihood(data)

        # s and beta (on the rescaled time) capped at e^5 ~ 148: beyond it the dropout rate is
        # practically the same for everyone (its CV is 1/sqrt(s) < 0.09), the likelihood
        # only creeps up, and hyp2f1 grows slow enough to stall the fit for hours.
        upper = [LOG_BOUND, LOG_BOUND, MAX_LOG_DROPOUT_SHAPE, MAX_LOG_DROPOUT_SHAPE]
        log_params, value, method = maximise_log_likelihood(mean_log_likelihood, start, upper=upper)
        self.params_ = params_in_days(log_params, scale)
        # Rates scale with 1 / time: lambda^x contributes x * log(scale) to the rescaled fit.
        self.log_likelihood_ = value - float(data.frequency.mean()) * np.log(scale)
        self.n_customers_ = int(data.frequency.size)
        self.optimizer_ = method
        return self

    # ------------------------------------------------------------------ predictions

    def _fitted_params(self) -> tuple[float, float, float, float]:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                "This ParetoNBDModel instance is not fitted yet; call 'fit' before predicting."
            )
        return tuple(self.params_[name] for name in PARAM_NAMES)  # type: ignore[return-value]

    def _probability_alive(self, data: Summary) -> FloatArray:
        r, alpha, s, beta = self._fitted_params()
        x, age = data.frequency, data.T
        # Section 5 of the note: 1 / (1 + s / (r+s+x) * (alpha+T)^(r+x) * (beta+T)^s * A_0).
        log_odds_dead = (
            np.log(s)
            - np.log(r + s + x)
            + (r + x) * np.log(alpha + age)
            + s * np.log(beta + age)
            + _log_a0(r, alpha, s, beta, data)
        )
        return np.asarray(np.exp(-np.logaddexp(0.0, log_odds_dead)))

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(still alive at T | x, t_x, T), Section 5 of Fader and Hardie's note."""
        return self._probability_alive(as_summary(frequency, recency, T))

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected number of purchases in ``(T, T + t]`` given the history (note, Section 6)."""
        r, alpha, s, beta = self._fitted_params()
        data = as_summary(frequency, recency, T)
        horizon = as_horizon(t)
        # E = (r+x)/(alpha+T) * (beta+T)/(s-1) * [1 - ((beta+T)/(beta+T+t))^(s-1)] * P(alive);
        # the bracket over (s - 1) tends to log(1 + t/(beta+T)) as s -> 1.
        log_growth = np.log1p(horizon / (beta + data.T))
        if abs(s - 1.0) < 1e-9:
            lifetime_factor = log_growth
        else:
            lifetime_factor = -np.expm1(-(s - 1.0) * log_growth) / (s - 1.0)
        rate = (r + data.frequency) / (alpha + data.T)
        return np.asarray(rate * (beta + data.T) * lifetime_factor * self._probability_alive(data))

    def probability_of_purchase(
        self,
        t: ArrayLike,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        *,
        p_alive: ArrayLike | None = None,
    ) -> FloatArray:
        """P(at least one purchase in ``(T, T + t]`` | history); non-decreasing in ``t``.

        ``t`` is a scalar or an array broadcastable against the customers. `p_alive`: the
        same customers' :meth:`probability_alive`, when already at hand. It does not depend on
        ``t`` and is the expensive part (the hypergeometric series), so several horizons
        should share it.
        """
        r, alpha, s, beta = self._fitted_params()
        data = as_summary(frequency, recency, T)
        horizon = np.broadcast_to(as_horizon(t), data.T.shape)
        # P(buy | alive) depends on (x, T, t) only, which repeat a lot in real data (T in whole
        # days): evaluate the quadrature once per distinct triple when that saves work.
        # Grouping costs ~1 ms of pandas overhead, more than it saves on a small frame (an API
        # request scores a handful of customers).
        everyone = np.arange(data.T.size)
        codes, first = everyone, everyone
        if data.T.size >= _MIN_ROWS_TO_GROUP:
            codes, first = distinct_rows(data.frequency, data.T, horizon)
            if first.size > data.T.size // 2:
                codes, first = everyone, everyone
        frequency, age, span = data.frequency[first], data.T[first], horizon[first]
        distinct = np.empty(first.size)
        for start in range(0, first.size, _BLOCK):
            block = slice(start, start + _BLOCK)
            distinct[block] = _buy_if_alive(
                r + frequency[block], alpha + age[block], s, beta + age[block], span[block]
            )
        buy_if_alive = distinct[codes]
        alive = self._probability_alive(data) if p_alive is None else np.asarray(p_alive)
        return np.asarray(alive * buy_if_alive)


def _buy_if_alive(
    shape: FloatArray, rate_scale: FloatArray, s: float, life_scale: FloatArray, t: FloatArray
) -> FloatArray:
    """``E[lambda/(lambda+mu) (1 - exp(-(lambda+mu) t))]`` for ``lambda ~ Gamma(shape, rate_scale)``
    and ``mu ~ Gamma(s, life_scale)``, by Gauss-Legendre quadrature in ``p`` (module docstring).
    """
    nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
    # p ranges over [p_t, 1] with p_t = (A / (A + t))^k = P(no purchase in t | alive, mu = 0).
    # Near p = 0 the integrand behaves like log(p) / k, which Gauss-Legendre handles poorly;
    # integrating over q = p^(1/m) instead multiplies it by m q^(m-1) and smooths it away.
    log_q_t = -shape * np.log1p(t / rate_scale) / _POWER
    half_width = (-np.expm1(log_q_t))[:, None] / 2.0  # (1 - q_t) / 2 without cancellation
    q = 1.0 - half_width * (1.0 - nodes[None, :])
    # u(p) = A (p^(-1/k) - 1), the time at which P(no purchase | mu = 0) has fallen to p.
    u = rate_scale[:, None] * np.expm1(-_POWER * np.log(q) / shape[:, None])
    survival = np.exp(-s * np.log1p(u / life_scale[:, None]))
    jacobian = _POWER * q ** (_POWER - 1)
    return np.asarray((half_width * jacobian * survival * weights[None, :]).sum(axis=1))
