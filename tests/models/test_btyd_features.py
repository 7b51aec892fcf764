"""add_btyd_features: per-snapshot fit in training, stored parameters at scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.btyd_features import (
    BTYD_FEATURES,
    PARETO_HORIZONS,
    add_btyd_features,
    fit_btyd_params,
)


def _summary() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    T = rng.uniform(30, 300, 500).round()
    frequency = rng.poisson(T / 60)
    recency = np.where(frequency > 0, (T * rng.uniform(0.2, 1.0, 500)).round(), 0.0)
    return pd.DataFrame({"frequency": frequency.astype(float), "recency": recency, "T": T})


def test_stored_params_reproduce_the_fit_on_the_same_frame():
    frame = _summary()
    params = fit_btyd_params(frame["frequency"], frame["recency"], frame["T"])
    refit = add_btyd_features(frame)
    stored = add_btyd_features(frame, params)
    pd.testing.assert_frame_equal(refit, stored)
    assert refit["bgnbd_p_alive"].between(0, 1).all()
    # expected purchases grow with the window
    assert (refit["bgnbd_expected_90d"] >= refit["bgnbd_expected_30d"]).all()


def test_stored_params_make_a_row_independent_of_the_others():
    frame = _summary()
    params = fit_btyd_params(frame["frequency"], frame["recency"], frame["T"])
    everyone = add_btyd_features(frame, params)
    alone = add_btyd_features(frame.iloc[[7]], params)
    pd.testing.assert_frame_equal(alone, everyone.iloc[[7]])


def test_no_repeat_buyer_means_no_fit_and_nan_features():
    frame = pd.DataFrame({"frequency": [0.0, 0.0], "recency": [0.0, 0.0], "T": [10.0, 40.0]})
    assert fit_btyd_params(frame["frequency"], frame["recency"], frame["T"]) == {}
    out = add_btyd_features(frame)
    assert out[list(BTYD_FEATURES)].isna().all().all()
    assert add_btyd_features(frame, {})[list(BTYD_FEATURES)].isna().all().all()


def test_pareto_probabilities_grow_with_the_horizon_and_stay_below_p_alive():
    frame = _summary()
    out = add_btyd_features(frame)
    buy = out[[f"pnbd_p_buy_{h}d" for h in PARETO_HORIZONS]].to_numpy()
    assert (np.diff(buy, axis=1) >= 0).all()
    assert (buy[:, -1] <= out["pnbd_p_alive"].to_numpy() + 1e-12).all()
