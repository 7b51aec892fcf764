"""BG/NBD outputs as extra model features, fitted on one snapshot's own history.

Fitting BG/NBD on the RFM summary at a cutoff uses only data up to that cutoff (the summary
is computed as of the cutoff), so its outputs are leak-free features for the snapshot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BTYD_FEATURES = ("bgnbd_p_alive", "bgnbd_expected_30d", "bgnbd_expected_90d")


def add_btyd_features(features: pd.DataFrame) -> pd.DataFrame:
    """`features` plus BG/NBD P(alive) and expected purchases in 30/90 days.

    Required columns: ``frequency``, ``recency``, ``T`` (days, as of the snapshot's cutoff).
    If the fit fails (e.g. nobody has repeated yet) the columns are NaN: LightGBM handles it.
    """
    from models.baselines.bg_nbd import BetaGeoModel

    out = features.copy()
    frequency = out["frequency"].to_numpy(dtype=float)
    recency = out["recency"].to_numpy(dtype=float)
    age = out["T"].to_numpy(dtype=float)
    try:
        model = BetaGeoModel().fit(frequency, recency, age)
        out["bgnbd_p_alive"] = model.probability_alive(frequency, recency, age)
        for days in (30, 90):
            out[f"bgnbd_expected_{days}d"] = model.expected_purchases(days, frequency, recency, age)
    except (ValueError, RuntimeError, FloatingPointError):
        for column in BTYD_FEATURES:
            out[column] = np.nan
    return out
