""" "Last purchase + the customer's median inter-purchase interval" baseline.

The rule operators use by hand for consumables: a customer who buys every ~30 days and last
bought 25 days ago should buy again in ~5 days (the consumption-cycle heuristic; cf. the
inter-purchase-time models reviewed in Gupta 1991, "Stochastic models of interpurchase time
with time-dependent covariates", Journal of Marketing Research 28(1)). Customers with a single
purchase have no interval of their own and get the population median interval (the median over
training customers of their own median intervals).

Turning the rule into a probability. The predicted gap from the snapshot date to the next
purchase is ``gap = interval - days_since_last_purchase`` (negative: overdue). The rule says
"buys within h days" when ``0 < gap <= h``. To rank customers and not only split them in two,
the window is softened with a Gaussian tolerance of ``spread * interval`` days around the
predicted date: ``window_score = Phi((h - gap) / sd) - Phi(-gap / sd)`` (with ``spread = 0``
it is exactly the 0/1 rule). An isotonic calibration (non-decreasing in the window score) per
horizon, fitted on a training snapshot, maps the score to ``P(buy within h days)``.

Inputs (per-customer arrays):

- ``days_since_last_purchase``: days from the last paid order to the snapshot, >= 0;
- ``median_interval_days``: the customer's median days between distinct purchase days, NaN for
  single-purchase customers;
- ``days_until_next_purchase`` (training only): days from the snapshot to the next paid order,
  NaN when none was seen; observe at least ``max(horizons)`` days after the snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from models.baselines._fitting import FloatArray
from models.baselines._horizons import (
    as_days,
    calibrated,
    check_horizons,
    fit_calibrators,
    score_scale,
)

DEFAULT_HORIZONS = (7.0, 14.0, 30.0, 60.0, 90.0)
# Below a day of tolerance the Gaussian window is the 0/1 rule in all but name.
_MIN_SD_DAYS = 1.0


class MedianIntervalRule(BaseEstimator):
    """Predicted next purchase = last purchase + median interval, calibrated per horizon.

    Parameters
    ----------
    horizons:
        Horizons in days for which ``fit`` learns a calibration (strictly increasing).
    spread:
        Tolerance around the predicted date as a fraction of the interval (0 = hard window).

    Learns ``horizons_``, ``population_median_interval_`` (days) and ``calibrators_`` (dict
    horizon -> ``IsotonicRegression`` on the window score) and ``score_scale_`` (for the
    tie-break).
    """

    def __init__(self, horizons: Sequence[float] = DEFAULT_HORIZONS, spread: float = 0.25) -> None:
        self.horizons = horizons
        self.spread = spread

    def fit(
        self,
        days_since_last_purchase: ArrayLike,
        median_interval_days: ArrayLike,
        days_until_next_purchase: ArrayLike,
    ) -> MedianIntervalRule:
        """Learn the population median interval and one calibration per horizon."""
        if self.spread < 0:
            raise ValueError("spread must be >= 0")
        intervals = as_days(median_interval_days, "median_interval_days", allow_missing=True)
        until = as_days(days_until_next_purchase, "days_until_next_purchase", allow_missing=True)
        own = intervals[~np.isnan(intervals)]
        if own.size == 0:
            raise ValueError("no customer has two purchases: the median interval is undefined")
        self.population_median_interval_ = float(np.median(own))
        self.horizons_ = check_horizons(self.horizons)
        # Calibrators are learned per horizon on the training snapshot's own window scores.
        scores = {
            h: self._window_score(days_since_last_purchase, intervals, h) for h in self.horizons_
        }
        self.score_scale_ = score_scale(np.concatenate(list(scores.values())))
        self.calibrators_ = {}
        for horizon, score in scores.items():
            if score.shape != until.shape:
                raise ValueError("input arrays differ in length")
            self.calibrators_.update(fit_calibrators(score, until, (horizon,), increasing=True))
        return self

    def predict_days_until_next(
        self, days_since_last_purchase: ArrayLike, median_interval_days: ArrayLike
    ) -> FloatArray:
        """Days from the snapshot to the predicted next purchase (negative = overdue)."""
        self._check_fitted()
        since = as_days(days_since_last_purchase, "days_since_last_purchase")
        interval = self._interval(median_interval_days)
        if since.shape != interval.shape:
            raise ValueError("days_since_last_purchase and median_interval_days differ in length")
        return interval - since

    def predict_proba(
        self, days_since_last_purchase: ArrayLike, median_interval_days: ArrayLike, horizon: float
    ) -> FloatArray:
        """Calibrated ``P(at least one purchase within horizon days)``; horizon must be fitted."""
        self._check_fitted()
        score = self._window_score(days_since_last_purchase, median_interval_days, float(horizon))
        return calibrated(self.calibrators_, score, horizon, scale=self.score_scale_)

    def predict_proba_horizons(
        self, days_since_last_purchase: ArrayLike, median_interval_days: ArrayLike
    ) -> FloatArray:
        """Probabilities for every fitted horizon, shape (customers, horizons), non-decreasing.

        The calibrations are fitted per horizon on different scores, so a running maximum over
        the horizons enforces the contract that ``P(buy within h)`` never falls as ``h`` grows.
        """
        self._check_fitted()
        columns = [
            self.predict_proba(days_since_last_purchase, median_interval_days, h)
            for h in self.horizons_
        ]
        return np.maximum.accumulate(np.column_stack(columns), axis=1)

    # ------------------------------------------------------------------ internals

    def _interval(self, median_interval_days: ArrayLike) -> FloatArray:
        intervals = as_days(median_interval_days, "median_interval_days", allow_missing=True)
        return np.where(np.isnan(intervals), self.population_median_interval_, intervals)

    def _window_score(
        self, days_since_last_purchase: ArrayLike, median_interval_days: ArrayLike, horizon: float
    ) -> FloatArray:
        """Soft membership of the predicted purchase date in ``(snapshot, snapshot + horizon]``."""
        since = as_days(days_since_last_purchase, "days_since_last_purchase")
        interval = self._interval(median_interval_days)
        if since.shape != interval.shape:
            raise ValueError("days_since_last_purchase and median_interval_days differ in length")
        gap = interval - since
        if self.spread == 0:
            return ((gap > 0) & (gap <= horizon)).astype(np.float64)
        sd = np.maximum(self.spread * interval, _MIN_SD_DAYS)
        return np.asarray(ndtr((horizon - gap) / sd) - ndtr(-gap / sd), dtype=np.float64)

    def _check_fitted(self) -> None:
        if not hasattr(self, "calibrators_"):
            raise NotFittedError(
                "This MedianIntervalRule instance is not fitted yet; call 'fit' before predicting."
            )
