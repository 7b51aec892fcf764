"""A LightGBM classifier trained on earlier snapshots and calibrated on the latest one.

Rows carry the cutoff of the snapshot they come from. The newest cutoff is held out: the
booster learns from the older ones, and a calibrator fitted on the held-out slice maps its
scores to probabilities. Calibrating on a later slice than the training data mimics scoring
at ``as_of`` (after the newest training snapshot), where customer ages and seasons have
moved on.

With an ``anchor`` column (a probability from a simpler model among the features, e.g.
Pareto/NBD's P(buy within h)), the calibrator is a stacked logistic regression on the logits
of both the booster and the anchor (non-negative weights): where the trees generalise worse
than the anchor to the later slice (covariate shift: the customers have aged), the stack leans
on the anchor instead of trusting the trees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from models.calibration import PlattCalibrator, StackedCalibrator, logit


def lightgbm_params(
    *,
    n_estimators: int,
    learning_rate: float,
    num_leaves: int,
    min_child_samples: int,
    random_state: int,
    n_jobs: int,
) -> dict[str, Any]:
    """Deterministic LightGBM parameters shared by every booster of the project."""
    return {
        "n_estimators": n_estimators,
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
        "min_child_samples": min_child_samples,
        "subsample": 1.0,
        "colsample_bytree": 0.9,
        "reg_lambda": 1.0,
        "random_state": random_state,
        "n_jobs": n_jobs,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }


def feature_rows(X: pd.DataFrame) -> np.ndarray:
    """A frame's values as row-major float64, what LightGBM and the compiled trees read
    (``to_numpy`` gives column-major blocks: each booster would copy them again)."""
    return np.ascontiguousarray(X.to_numpy(dtype=np.float64))


def monotone_vector(columns: list[str], constraints: Mapping[str, int] | None) -> list[int]:
    """LightGBM's per-column monotone constraint list from a {column: -1/0/+1} mapping."""
    constraints = constraints or {}
    return [int(constraints.get(column, 0)) for column in columns]


def local_booster(booster: Any) -> Any:
    """A booster trained elsewhere (a Dask estimator's ``to_local()``) as a plain LightGBM
    one: it then predicts on in-memory arrays and pickles without the cluster."""
    to_local = getattr(booster, "to_local", None)
    return to_local() if callable(to_local) else booster


