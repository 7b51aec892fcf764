"""score_customers: exactly the SPEC score columns, consistent dates and reasons."""

from __future__ import annotations

import datetime as dt

import joblib
import pandas as pd

from training.predict import SCORE_COLUMNS, score_customers


def test_score_columns_in_spec_order(small_trained_model, shop_orders, shop_as_of):
    scores = score_customers(small_trained_model, shop_orders, shop_as_of, model_version="7")
    assert list(scores.columns) == SCORE_COLUMNS
    history = shop_orders.loc[shop_orders["ordered_at"] < shop_as_of + pd.Timedelta(days=1)]
    assert set(scores["customer_id"]) == set(history["customer_id"])
    assert (scores["as_of"] == dt.date(2024, 10, 31)).all()
    assert (scores["model_version"] == "7").all()
    assert scores["reasons"].str.count("; ").eq(2).all()


def test_next_purchase_dates_follow_the_probabilities(small_trained_model, shop_orders, shop_as_of):
    scores = score_customers(small_trained_model, shop_orders, shop_as_of)
    has_date = scores["next_purchase_date"].notna()
    assert (has_date == (scores["p_buy_90d"] >= 0.5)).all()
    dated = scores.loc[has_date]
    as_of = dt.date(2024, 10, 31)
    assert all(as_of < d <= as_of + dt.timedelta(days=90) for d in dated["next_purchase_date"])
    both = dated.loc[dated["next_purchase_low"].notna()]
    assert (both["next_purchase_low"] <= both["next_purchase_date"]).all()


def test_model_pickles_and_scores_identically(
    small_trained_model, shop_orders, shop_as_of, tmp_path
):
    path = tmp_path / "model.joblib"
    joblib.dump(small_trained_model, path)
    loaded = joblib.load(path)
    pd.testing.assert_frame_equal(
        score_customers(loaded, shop_orders, shop_as_of),
        score_customers(small_trained_model, shop_orders, shop_as_of),
    )
