"""The product's model: when each customer buys again, whether they churn, what they are worth.

One :class:`RepurchaseModel` bundles

- a calibrated LightGBM classifier per horizon for P(at least one paid order within h days),
  made non-decreasing in h by a cumulative maximum over the horizons. A horizon whose
  history holds labels at fewer than two snapshot cutoffs (a young shop: nothing to
  calibrate on) takes Pareto/NBD's P(buy within h) as it is
  (:class:`models.booster.AnchorClassifier`); its reasons come from the nearest learned
  horizon;
- churn, "no paid order within `churn_days`": by default (``churn_from_timing``) the
  model's own ``1 - p_buy_{longest horizon}`` times Pareto/NBD's probability of no purchase
  in the rest of the churn window given none in the longest horizon,
  ``(1 - pnbd_p_buy_{churn}d) / (1 - pnbd_p_buy_{longest}d)``. Churn labels exist only for
  snapshots a whole churn window before ``as_of``, i.e. for the youngest customers, so a
  churn classifier generalises worst of all (CDNOW 1997-09-30: AUC 0.752 vs Pareto/NBD's
  0.764; this product measures 0.773). The churn classifier is still fitted and used where
  the Pareto/NBD columns are missing, clipped to at most ``1 - p_buy_{longest horizon}`` (no
  purchase in 180 days implies none in 90). When the training history is too short to
  observe a whole churn window, the bound itself is used (an overestimate; recorded in
  ``churn_fallback_``);
- a value regressor (see :mod:`models.value`; with less than 90 days of history, BG/NBD's
  expected purchases times the customer's mean spend).

The due columns (:mod:`models.due_features`: when the next purchase is due by the
customer's own interval or cycle) feed only the horizons up to ``due_max_horizon`` days.
They are what makes short horizons right for cycle buyers (someone who buys every 30 days
and bought 2 days ago will hardly buy this week), but the same columns would also lower
``p_buy_30d`` right after a purchase for a buyer whose cycle is about 30 days, and the
product promises that a more recent purchase never lowers ``p_buy_30d`` (behaviour test).
Longer horizons and churn never split on them (``ignored_columns``).

Estimator rules follow scikit-learn: ``fit(X, labels, cutoffs)`` where `X` holds the numeric
feature columns, `labels` the frame of :func:`training.labels.label_snapshots` and `cutoffs`
each row's snapshot cutoff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from features.errors import InputError
from models.booster import AnchorClassifier, SliceCalibratedClassifier, feature_rows
from models.calibration import logit
from models.due_features import DUE_PREFIX
from models.levels import anchor_weight, level_offset, level_sample, slice_levels
from models.reasons import describe_reasons
from models.timing import monotone_in_horizon
from models.value import ExpectedPurchasesValue, ValueRegressor

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
    "pnbd_p_alive": 1,
    "pnbd_p_buy_7d": 1,
    "pnbd_p_buy_14d": 1,
    "pnbd_p_buy_30d": 1,
    "pnbd_p_buy_60d": 1,
    "pnbd_p_buy_90d": 1,
    "pnbd_p_buy_180d": 1,
}
# The probability column of a simpler model that each horizon's calibration stacks with the
# booster (see models.booster); churn uses the churn window's one, flipped.
ANCHOR_COLUMN = "pnbd_p_buy_{days}d"


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
        stack_anchor: bool = True,
        churn_from_timing: bool = True,
        due_max_horizon: int = 14,
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
        self.stack_anchor = stack_anchor
        self.churn_from_timing = churn_from_timing
        self.due_max_horizon = due_max_horizon

    def _classifier(
        self, columns: Sequence[str], days: int, anchor_sign: int = 1
    ) -> SliceCalibratedClassifier:
        base = DEFAULT_MONOTONE if self.monotone_constraints is None else self.monotone_constraints
        return SliceCalibratedClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            monotone_constraints=monotone_for(columns, base),
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            anchor=ANCHOR_COLUMN.format(days=days) if self.stack_anchor else None,
            anchor_sign=anchor_sign,
            ignored_columns=(
                [c for c in columns if c.startswith(DUE_PREFIX)]
                if days > self.due_max_horizon
                else []
            ),
        )

    def fit(
        self,
        X: pd.DataFrame,
        labels: pd.DataFrame,
        cutoffs: pd.Series,
        now: pd.DataFrame | None = None,
        as_of: pd.Timestamp | None = None,
    ) -> RepurchaseModel:
        """Fit every component on the rows whose label window was fully observed.

        `now` (the customers at `as_of`, X's columns) places each horizon's average level
        between its calibration slice's and Pareto/NBD's at as_of (:mod:`models.levels`);
        without it the calibration's level is kept.
        """
        columns = list(X.columns)
        self.feature_columns_ = columns
        cutoffs = pd.Series(pd.to_datetime(cutoffs).to_numpy(), index=X.index)
        self.timing_: dict[int, SliceCalibratedClassifier | AnchorClassifier] = {}
        for horizon in self.horizons:
            label = labels[f"label_bought_{horizon}d"]
            rows = label.notna().to_numpy()
            anchor = ANCHOR_COLUMN.format(days=horizon)
            learnable = rows.sum() > 0 and label[rows].nunique() == 2
            if self.stack_anchor and anchor in X and (not learnable or cutoffs[rows].nunique() < 2):
                # too little history for this horizon: the anchor's probability as it is
                self.timing_[horizon] = AnchorClassifier(anchor).fit(
                    X.loc[rows], label[rows], cutoffs[rows]
                )
                continue
            if not learnable:
                raise InputError(
                    f"not enough history to learn buying within {horizon} days: need paid "
                    f"orders of repeat buyers at least {horizon} days before as_of"
                )
            self.timing_[horizon] = self._classifier(columns, horizon).fit(
                X.loc[rows], label[rows], cutoffs[rows]
            )
        if not any(isinstance(c, SliceCalibratedClassifier) for c in self.timing_.values()):
            raise InputError(
                f"not enough history to learn buying within {self.horizons[0]} days: need "
                "paid orders at two snapshot cutoffs or more before as_of"
            )
        self.level_offsets_ = self._level_offsets(X, labels, cutoffs, now, as_of)
        churn_label = labels.get(f"label_churned_{self.churn_days}d")
        self.churn_: SliceCalibratedClassifier | None = None
        if churn_label is not None:
            rows = churn_label.notna().to_numpy()
            if rows.sum() > 0 and churn_label[rows].nunique() == 2:
                # Churn is the opposite of recent activity: flip every monotone sign.
                classifier = self._classifier(columns, self.churn_days, anchor_sign=-1)
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
            if not set(ExpectedPurchasesValue.COLUMNS) <= set(columns):
                raise InputError("not enough history to learn customer value (needs 90 days)")
            self.value_ = ExpectedPurchasesValue().fit(X)  # a young shop: BTYD's estimate
            return self
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
        if list(X.columns) != self.feature_columns_:
            X = X[self.feature_columns_]  # a copy: not made when the columns already match
        rows = feature_rows(X)  # once for the seven boosters, all on these columns
        raw = np.column_stack([self._positive(self.timing_[h], rows, X) for h in self.horizons])
        offsets = getattr(self, "level_offsets_", {})  # none in models pickled before them
        for column, horizon in enumerate(self.horizons):
            if offsets.get(horizon):
                raw[:, column] = expit(logit(raw[:, column]) + offsets[horizon])
        probabilities = monotone_in_horizon(raw)
        out = pd.DataFrame(
            probabilities, index=X.index, columns=[f"p_buy_{h}d" for h in self.horizons]
        )
        ceiling = 1.0 - probabilities[:, -1]
        if self.churn_ is not None:
            churn = np.minimum(self._positive(self.churn_, rows, X), ceiling)
        else:
            churn = ceiling
        if getattr(self, "churn_from_timing", False):
            churn = np.where(np.isnan(later := self._no_purchase_later(X)), churn, ceiling * later)
        out["p_churn"] = churn
        same_columns = list(self.value_.feature_names_in_) == self.feature_columns_
        out["predicted_value_365d"] = (
            self.value_.predict_rows(rows) if same_columns else self.value_.predict(X)
        )
        return out

    def _level_offsets(
        self,
        X: pd.DataFrame,
        labels: pd.DataFrame,
        cutoffs: pd.Series,
        now: pd.DataFrame | None,
        as_of: pd.Timestamp | None,
    ) -> dict[int, float]:
        """Per learned horizon, the logit shift of :mod:`models.levels` (0: none)."""
        offsets = dict.fromkeys(self.horizons, 0.0)
        if now is None or as_of is None or len(now) == 0:
            return offsets
        now = now.iloc[level_sample(len(now), self.random_state)]
        rows = feature_rows(now)  # once for every horizon, as in predict
        for horizon, classifier in self.timing_.items():
            anchor = ANCHOR_COLUMN.format(days=horizon)
            if not isinstance(classifier, SliceCalibratedClassifier) or anchor not in X:
                continue
            levels = slice_levels(labels[f"label_bought_{horizon}d"], X[anchor], cutoffs)
            weight = anchor_weight(
                levels["rate"].to_numpy(),
                levels["anchor"].to_numpy(),
                levels.index.to_numpy(),
                as_of,
            )
            probabilities = self._positive(classifier, rows, now)
            offsets[horizon] = level_offset(probabilities, now[anchor].to_numpy(float), weight)
        return offsets

    def _positive(
        self,
        classifier: SliceCalibratedClassifier | AnchorClassifier,
        rows: np.ndarray,
        X: pd.DataFrame,
    ) -> np.ndarray:
        """P(positive) of one classifier, from the shared `rows` when it reads X's columns."""
        if isinstance(classifier, SliceCalibratedClassifier) and (
            list(classifier.feature_names_in_) == self.feature_columns_
        ):
            return classifier.predict_proba_rows(rows, X)[:, 1]
        return classifier.predict_proba(X)[:, 1]

    def _no_purchase_later(self, X: pd.DataFrame) -> np.ndarray:
        """Pareto/NBD's P(no purchase within churn_days | none within the longest horizon).

        NaN where the Pareto/NBD columns are missing (then the churn classifier is used).
        """
        within_churn = ANCHOR_COLUMN.format(days=self.churn_days)
        within_longest = ANCHOR_COLUMN.format(days=self.horizons[-1])
        if within_churn not in X or within_longest not in X:
            return np.full(len(X), np.nan)
        none_by_churn = 1.0 - X[within_churn].to_numpy(dtype=float)
        none_by_longest = 1.0 - X[within_longest].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = none_by_churn / none_by_longest
        # P(buy) is non-decreasing in the window, so the ratio is in [0, 1] up to rounding.
        return np.where(none_by_longest > 0, np.clip(ratio, 0.0, 1.0), np.nan)

    def explained_classifier(self, horizon: int = 30) -> SliceCalibratedClassifier:
        """The booster-backed classifier that explains `horizon`: its own, else (a horizon
        left to the anchor, see :class:`models.booster.AnchorClassifier`) the longest
        shorter horizon's, else the shortest longer one's."""
        check_is_fitted(self, "timing_")
        learned = [h for h, c in self.timing_.items() if isinstance(c, SliceCalibratedClassifier)]
        shorter = [h for h in learned if h <= horizon]
        chosen = max(shorter) if shorter else min(learned)
        classifier = self.timing_[chosen]
        assert isinstance(classifier, SliceCalibratedClassifier)
        return classifier

    def reasons(self, X: pd.DataFrame, horizon: int = 30, top: int = 3) -> pd.Series:
        """The `top` factors behind P(buy within `horizon` days), in words, per row."""
        classifier = self.explained_classifier(horizon)
        contributions = classifier.contributions(X[self.feature_columns_])
        return describe_reasons(X, contributions, self.feature_columns_, top=top)

    def feature_importance(self, horizon: int = 30) -> pd.Series:
        """Total gain per feature of the `horizon` classifier, largest first."""
        classifier = self.explained_classifier(horizon)
        return classifier.feature_importance().sort_values(ascending=False)