class SliceCalibratedClassifier(ClassifierMixin, BaseEstimator):
    """Binary LightGBM classifier with Platt calibration on the newest snapshot.

    `fit(X, y, cutoffs)`: `X` a numeric DataFrame, `y` 0/1, `cutoffs` the snapshot cutoff of
    each row. With a single cutoff there is no later slice, so the raw booster probabilities
    are used as they are (`calibrator_` is None).

    `anchor`: optional column of `X` holding a probability to stack with the booster in the
    calibration; `anchor_sign` -1 uses ``1 - anchor`` (e.g. churn from a P(buy) column).

    `estimator_class`: the LightGBM scikit-learn class to train the booster with (None:
    ``lgb.LGBMClassifier``), e.g. a Dask one (see :mod:`training.distributed`).

    `ignored_columns`: columns of `X` the booster never splits on (LightGBM's per-feature
    gain factor ``feature_contri`` set to 0), so that boosters over one column set, which
    share one feature matrix at prediction, can still each leave some columns out.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 100,
        monotone_constraints: Mapping[str, int] | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
        anchor: str | None = None,
        anchor_sign: int = 1,
        estimator_class: Callable[..., Any] | None = None,
        ignored_columns: Sequence[str] = (),
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.monotone_constraints = monotone_constraints
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.anchor = anchor
        self.anchor_sign = anchor_sign
        self.estimator_class = estimator_class
        self.ignored_columns = ignored_columns

    def fit(
        self, X: pd.DataFrame, y: np.ndarray | pd.Series, cutoffs: np.ndarray | pd.Series
    ) -> SliceCalibratedClassifier:
        """Train on all but the newest cutoff, calibrate on the newest one."""
        y = np.asarray(y, dtype=float)
        cutoffs = np.asarray(pd.to_datetime(cutoffs))
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.classes_ = np.array([0, 1])
        newest = cutoffs.max()
        calibrate = cutoffs == newest
        train = ~calibrate if (~calibrate).any() else calibrate
        make_booster = self.estimator_class or lgb.LGBMClassifier
        ignored = set(self.ignored_columns)
        # only when something is left out, so other models keep exactly their parameters
        gain_factors: dict[str, Any] = (
            {"feature_contri": [0.0 if c in ignored else 1.0 for c in X.columns]}
            if ignored & set(X.columns)
            else {}
        )
        self.booster_ = make_booster(
            objective="binary",
            monotone_constraints=monotone_vector(list(X.columns), self.monotone_constraints),
            **gain_factors,
            **lightgbm_params(
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.num_leaves,
                min_child_samples=self.min_child_samples,
                random_state=self.random_state,
                n_jobs=self.n_jobs,
            ),
        )
        self.booster_.fit(X.loc[train].to_numpy(dtype=float), y[train].astype(int))
        self.booster_ = local_booster(self.booster_)
        self.calibration_cutoff_ = pd.Timestamp(newest) if train is not calibrate else None
        self.calibrator_: PlattCalibrator | StackedCalibrator | None = None
        self.anchor_used_ = self.anchor is not None and self.anchor in X.columns
        if self.anchor_used_ and X.loc[calibrate, self.anchor].isna().any():
            self.anchor_used_ = False  # no BTYD fit at some cutoff: plain Platt instead
        if self.calibration_cutoff_ is not None:
            held_out = X.loc[calibrate]
            raw = self._raw(held_out)
            if self.anchor_used_:
                stacked = self._stack_inputs(held_out, raw)
                self.calibrator_ = StackedCalibrator().fit(stacked, y[calibrate])
            else:
                self.calibrator_ = PlattCalibrator().fit(raw, y[calibrate])
        return self

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        return self._raw_rows(feature_rows(X[list(self.feature_names_in_)]))

    def _raw_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.predict_proba(rows))[:, 1]

    def _stack_inputs(self, X: pd.DataFrame, raw: np.ndarray) -> np.ndarray:
        """Columns [logit(booster), logit(anchor)] (anchor flipped when `anchor_sign` is -1)."""
        anchor = X[self.anchor].to_numpy(dtype=float)
        # A missing anchor (no BTYD fit at scoring) says nothing: logit 0 adds w * 0.
        anchor_logit = np.nan_to_num(self.anchor_sign * logit(anchor), nan=0.0)
        return np.column_stack([logit(raw), anchor_logit])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2)."""
        check_is_fitted(self, "booster_")
        return self.predict_proba_rows(feature_rows(X[list(self.feature_names_in_)]), X)

    def predict_proba_rows(self, rows: np.ndarray, X: pd.DataFrame) -> np.ndarray:
        """:meth:`predict_proba` with `X`'s feature columns already as :func:`feature_rows`
        (a model with several boosters on the same columns converts the frame once)."""
        check_is_fitted(self, "booster_")
        positive = self._raw_rows(rows)
        if isinstance(self.calibrator_, StackedCalibrator):
            positive = self.calibrator_.transform(self._stack_inputs(X, positive))
        elif self.calibrator_ is not None:
            positive = self.calibrator_.transform(positive)
        return np.column_stack([1 - positive, positive])

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """Per-feature log-odds contributions (SHAP values), shape (n, n_features)."""
        check_is_fitted(self, "booster_")
        values = X[list(self.feature_names_in_)].to_numpy(dtype=float)
        return np.asarray(self.booster_.predict(values, pred_contrib=True))[:, :-1]

    def feature_importance(self) -> pd.Series:
        """Total gain per feature."""
        check_is_fitted(self, "booster_")
        gain = self.booster_.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=list(self.feature_names_in_), dtype=float)


class AnchorClassifier(ClassifierMixin, BaseEstimator):
    """P(buy) straight from the anchor column (a simpler model's probability, e.g.
    Pareto/NBD's P(buy within h)), for a horizon whose history cannot teach a booster.

    A booster needs labelled snapshots at two cutoffs at least: the older ones to learn
    from and the newest one to calibrate it on, and to tell whether it generalises better
    than the anchor to customers who have aged since. With one labelled cutoff (a shop
    younger than the horizon plus two snapshot steps) the booster would learn from the
    youngest customers only and be trusted uncalibrated: on CDNOW at 1997-04-30 (four
    months of history) its P(buy within 90 days) ranked customers with ROC AUC 0.668 against
    Pareto/NBD's 0.708. `fit` records the training rows' base rate, used where the anchor
    is missing at scoring.
    """

    def __init__(self, anchor: str = "", anchor_sign: int = 1) -> None:
        self.anchor = anchor
        self.anchor_sign = anchor_sign

    def fit(
        self, X: pd.DataFrame, y: np.ndarray | pd.Series, cutoffs: np.ndarray | pd.Series
    ) -> AnchorClassifier:
        y = np.asarray(y, dtype=float)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.classes_ = np.array([0, 1])
        self.base_rate_ = float(y.mean()) if len(y) else 0.0
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "base_rate_")
        anchor = X[self.anchor].to_numpy(dtype=float)
        positive = anchor if self.anchor_sign == 1 else 1.0 - anchor
        positive = np.where(np.isnan(positive), self.base_rate_, positive)
        return np.column_stack([1 - positive, positive])
