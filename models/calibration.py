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


class StackedCalibrator(BaseEstimator):
    """Logistic regression on several logit scores with non-negative slopes.

    ``P = sigmoid(sum_j w_j * z_j + b)`` with every ``w_j >= 0``: each input (e.g. the
    booster's logit and a BTYD model's logit) can only push the probability in its own
    direction, so a combination of scores that are monotone in a feature stays monotone in
    it. Fitted on a later time slice than the models that made the scores; the optimum
    gives most weight to whichever score held up best there. `l2` is a small ridge penalty
    on the slopes (per row), which keeps the fit stable when the scores are collinear.
    """

    def __init__(self, l2: float = 1e-4) -> None:
        self.l2 = l2

    def fit(self, logits: np.ndarray, outcome: np.ndarray) -> StackedCalibrator:
        """Learn `slopes_` (one per column of `logits`, >= 0) and `intercept_`."""
        from scipy.optimize import minimize

        Z = np.asarray(logits, dtype=float)
        y = np.asarray(outcome, dtype=float)
        n, k = Z.shape

        def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
            z = Z @ weights[:k] + weights[k]
            value = float(np.mean(np.logaddexp(0.0, z) - y * z))
            value += 0.5 * self.l2 * float(weights[:k] @ weights[:k])
            residual = (1.0 / (1.0 + np.exp(-z)) - y) / n
            gradient = np.append(Z.T @ residual + self.l2 * weights[:k], residual.sum())
            return value, gradient

        if y.min() == y.max():
            # One class only: no mapping to learn; equal weights, no shift.
            self.slopes_ = np.full(k, 1.0 / k)
            self.intercept_ = 0.0
            return self
        start = np.append(np.full(k, 1.0 / k), 0.0)
        bounds = [(0.0, None)] * k + [(None, None)]
        result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
        self.slopes_ = np.asarray(result.x[:k], dtype=float)
        self.intercept_ = float(result.x[k])
        return self

    def transform(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for rows of logit scores."""
        check_is_fitted(self, "slopes_")
        z = np.asarray(logits, dtype=float) @ self.slopes_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))
