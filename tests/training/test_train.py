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


def test_orders_after_as_of_change_nothing_the_model_learns(
    small_trained_model, shop_orders, shop_as_of
):
    """The fixture model saw the shop's orders to the end of the year, two months past its
    as_of; trained on the orders up to as_of only it is the same model: the same level at
    as_of (built from the customers at as_of) and the same scores."""
    from models.repurchase import RepurchaseModel
    from training.labels import as_of_day, orders_up_to
    from training.train import fit_model

    history = orders_up_to(shop_orders, as_of_day(shop_as_of))
    assert len(history) < len(shop_orders)
    model = RepurchaseModel(n_estimators=40, min_child_samples=20)
    alone = fit_model(history, shop_as_of, step_days=14, max_snapshots=12, model=model)
    assert alone.model.level_offsets_ == small_trained_model.model.level_offsets_
    assert any(alone.model.level_offsets_.values())
    pd.testing.assert_frame_equal(
        score_customers(alone, history, shop_as_of),
        score_customers(small_trained_model, history, shop_as_of),
    )
