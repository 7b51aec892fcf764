"""Metrics against scikit-learn, scipy and hand-computed values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from training.metrics import (
    classification_metrics,
    concordance_index,
    expected_calibration_error,
    median_absolute_error_days,
    normalized_gini,
    spearman,
)


def test_classification_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=500)
    y = (rng.uniform(size=500) < p).astype(float)
    metrics = classification_metrics(y, p)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert metrics["brier"] == pytest.approx(np.mean((p - y) ** 2))


def test_ece_by_hand():
    # Bin [0.1, 0.2): p = 0.1, 0.1, outcomes 0, 1 -> |0.1 - 0.5| = 0.4 on 2 rows;
    # bin [0.9, 1.0]: p = 0.9, 1.0, outcomes 1, 1 -> |0.95 - 1| = 0.05 on 2 rows.
    ece = expected_calibration_error(np.array([0, 1, 1, 1]), np.array([0.1, 0.1, 0.9, 1.0]))
    assert ece == pytest.approx((0.4 * 2 + 0.05 * 2) / 4)


def _brute_concordance(times, predicted, observed):
    concordant = comparable = 0.0
    for i, j in itertools.permutations(range(len(times)), 2):
        if observed[i] and times[j] > times[i]:
            comparable += 1
            concordant += (
                1.0 if predicted[j] > predicted[i] else 0.5 * (predicted[j] == predicted[i])
            )
    return concordant / comparable


def test_concordance_matches_brute_force_with_censoring_and_ties():
    rng = np.random.default_rng(1)
    times = rng.integers(1, 20, 60).astype(float)
    predicted = np.round(times + rng.normal(0, 5, 60))
    observed = rng.uniform(size=60) < 0.7
    expected = _brute_concordance(times, predicted, observed)
    assert concordance_index(times, predicted, observed, block_size=7) == pytest.approx(expected)


def test_concordance_perfect_and_reversed():
    times = np.array([1.0, 2.0, 3.0, 4.0])
    observed = np.array([True, True, True, False])
    assert concordance_index(times, times, observed) == 1.0
    assert concordance_index(times, -times, observed) == 0.0


def test_normalized_gini_perfect_random_and_reversed():
    actual = np.array([0.0, 0.0, 5.0, 10.0])
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, -actual) < 0


def test_spearman_and_median_error():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 30.0, 20.0, 40.0])
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic)
    assert median_absolute_error_days(
        np.array([1.0, np.nan, 10.0]), np.array([3.0, 5.0, 4.0])
    ) == pytest.approx(4.0)
