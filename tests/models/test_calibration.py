"""Calibrators: Platt on one score, stacked logistic regression with non-negative slopes."""

from __future__ import annotations

import numpy as np

from models.calibration import PlattCalibrator, StackedCalibrator, logit


def _scores(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    outcome = (rng.random(n) < 1 / (1 + np.exp(-(signal - 1.0)))).astype(float)
    informative = signal + rng.normal(scale=0.3, size=n)  # close to the truth
    noise = rng.normal(size=n)  # unrelated to the outcome
    return np.column_stack([informative, noise]), outcome, signal


def test_stack_weights_the_informative_score_and_ignores_noise():
    logits, outcome, _ = _scores()
    stacked = StackedCalibrator().fit(logits, outcome)
    assert stacked.slopes_[0] > 0.5
    assert stacked.slopes_[1] < 0.1
    assert (stacked.slopes_ >= 0).all()


def test_stack_never_uses_a_negative_slope():
    logits, outcome, _ = _scores()
    # An inverted score would fit best with a negative slope; the bound keeps it at 0, so a
    # higher input can never lower the probability.
    stacked = StackedCalibrator().fit(np.column_stack([logits[:, 0], -logits[:, 0]]), outcome)
    assert stacked.slopes_[1] == 0.0
    grid = np.column_stack([np.linspace(-3, 3, 50), np.zeros(50)])
    assert (np.diff(stacked.transform(grid)) > 0).all()


def test_stack_is_as_calibrated_as_platt_on_the_better_score():
    logits, outcome, _ = _scores()
    platt = PlattCalibrator().fit(1 / (1 + np.exp(-logits[:, 0])), outcome)
    stacked = StackedCalibrator().fit(logits, outcome)
    brier_platt = np.mean((platt.transform(1 / (1 + np.exp(-logits[:, 0]))) - outcome) ** 2)
    brier_stack = np.mean((stacked.transform(logits) - outcome) ** 2)
    assert brier_stack <= brier_platt + 1e-4
    # mean prediction matches the observed rate (an intercept is fitted)
    assert abs(stacked.transform(logits).mean() - outcome.mean()) < 0.01
    assert np.allclose(logit(np.array([0.5])), 0.0)
