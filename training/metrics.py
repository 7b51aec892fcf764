"""Backtest metrics: discrimination, calibration, timing and value.

All functions take plain arrays. ROC AUC and average precision come from scikit-learn; the
rest are written out here because their definitions vary between libraries:

- ``expected_calibration_error``: bins of equal width on [0, 1] (10 by default), the
  bin-size weighted mean of |mean prediction - observed rate| (Naeini et al. 2015).
- ``concordance_index``: Harrell's C for right-censored times (a pair is comparable when
  the earlier time is an observed event); a higher predicted time should mean a later event.
  Ties in prediction count one half.
- ``normalized_gini``: the Gini of actual values ordered by prediction, divided by the Gini
  of the perfect ordering (1 = perfect ranking, 0 = random).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata, spearmanr
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def classification_metrics(outcome: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """ROC AUC, average precision, Brier score and ECE (10 bins) of 0/1 outcomes."""
    outcome = np.asarray(outcome, dtype=float)
    probability = np.asarray(probability, dtype=float)
    both_classes = 0 < outcome.sum() < len(outcome)
    return {
        "roc_auc": float(roc_auc_score(outcome, probability)) if both_classes else np.nan,
        "average_precision": (
            float(average_precision_score(outcome, probability)) if both_classes else np.nan
        ),
        "brier": float(brier_score_loss(outcome, probability)),
        "ece": expected_calibration_error(outcome, probability),
    }


def expected_calibration_error(
    outcome: np.ndarray, probability: np.ndarray, n_bins: int = 10
) -> float:
    """Weighted mean gap between predicted and observed rates over equal-width bins."""
    outcome = np.asarray(outcome, dtype=float)
    probability = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    # Bin i holds [i/n, (i+1)/n); the last bin also takes p == 1.
    bins = np.minimum((probability * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    predicted = np.bincount(bins, weights=probability, minlength=n_bins)
    observed = np.bincount(bins, weights=outcome, minlength=n_bins)
    used = counts > 0
    gaps = np.abs(predicted[used] - observed[used]) / counts[used]
    return float((gaps * counts[used]).sum() / counts.sum())


def concordance_index(
    event_times: np.ndarray,
    predicted_times: np.ndarray,
    event_observed: np.ndarray,
    block_size: int = 2048,
) -> float:
    """Harrell's C: share of comparable pairs ordered the same way by prediction and truth.

    A pair (i, j) is comparable when i's event is observed and ``t_j > t_i``; it is
    concordant when ``predicted_j > predicted_i`` (ties in prediction count one half).
    Computed exactly, in blocks of events against everyone (memory: block_size x n).
    """
    times = np.asarray(event_times, dtype=float)
    predicted = np.asarray(predicted_times, dtype=float)
    observed = np.asarray(event_observed, dtype=bool)
    events = np.flatnonzero(observed)
    concordant = 0.0
    comparable = 0.0
    for start in range(0, len(events), block_size):
        block = events[start : start + block_size]
        later = times[None, :] > times[block, None]
        larger = predicted[None, :] > predicted[block, None]
        tied = predicted[None, :] == predicted[block, None]
        comparable += later.sum()
        concordant += (later & larger).sum() + 0.5 * (later & tied).sum()
    return float(concordant / comparable) if comparable else np.nan


def median_absolute_error_days(actual_days: np.ndarray, predicted_days: np.ndarray) -> float:
    """Median of |actual - predicted| over rows where both are known."""
    actual = np.asarray(actual_days, dtype=float)
    predicted = np.asarray(predicted_days, dtype=float)
    known = ~np.isnan(actual) & ~np.isnan(predicted)
    return float(np.median(np.abs(actual[known] - predicted[known]))) if known.any() else np.nan


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini of `actual` ordered by `predicted`, over the Gini of the perfect order."""

    def gini(values: np.ndarray, by: np.ndarray) -> float:
        # Sort by prediction descending; ties broken by index for determinism.
        order = np.lexsort((np.arange(len(by)), -by))
        cumulative = np.cumsum(values[order]) / values.sum()
        expected = np.arange(1, len(values) + 1) / len(values)
        return float((cumulative - expected).sum())

    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    if actual.sum() == 0:
        return np.nan
    return gini(actual, predicted) / gini(actual, actual)


def spearman(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    result = spearmanr(rankdata(actual), rankdata(predicted))
    return float(result.statistic)
