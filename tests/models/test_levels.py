"""The average level of a horizon's probabilities at as_of (models.levels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from models.levels import LEVEL_SAMPLE, anchor_weight, level_offset, level_sample, slice_levels

AS_OF = pd.Timestamp("2026-06-30")
CUTOFFS = pd.date_range(end="2026-03-31", periods=6, freq="21D").to_numpy()


def test_a_steady_rate_keeps_the_calibration_level() -> None:
    rates = np.full(6, 0.2)
    anchor = np.full(6, 0.1)  # the anchor is far off, and the rate never moved
    assert anchor_weight(rates, anchor, CUTOFFS, AS_OF) == 0.0


def test_an_anchor_that_tracked_a_moving_rate_takes_over() -> None:
    rates = np.array([0.30, 0.25, 0.21, 0.18, 0.15, 0.13])
    assert anchor_weight(rates, rates, CUTOFFS, AS_OF) == 1.0


def test_the_anchor_weighs_more_the_further_as_of_is_from_the_calibration_slice() -> None:
    rates = np.array([0.30, 0.25, 0.27, 0.22, 0.24, 0.20])
    anchor = rates * 1.2
    near = anchor_weight(rates, anchor, CUTOFFS, pd.Timestamp(CUTOFFS[-1]) + pd.Timedelta(days=7))
    far = anchor_weight(rates, anchor, CUTOFFS, pd.Timestamp(CUTOFFS[-1]) + pd.Timedelta(days=90))
    assert 0.0 < near < far < 1.0


def test_too_few_slices_to_measure_movement_leave_the_level() -> None:
    rates = np.array([0.3, 0.1])
    assert anchor_weight(rates, rates, CUTOFFS[-2:], AS_OF) == 0.0


def test_a_snapshot_without_the_anchor_leaves_the_level() -> None:
    rates = np.array([0.30, 0.25, 0.21, 0.18, 0.15, 0.13])
    anchor = rates.copy()
    anchor[2] = np.nan  # no BTYD fit at that cutoff
    assert anchor_weight(rates, anchor, CUTOFFS, AS_OF) == 0.0
    assert level_offset(np.array([0.1, 0.2]), np.array([0.3, 0.4]), float("nan")) == 0.0


@pytest.mark.parametrize("weight", [0.25, 0.5, 1.0])
def test_the_offset_moves_the_mean_to_the_weighted_level_and_keeps_the_ranking(
    weight: float,
) -> None:
    rng = np.random.default_rng(0)
    probabilities = expit(rng.normal(-2.0, 1.0, 5_000))
    anchor = expit(rng.normal(-2.5, 1.0, 5_000))
    anchor[::10] = np.nan  # no BTYD fit for some: skipped
    shift = level_offset(probabilities, anchor, weight)
    shifted = expit(logit(probabilities) + shift)
    target = expit((1 - weight) * logit(probabilities.mean()) + weight * logit(np.nanmean(anchor)))
    assert shifted.mean() == pytest.approx(target, abs=1e-7)
    assert (np.argsort(shifted) == np.argsort(probabilities)).all()


def test_no_weight_or_no_anchor_means_no_offset() -> None:
    probabilities = np.array([0.1, 0.2, 0.3])
    assert level_offset(probabilities, np.array([0.5, 0.5, 0.5]), 0.0) == 0.0
    assert level_offset(probabilities, np.full(3, np.nan), 0.7) == 0.0


def test_slice_levels_are_per_labelled_cutoff_in_time_order() -> None:
    cutoffs = pd.Series(pd.to_datetime(["2026-02-01", "2026-01-01", "2026-02-01", "2026-03-01"]))
    label = pd.Series([1.0, 0.0, 0.0, np.nan])  # the newest cutoff's window is not over yet
    anchor = pd.Series([0.4, 0.1, 0.2, 0.9])
    levels = slice_levels(label, anchor, cutoffs)
    assert list(levels.index) == list(pd.to_datetime(["2026-01-01", "2026-02-01"]))
    assert levels["rate"].tolist() == [0.0, 0.5]
    assert levels["anchor"].tolist() == pytest.approx([0.1, 0.3])


def test_the_level_sample_is_every_row_or_a_fixed_sample() -> None:
    assert (level_sample(10, seed=0) == np.arange(10)).all()
    big = level_sample(LEVEL_SAMPLE * 3, seed=0)
    assert len(big) == LEVEL_SAMPLE and (np.diff(big) > 0).all()
    assert (big == level_sample(LEVEL_SAMPLE * 3, seed=0)).all()
