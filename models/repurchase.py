"""The product's model: when each customer buys again, whether they churn, what they are worth.

One :class:`RepurchaseModel` bundles

- a calibrated LightGBM classifier per horizon for P(at least one paid order within h days),
  made non-decreasing in h by a cumulative maximum over the horizons;
- a churn classifier for "no paid order within `churn_days`" clipped to at most
  ``1 - p_buy_{longest horizon}`` (no purchase in 180 days implies none in 90). When the
  training history is too short to observe a whole churn window, the bound itself is used
  (an overestimate; recorded in ``churn_fallback_``);
- a value regressor (see :mod:`models.value`).

Estimator rules follow scikit-learn: ``fit(X, labels, cutoffs)`` where `X` holds the numeric
feature columns, `labels` the frame of :func:`training.labels.label_snapshots` and `cutoffs`
each row's snapshot cutoff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from features.errors import InputError
from models.booster import SliceCalibratedClassifier
from models.reasons import describe_reasons
from models.timing import monotone_in_horizon
from models.value import ValueRegressor

HORIZONS = (7, 14, 30, 60, 90)
VALUE_WINDOWS = (365, 180, 90)

# A more recent last purchase must never lower the chance of buying soon (behaviour test):
# every feature that moves with the last purchase date gets the sign of "more recent".
DEFAULT_MONOTONE: dict[str, int] = {
    "days_since_last_order": -1,
    "T": -1,
    "recency": 1,
    "overdue_ratio": -1,
    "last_gap": 1,
    "days_until_depletion": 1,
    "bgnbd_p_alive": 1,
    "bgnbd_expected_30d": 1,
    "bgnbd_expected_90d": 1,
}


def monotone_for(columns: Sequence[str], base: Mapping[str, int]) -> dict[str, int]:
    """`base` plus +1 for the recent-activity window columns (``orders_30d`` style)."""
    constraints = {c: s for c, s in base.items() if c in columns}
    for column in columns:
        if re.fullmatch(r"(orders|purchase_days|revenue)_\d+d", column):
            constraints.setdefault(column, 1)
    return constraints


class RepurchaseModel(BaseEstimator):
    """Timing, churn and value models over one feature set (see the module docstring)."""

    def __init__(
        self,
        horizons: Sequence[int] = HORIZONS,
        churn_days: int = 180,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 200,
        monotone_constraints: Mapping[str, int] | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.horizons = horizons
        self.churn_days = churn_days
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.monotone_constraints = monotone_constraints
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _classifier(self, columns: Sequence[str]) -> SliceCalibratedClassifier:
        base = DEFAULT_MONOTONE if self.monotone_constraints is None else self.monotone_constraints
        return SliceCalibratedClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            monotone_constraints=monotone_for(columns, base),
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def fit(self, X: pd.DataFrame, labels: pd.DataFrame, cutoffs: pd.Series) -> RepurchaseModel:
        """Fit every component on the rows whose label window was fully observed."""
        columns = list(X.columns)
        self.feature_columns_ = columns
        cutoffs = pd.Series(pd.to_datetime(cutoffs).to_numpy(), index=X.index)
        self.timing_: dict[int, SliceCalibratedClassifier] = {}
        for horizon in self.horizons:
            label = labels[f"label_bought_{horizon}d"]
            rows = label.notna().to_numpy()
            if rows.sum() == 0 or label[rows].nunique() < 2:
                raise InputError(
                    f"not enough history to learn buying within {horizon} days: need paid "
                    f"orders of repeat buyers at least {horizon} days before as_of"
                )
            self.timing_[horizon] = self._classifier(columns).fit(
                X.loc[rows], label[rows], cutoffs[rows]
            )
        churn_label = labels.get(f"label_churned_{self.churn_days}d")
        self.churn_: SliceCalibratedClassifier | None = None
        if churn_label is not None:
            rows = churn_label.notna().to_numpy()
            if rows.sum() > 0 and churn_label[rows].nunique() == 2:
                # Churn is the opposite of recent activity: flip every monotone sign.
                classifier = self._classifier(columns)
                classifier.monotone_constraints = {
                    c: -s for c, s in (classifier.monotone_constraints or {}).items()
                }
                self.churn_ = classifier.fit(X.loc[rows], churn_label[rows], cutoffs[rows])
        self.churn_fallback_ = self.churn_ is None
        self.value_window_days_ = next(
            (
                w
                for w in VALUE_WINDOWS
                if labels.get(f"label_revenue_{w}d", pd.Series()).notna().any()
            ),
            None,
        )
        if self.value_window_days_ is None:
            raise InputError("not enough history to learn customer value (needs 90 days)")
        value_label = labels[f"label_revenue_{self.value_window_days_}d"]
        rows = value_label.notna().to_numpy()
        self.value_ = ValueRegressor(
            window_days=self.value_window_days_,
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        ).fit(X.loc[rows], value_label[rows])
        return self

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """``p_buy_{h}d`` per horizon, ``p_churn`` and ``predicted_value_365d``, index of `X`."""
        check_is_fitted(self, "timing_")
        X = X[self.feature_columns_]
        raw = np.column_stack([self.timing_[h].predict_proba(X)[:, 1] for h in self.horizons])
        probabilities = monotone_in_horizon(raw)
        out = pd.DataFrame(
            probabilities, index=X.index, columns=[f"p_buy_{h}d" for h in self.horizons]
        )
        ceiling = 1.0 - probabilities[:, -1]
        if self.churn_ is not None:
            out["p_churn"] = np.minimum(self.churn_.predict_proba(X)[:, 1], ceiling)
        else:
            out["p_churn"] = ceiling
        out["predicted_value_365d"] = self.value_.predict(X)
        return out

    def reasons(self, X: pd.DataFrame, horizon: int = 30, top: int = 3) -> pd.Series:
        """The `top` factors behind P(buy within `horizon` days), in words, per row."""
        check_is_fitted(self, "timing_")
        classifier = self.timing_[horizon if horizon in self.timing_ else self.horizons[-1]]
        contributions = classifier.contributions(X[self.feature_columns_])
        return describe_reasons(X, contributions, self.feature_columns_, top=top)

    def feature_importance(self, horizon: int = 30) -> pd.Series:
        """Total gain per feature of the `horizon` classifier, largest first."""
        check_is_fitted(self, "timing_")
        classifier = self.timing_[horizon if horizon in self.timing_ else self.horizons[-1]]
        return classifier.feature_importance().sort_values(ascending=False)
