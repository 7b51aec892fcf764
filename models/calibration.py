"""Probability calibration fitted on a later time slice than the model it corrects.

Platt scaling (a logistic regression on the logit of the raw probability) keeps the ranking
of the raw scores, so ROC AUC and average precision are unchanged while the probabilities
match the observed rates of the calibration slice.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

_EPS = 1e-6


def logit(probability: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), with p clipped away from 0 and 1."""
    p = np.clip(np.asarray(probability, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class PlattCalibrator(BaseEstimator):
    """Map raw probabilities to calibrated ones: ``sigmoid(a * logit(p) + b)``."""

    def __init__(self, regularization: float = 1e4) -> None:
        self.regularization = regularization

    def fit(self, raw_probability: np.ndarray, outcome: np.ndarray) -> PlattCalibrator:
        """Learn `slope_` and `intercept_` from raw probabilities and 0/1 outcomes."""
        outcome = np.asarray(outcome, dtype=float)
        if outcome.min() == outcome.max():
            # One class only: nothing to learn a mapping from, keep the raw scores.
            self.slope_ = 1.0
            self.intercept_ = 0.0
            return self
        regression = LogisticRegression(C=self.regularization)
        regression.fit(logit(raw_probability).reshape(-1, 1), outcome.astype(int))
        self.slope_ = float(regression.coef_[0, 0])
        self.intercept_ = float(regression.intercept_[0])
        return self

    def transform(self, raw_probability: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw ones."""
        check_is_fitted(self, "slope_")
        z = self.slope_ * logit(raw_probability) + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))
