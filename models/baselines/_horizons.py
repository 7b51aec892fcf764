"""Shared pieces of the heuristic baselines: labels per horizon and isotonic calibration.

The heuristics turn a one-number score per customer into ``P(buy within h days)`` by isotonic
regression of the observed outcome on the score, one calibrator per horizon, fitted on a
training snapshot (Zadrozny and Elkan 2002, "Transforming classifier scores into accurate
multiclass probability estimates").

Isotonic regression is flat on stretches of the score, which would turn a perfectly good
ranking into ties and lower its ROC AUC. A tie-break of at most ``TIE_BREAK`` (monotone in the
score, in the same direction as the calibration) keeps the probabilities strictly ordered
like the score; it moves no probability by more than ``TIE_BREAK`` = 1e-6, so Brier score and calibration
error are unaffected.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression

from models.baselines._fitting import FloatArray

TIE_BREAK = 1e-6


def as_days(values: ArrayLike, name: str, *, allow_missing: bool = False) -> FloatArray:
    """A per-customer array of days as floats; NaN only where ``allow_missing``."""
    days = np.asarray(values, dtype=np.float64).ravel()
    missing = np.isnan(days)
    if missing.any() and not allow_missing:
        raise ValueError(f"{name} has missing values")
    if (days[~missing] < 0).any():
        raise ValueError(f"{name} must be >= 0 days")
    return days


def check_horizons(horizons: Sequence[float]) -> tuple[float, ...]:
    """Horizons in days, positive and strictly increasing."""
    values = tuple(float(h) for h in horizons)
    if not values or any(h <= 0 for h in values) or list(values) != sorted(set(values)):
        raise ValueError(f"horizons must be positive and strictly increasing, got {horizons!r}")
    return values


def bought_within(days_until_next_purchase: FloatArray, horizon: float) -> FloatArray:
    """1.0 if the next purchase came within ``horizon`` days (NaN = no purchase seen), else 0.0."""
    with np.errstate(invalid="ignore"):
        return (np.nan_to_num(days_until_next_purchase, nan=np.inf) <= horizon).astype(np.float64)


def fit_calibrators(
    score: FloatArray,
    days_until_next_purchase: FloatArray,
    horizons: tuple[float, ...],
    *,
    increasing: bool,
) -> dict[float, IsotonicRegression]:
    """One isotonic map ``score -> P(buy within h)`` per horizon.

    Because the labels are nested (bought within 7 days implies within 30), and isotonic
    regression is order-preserving in the labels, the fitted probabilities are non-decreasing
    in the horizon at every score.
    """
    calibrators = {}
    for horizon in horizons:
        calibrator = IsotonicRegression(
            y_min=0.0, y_max=1.0, increasing=increasing, out_of_bounds="clip"
        )
        calibrators[horizon] = calibrator.fit(
            score, bought_within(days_until_next_purchase, horizon)
        )
    return calibrators


def score_scale(score: FloatArray) -> float:
    """A typical size of the score, so the tie-break resolves differences anywhere in its range."""
    spread = float(np.nanstd(score))
    return spread if spread > 0 else 1.0


def calibrated(
    calibrators: dict[float, IsotonicRegression] | None,
    score: FloatArray,
    horizon: float,
    *,
    scale: float,
) -> FloatArray:
    """Apply the calibrator fitted for ``horizon`` (one of the fitted horizons), ties broken."""
    if calibrators is None:
        raise NotFittedError("This estimator is not fitted yet; call 'fit' before predicting.")
    if float(horizon) not in calibrators:
        raise ValueError(
            f"no calibration for horizon {horizon}; fitted horizons: {sorted(calibrators)}"
        )
    calibrator = calibrators[float(horizon)]
    direction = 1.0 if calibrator.increasing_ else -1.0
    # 0.5 + arctan / pi maps the score into (0, 1): bounded, strictly monotone and the same
    # for every horizon, so the order across horizons is kept as well. Mixing it in (rather
    # than adding it) keeps the result inside (0, 1) with no clipping that would re-create ties.
    order = 0.5 + direction * np.arctan(score / scale) / np.pi
    probability = np.asarray(calibrator.predict(score), dtype=np.float64)
    return np.asarray((1.0 - TIE_BREAK) * probability + TIE_BREAK * order)
