"""Expected revenue over the next 365 days.

The value model learns the revenue of the longest window fully observed in the training
history (365 days when available) with a Tweedie LightGBM regressor (zero-inflated,
right-skewed money), and scales it linearly to 365 days when the observed window is shorter:
``predicted_value_365d = predicted_revenue_in_window * 365 / window``. The scaling assumes
the purchase rate stays flat over the year, which overstates value for customers who drift
away; the backtest reports which window the value was learned on.

A shop younger than the shortest window (90 days) has no revenue window to learn from;
:class:`ExpectedPurchasesValue` then gives the BTYD estimate instead: BG/NBD's expected
purchases, times the customer's mean spend per purchase day.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from models.booster import feature_rows, lightgbm_params, monotone_vector

VALUE_DAYS = 365


class ValueRegressor(RegressorMixin, BaseEstimator):
    """Tweedie LightGBM regressor of revenue in `window_days`, rescaled to 365 days."""

    def __init__(
        self,
        window_days: int = VALUE_DAYS,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 100,
        monotone_constraints: dict[str, int] | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.window_days = window_days
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.monotone_constraints = monotone_constraints
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: pd.DataFrame, revenue: np.ndarray | pd.Series) -> ValueRegressor:
        """Learn revenue in the window; negative window revenue (net returns) counts as 0."""
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        target = np.clip(np.asarray(revenue, dtype=float), 0.0, None)
        self.booster_ = lgb.LGBMRegressor(
            objective="tweedie",
            tweedie_variance_power=1.3,
            monotone_constraints=monotone_vector(list(X.columns), self.monotone_constraints),
            **lightgbm_params(
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.num_leaves,
                min_child_samples=self.min_child_samples,
                random_state=self.random_state,
                n_jobs=self.n_jobs,
            ),
        )
        self.booster_.fit(X.to_numpy(dtype=float), target)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Expected revenue over the next 365 days."""
        check_is_fitted(self, "booster_")
        return self.predict_rows(feature_rows(X[list(self.feature_names_in_)]))

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        """:meth:`predict` with the feature columns already as ``feature_rows``."""
        check_is_fitted(self, "booster_")
        return np.asarray(self.booster_.predict(rows)) * VALUE_DAYS / self.window_days


class ExpectedPurchasesValue(RegressorMixin, BaseEstimator):
    """Value without a revenue window to learn from (a shop younger than 90 days): BG/NBD's
    expected purchases in 90 days (``bgnbd_expected_90d``) scaled to 365, times the
    customer's mean spend per purchase day (``revenue_total / n_purchase_days``).

    The classic BTYD customer value, without the Gamma-Gamma spend model; the linear
    scaling has the same flat-rate caveat as :class:`ValueRegressor`'s.
    """

    COLUMNS = ("bgnbd_expected_90d", "revenue_total", "n_purchase_days")

    def fit(
        self, X: pd.DataFrame, revenue: np.ndarray | pd.Series | None = None
    ) -> ExpectedPurchasesValue:
        """Nothing to learn; checks that `X` has the columns it reads."""
        missing = [c for c in self.COLUMNS if c not in X.columns]
        if missing:
            raise ValueError(f"needs the columns {missing}")
        self.feature_names_in_ = np.asarray(self.COLUMNS, dtype=object)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Expected revenue over the next 365 days (0 where the inputs are missing)."""
        check_is_fitted(self, "feature_names_in_")
        purchases = X["bgnbd_expected_90d"].to_numpy(dtype=float) * VALUE_DAYS / 90
        days = X["n_purchase_days"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            spend = X["revenue_total"].to_numpy(dtype=float) / days
        value = np.clip(purchases * spend, 0.0, None)
        return np.where(np.isfinite(value), value, 0.0)
