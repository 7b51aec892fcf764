"""BG/NBD ("beta-geometric / negative binomial distribution") repurchase model.

Source: Fader, Hardie and Lee (2005), "Counting your customers the easy way: an alternative
to the Pareto/NBD model", Marketing Science 24(2), 275-284.

- While alive, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
  after every purchase they drop out with probability ``p ~ Beta(a, b)``.
- Log-likelihood of ``(x, t_x, T)``: the paper's equation (6), computed in logs.
- ``P(alive | x, t_x, T)``: Fader, Hardie and Lee (2008), "Computing P(alive) using the BG/NBD
  model" (brucehardie.com/notes/021); equal to 1 when ``x = 0`` (dropout only happens right
  after a purchase).
- Conditional expected purchases in ``(T, T + t]``: equation (10), with the Gauss
  hypergeometric function ``2F1`` (where scipy's ``2F1`` fails, far out on the likelihood's
  no-dropout ridge, by Pfaff's transformation summed as a series).
- ``P(at least one purchase in (T, T + t] | x, t_x, T)``: given alive at ``T`` the rate's
  posterior is ``Gamma(r + x, alpha + T)`` and dropout cannot precede the next purchase, so
  ``P = P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x))`` (derived here, not in
  the paper; checked against Monte Carlo in the tests).

All inputs are per-customer arrays in one time unit of your choice (weeks, days): ``frequency``
= number of repeat purchases, ``recency`` = time from first to last purchase, ``T`` = time from
first purchase to the end of the observation period. ``alpha`` is in that time unit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, gammaln, hyp2f1
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from models.baselines._fitting import (
    FloatArray,
    Summary,
    as_horizon,
    as_summary,
    compress,
    maximise_log_likelihood,
)

PARAM_NAMES = ("r", "alpha", "a", "b")


def bg_nbd_log_likelihood(r: float, alpha: float, a: float, b: float, data: Summary) -> FloatArray:
    """Per-customer log-likelihood, equation (6) of Fader, Hardie and Lee (2005)."""
    x, t_x, age = data.frequency, data.recency, data.T
    # log[ B(a, b + x) / B(a, b) * Gamma(r + x) alpha^r / (Gamma(r) (alpha + T)^(r + x)) ]
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    still_alive = -(r + x) * np.log(alpha + age)
    with np.errstate(divide="ignore", invalid="ignore"):
        # The second term only exists for x > 0: B(a + 1, b + x - 1) / B(a, b + x) = a / (b + x - 1).
        dropped = np.where(
            x > 0,
            np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return np.asarray(common + np.logaddexp(still_alive, dropped), dtype=np.float64)


class BetaGeoModel(BaseEstimator):
    """BG/NBD model fitted by maximum likelihood.

    Parameters
    ----------
    None. The estimator learns ``params_`` (dict with ``r``, ``alpha``, ``a``, ``b``),
    ``log_likelihood_`` (mean per customer at the optimum), ``n_customers_`` and
    ``optimizer_`` (the method that found the optimum).
    """

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BetaGeoModel:
        """Fit on per-customer ``frequency``, ``recency``, ``T`` (see the module docstring)."""
        data = as_summary(frequency, recency, T)
        if not (data.frequency > 0).any():
            raise ValueError("BG/NBD needs at least one customer with a repeat purchase")
        # Work on time rescaled to mean T = 1 so starting values suit days and weeks alike.
        scale = float(data.T.mean())
        distinct, weights = compress(data)
        scaled = Summary(distinct.frequency, distinct.recency / scale, distinct.T / scale)
        total = float(weights.sum())
        mean_rate = max(float(scaled.frequency.mean() / scaled.T.mean()), 1e-3)
        start = np.log([1.0, 1.0 / mean_rate, 1.0, 1.0])

        def mean_log_likelihood(log_params: FloatArray) -> float:
            r, alpha, a, b = np.exp(log_params)
            return float(bg_nbd_log_likelihood(r, alpha, a, b, scaled) @ weights) / total

        log_params, value, method = maximise_log_likelihood(mean_log_likelihood, start)
        r, alpha, a, b = np.exp(log_params)
        self.params_ = {"r": float(r), "alpha": float(alpha * scale), "a": float(a), "b": float(b)}
        # Undo the rescaling of the likelihood: the density of recency and T picks up
        # (r + x) * log(scale) - r * log(scale) per customer, i.e. -x * log(scale).
        self.log_likelihood_ = value - float(data.frequency.mean()) * np.log(scale)
        self.n_customers_ = int(data.frequency.size)
        self.optimizer_ = method
        return self

    # ------------------------------------------------------------------ predictions

    def _fitted_params(self) -> tuple[float, float, float, float]:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                "This BetaGeoModel instance is not fitted yet; call 'fit' before predicting."
            )
        return tuple(self.params_[name] for name in PARAM_NAMES)  # type: ignore[return-value]

    def _log_dropout_odds(self, data: Summary) -> FloatArray:
        """log of ``a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)``; -inf for x = 0."""
        r, alpha, a, b = self._fitted_params()
        x = data.frequency
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.where(
                x > 0,
                np.log(a)
                - np.log(b + x - 1)
                + (r + x) * (np.log(alpha + data.T) - np.log(alpha + data.recency)),
                -np.inf,
            )
        return np.asarray(odds, dtype=np.float64)

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(still alive at T | x, t_x, T) (note 021); exactly 1 when ``frequency`` is 0."""
        data = as_summary(frequency, recency, T)
        return np.asarray(np.exp(-np.logaddexp(0.0, self._log_dropout_odds(data))))

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected number of purchases in ``(T, T + t]`` given the history, equation (10)."""
        r, alpha, a, b = self._fitted_params()
        data = as_summary(frequency, recency, T)
        horizon = as_horizon(t)
        x = data.frequency
        z = horizon / (alpha + data.T + horizon)
        hyper = hyp2f1(r + x, b + x, a + b + x - 1, z)
        shrink = np.exp((r + x) * (np.log(alpha + data.T) - np.log(alpha + data.T + horizon)))
        product = np.asarray(shrink * hyper, dtype=np.float64)
        if not np.isfinite(product).all():
            product = _where_not_finite(
                product, r + x, a - 1, a + b + x - 1, -horizon / (alpha + data.T)
            )
        numerator = (a + b + x - 1) / (a - 1) * (1 - product)
        return np.asarray(numerator * np.exp(-np.logaddexp(0.0, self._log_dropout_odds(data))))

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

        `p_alive`: the same customers' :meth:`probability_alive`, when already at hand (it
        does not depend on ``t``; the same keyword as Pareto/NBD's, where it saves most).
        """
        r, alpha, _, _ = self._fitted_params()
        data = as_summary(frequency, recency, T)
        horizon = as_horizon(t)
        shape = r + data.frequency
        # 1 - ((alpha + T) / (alpha + T + t)) ** (r + x), via expm1/log1p to keep small t exact.
        buy_if_alive = -np.expm1(-shape * np.log1p(horizon / (alpha + data.T)))
        if p_alive is None:
            p_alive = self.probability_alive(frequency, recency, T)
        return np.asarray(np.asarray(p_alive) * buy_if_alive)


