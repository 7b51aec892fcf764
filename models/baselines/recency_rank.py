"""Recency rank: the simplest repurchase baseline.

The more recently a customer bought, the likelier they buy again soon (the "R" of RFM; see
e.g. Fader, Hardie and Lee 2005, "RFM and CLV: using iso-value curves for customer base
analysis", Journal of Marketing Research 42(4)). The ranking score is minus the days since
the last purchase; ``P(buy within h days)`` is that score mapped through an isotonic
(monotone non-increasing in days) calibration fitted on a training snapshot, so the baseline
has a Brier score and a calibration error as well as a ROC AUC.

Inputs (per-customer arrays, one entry per customer):

- ``days_since_last_purchase``: days from the last paid order to the snapshot date, >= 0;
- ``days_until_next_purchase`` (training only): days from the snapshot date to the next paid
  order, NaN when none was seen. The caller must observe at least ``max(horizons)`` days after
  the training snapshot, or late buyers are wrongly counted as non-buyers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
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


class RecencyRank(BaseEstimator):
    """Score = minus days since the last purchase; calibrated per horizon by isotonic regression.

    Parameters
    ----------
    horizons:
        Horizons in days for which ``fit`` learns a calibration (strictly increasing).

    Learns ``horizons_``, ``calibrators_`` (dict horizon -> ``IsotonicRegression``) and
    ``score_scale_`` (the spread of the training days, for the tie-break).
    """

    def __init__(self, horizons: Sequence[float] = DEFAULT_HORIZONS) -> None:
        self.horizons = horizons

    def fit(
        self, days_since_last_purchase: ArrayLike, days_until_next_purchase: ArrayLike
    ) -> RecencyRank:
        """Learn ``P(buy within h) = f_h(days since last purchase)``, non-increasing in days."""
        since = as_days(days_since_last_purchase, "days_since_last_purchase")
        until = as_days(days_until_next_purchase, "days_until_next_purchase", allow_missing=True)
        if since.shape != until.shape:
            raise ValueError(
                "days_since_last_purchase and days_until_next_purchase differ in length"
            )
        self.horizons_ = check_horizons(self.horizons)
        self.score_scale_ = score_scale(since)
        self.calibrators_ = fit_calibrators(since, until, self.horizons_, increasing=False)
        return self

    def ranking_score(self, days_since_last_purchase: ArrayLike) -> FloatArray:
        """Minus the days since the last purchase: higher means likelier to buy soon."""
        self._check_fitted()
        return -as_days(days_since_last_purchase, "days_since_last_purchase")

    def predict_proba(self, days_since_last_purchase: ArrayLike, horizon: float) -> FloatArray:
        """Calibrated ``P(at least one purchase within horizon days)``; horizon must be fitted."""
        self._check_fitted()
        since = as_days(days_since_last_purchase, "days_since_last_purchase")
        return calibrated(self.calibrators_, since, horizon, scale=self.score_scale_)

    def predict_proba_horizons(self, days_since_last_purchase: ArrayLike) -> FloatArray:
        """Probabilities for every fitted horizon, shape (customers, horizons), non-decreasing."""
        self._check_fitted()
        columns = [self.predict_proba(days_since_last_purchase, h) for h in self.horizons_]
        # Nested labels already make the isotonic fits monotone in h; the running maximum only
        # guards against floating-point ties.
        return np.maximum.accumulate(np.column_stack(columns), axis=1)

    def _check_fitted(self) -> None:
        if not hasattr(self, "calibrators_"):
            raise NotFittedError(
                "This RecencyRank instance is not fitted yet; call 'fit' before predicting."
            )
