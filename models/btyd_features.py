"""BG/NBD outputs as extra model features.

Two uses, one function (:func:`add_btyd_features`):

- training: every snapshot gets a BG/NBD fit on its own RFM summary (``params=None``). The
  summary is computed as of the snapshot's cutoff, so the outputs are leak-free features;
- scoring: the parameters fitted once on the population at the training ``as_of``
  (:func:`fit_btyd_params`, stored in ``training.train.TrainedModel``) are applied as they
  are. Refitting on the frame being scored would make one customer's score depend on who
  else is in the frame (and a fit on a single row means nothing), and costs seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

BTYD_FEATURES = ("bgnbd_p_alive", "bgnbd_expected_30d", "bgnbd_expected_90d")

# Fitted parameters per model name, plain floats (joblib/pickle friendly), e.g.
# {"bg_nbd": {"r": 0.24, "alpha": 30.9, "a": 0.79, "b": 2.43}}. An empty mapping means the
# fit failed (nobody had repeated yet): the feature columns are then NaN.
BtydParams = dict[str, dict[str, float]]


def fit_btyd_params(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BtydParams:
    """Fit BG/NBD on per-customer ``frequency``, ``recency`` and ``T`` (days); its parameters.

    Returns ``{}`` when the fit is impossible (no repeat buyer) or does not converge.
    """
    from models.baselines.bg_nbd import BetaGeoModel

    try:
        model = BetaGeoModel().fit(frequency, recency, T)
    except (ValueError, RuntimeError, FloatingPointError):
        return {}
    return {"bg_nbd": {name: float(value) for name, value in model.params_.items()}}


def add_btyd_features(features: pd.DataFrame, params: BtydParams | None = None) -> pd.DataFrame:
    """`features` plus BG/NBD P(alive) and expected purchases in 30/90 days.

    Required columns: ``frequency``, ``recency``, ``T`` (days, as of the frame's cutoff).
    `params`: fitted parameters to apply (see :func:`fit_btyd_params`); None fits them on
    `features` itself (a training snapshot). Where no fit is available the columns are NaN,
    which LightGBM handles.
    """
    from models.baselines.bg_nbd import BetaGeoModel

    out = features.copy()
    frequency = out["frequency"].to_numpy(dtype=float)
    recency = out["recency"].to_numpy(dtype=float)
    age = out["T"].to_numpy(dtype=float)
    if params is None:
        params = fit_btyd_params(frequency, recency, age)
    if "bg_nbd" not in params or out.empty:
        for column in BTYD_FEATURES:
            out[column] = np.nan
        return out
    model = BetaGeoModel()
    model.params_ = dict(params["bg_nbd"])
    out["bgnbd_p_alive"] = model.probability_alive(frequency, recency, age)
    for days in (30, 90):
        out[f"bgnbd_expected_{days}d"] = model.expected_purchases(days, frequency, recency, age)
    return out
