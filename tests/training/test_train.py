"""fit_model / TrainedModel: scoring uses the BTYD parameters fitted at training time."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd

from models.btyd_features import BTYD_FEATURES
from training.predict import score_customers


def test_btyd_params_are_plain_floats_fitted_at_training(small_trained_model, tmp_path):
    params = small_trained_model.btyd_params
    assert set(params["bg_nbd"]) == {"r", "alpha", "a", "b"}
    assert all(type(value) is float and value > 0 for value in params["bg_nbd"].values())
    path = tmp_path / "model.joblib"
    joblib.dump(small_trained_model, path)
    assert joblib.load(path).btyd_params == params


def test_one_customer_alone_scores_as_among_everyone(small_trained_model, shop_orders, shop_as_of):
    """What the API does: score one customer's history alone, at the same as_of.

    Repeat buyers only: a one-time buyer's ``cycle_days`` falls back to the median gap of
    the customers in the frame (features/cycle.py), a population statistic outside the model.
    """
    everyone = score_customers(small_trained_model, shop_orders, shop_as_of)
    history = shop_orders.loc[shop_orders["ordered_at"] <= shop_as_of]
    repeaters = history["customer_id"].value_counts()
    # from the most to the least frequent repeat buyer
    chosen = list(repeaters.index[repeaters.to_numpy() >= 2][[0, 10, -1]])
    model_columns = [c for c in everyone.columns if c.startswith("p_")] + [
        "predicted_value_365d",
        "next_purchase_date",
        "next_purchase_low",
        "next_purchase_high",
        "reasons",
    ]
    for customer_id in chosen:
        own_orders = shop_orders.loc[shop_orders["customer_id"] == customer_id]
        alone = score_customers(small_trained_model, own_orders, shop_as_of)
        among = everyone.loc[everyone["customer_id"] == customer_id].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone[model_columns], among[model_columns])


def test_scoring_features_use_stored_params_not_a_refit(
    small_trained_model, shop_orders, shop_as_of
):
    full = small_trained_model.features(shop_orders, shop_as_of)
    # Half of the customers: a refit would move every customer's BG/NBD outputs.
    half_ids = full["customer_id"].iloc[::2]
    half = small_trained_model.features(
        shop_orders.loc[shop_orders["customer_id"].isin(half_ids)], shop_as_of
    )
    columns = list(BTYD_FEATURES)
    expected = full.set_index("customer_id").loc[half["customer_id"], columns].to_numpy()
    np.testing.assert_array_equal(half[columns].to_numpy(), expected)
    assert np.isfinite(expected).all()