# Terms of the series below: enough for |w| up to about 0.9 to reach double precision.
_SERIES_TERMS = 400


def _where_not_finite(
    product: FloatArray, A: ArrayLike, B: float, C: ArrayLike, w: ArrayLike
) -> FloatArray:
    """``product`` (``shrink * 2F1(...)`` of equation (10)) where it is finite; elsewhere the
    same quantity by Pfaff's transformation, ``2F1(A, B; C; w)`` with ``A = r + x``,
    ``B = a - 1``, ``C = a + b + x - 1``, ``w = -t / (alpha + T)``, summed as its power series.

    A fit on a young shop can end far out on the likelihood's ridge of no dropout and a
    near-constant buying rate (``r`` and ``alpha`` in the tens of millions, ``a`` near 0):
    scipy's ``hyp2f1`` then returns NaN, though the value is tame (``shrink`` is
    ``(1 - z) ** (r + x)`` and cancels Pfaff's factor ``(1 - z) ** -(r + x)``). With
    ``alpha`` that large ``|w|`` is tiny and the series converges in a few terms; where
    ``|w| >= 1`` it would not, and NaN stays.
    """
    upper, lower, argument = (
        np.asarray(array, dtype=np.float64)
        for array in np.broadcast_arrays(np.asarray(A), np.asarray(C), np.asarray(w))
    )
    product = np.array(np.broadcast_to(product, argument.shape), dtype=np.float64)
    bad = ~np.isfinite(product) & (np.abs(argument) < 1)
    upper, lower, argument = upper[bad], lower[bad], argument[bad]
    term = np.ones_like(argument)
    total = np.ones_like(argument)
    for n in range(_SERIES_TERMS):
        term = term * (upper + n) * (B + n) / ((lower + n) * (n + 1)) * argument
        total = total + term
        if not (np.abs(term) > 1e-16 * np.abs(total)).any():
            break
    product[bad] = total
    return product
