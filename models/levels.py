"""How high a horizon's probabilities sit on average at as_of.

A booster's calibration is fitted on the newest snapshot whose label window is complete, so
its average level is that slice's rate of buying: for 90 days, a slice three months or more
before as_of. Rates move in between (a cohort ages, a season passes), so that level is a
forecast with an error that grows with the distance. Pareto/NBD fitted at as_of gives a
second forecast of the level, from all the history but assuming a stationary process. Each
is wrong in its own way, and the snapshots measure how much:

- the calibration level's error over the distance ``D`` from its slice to as_of: how much
  the observed rate moved between consecutive snapshots (variance of the change in logit),
  times the ``D / spacing`` steps (a random walk's variance grows with the distance);
- Pareto/NBD's level error: the mean squared logit difference between its average P(buy)
  and the observed rate, over the labelled snapshots.

The level at as_of is the precision-weighted mean of the two in logit terms, and a constant
logit shift moves the horizon's probabilities there. A constant shift keeps every ranking
(AUC) and every monotone relation to a feature; it changes only the calibration in the large.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from models.calibration import logit

# Below this many labelled snapshots the rate's movement cannot be measured: no shift.
MIN_SLICES = 5
# Enough customers to place the average level (standard error ~0.001 at p = 0.1).
LEVEL_SAMPLE = 100_000


def anchor_weight(
    rates: np.ndarray, anchor_means: np.ndarray, cutoffs: np.ndarray, as_of: pd.Timestamp
) -> float:
    """Weight of the anchor's level (0: keep the calibration's, 1: the anchor's).

    `rates` and `anchor_means` are per labelled snapshot, in the order of `cutoffs`
    (ascending); the newest one is the calibration slice.
    """
    if len(rates) < MIN_SLICES or np.isnan(anchor_means).any():
        return 0.0  # too few snapshots, or one without the anchor (no BTYD fit there)
    observed, anchored = logit(rates), logit(anchor_means)
    days = np.diff(pd.to_datetime(cutoffs).to_numpy()).astype("timedelta64[D]").astype(float)
    spacing = float(np.median(days))
    distance = (pd.Timestamp(as_of) - pd.Timestamp(cutoffs[-1])).days
    if spacing <= 0 or distance <= 0:
        return 0.0
    calibration_error = distance / spacing * float(np.mean(np.diff(observed) ** 2))
    anchor_error = float(np.mean((observed - anchored) ** 2))
    total = calibration_error + anchor_error
    return calibration_error / total if total > 0 else 0.0


def level_offset(probabilities: np.ndarray, anchor: np.ndarray, weight: float) -> float:
    """The logit shift that moves the mean of `probabilities` to the weighted level.

    The target is ``weight`` of the way from the mean of `probabilities` to the mean of
    `anchor` (NaN anchors skipped), in logit terms.
    """
    anchor = anchor[~np.isnan(anchor)]
    if not weight > 0 or len(probabilities) == 0 or len(anchor) == 0:  # NaN weight too
        return 0.0
    own_level, anchor_level = logit(np.array([np.mean(probabilities), np.mean(anchor)]))
    target = float(expit((1 - weight) * own_level + weight * anchor_level))
    z = logit(probabilities)

    def excess(shift: float) -> float:
        return float(np.mean(expit(z + shift))) - target

    if excess(-10.0) > 0 or excess(10.0) < 0:
        return 0.0  # unreachable (degenerate probabilities): leave the level alone
    return float(brentq(excess, -10.0, 10.0, xtol=1e-9))


def slice_levels(label: pd.Series, anchor: pd.Series, cutoffs: pd.Series) -> pd.DataFrame:
    """Per labelled snapshot cutoff (ascending): the observed rate and the anchor's mean."""
    rows = label.notna().to_numpy()
    frame = pd.DataFrame(
        {
            "cutoff": cutoffs.to_numpy()[rows],
            "rate": label.to_numpy(dtype=float)[rows],
            "anchor": anchor.to_numpy(dtype=float)[rows],
        }
    )
    return frame.groupby("cutoff", sort=True).mean()


def level_sample(n_rows: int, seed: int) -> np.ndarray:
    """Row positions to place the level on: all rows, or a fixed random sample of them."""
    if n_rows <= LEVEL_SAMPLE:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, LEVEL_SAMPLE, replace=False))
