"""Behaviour of the fitted model on a realistic synthetic shop (model tier)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.repurchase import RepurchaseModel
from training.predict import score_customers
from training.train import fit_model


def _regular_customer(customer_id: str, last: pd.Timestamp, n: int = 8, cycle: int = 30):
    days = [last - pd.Timedelta(days=cycle * k) for k in range(n)][::-1]
    return pd.DataFrame(
        {
            "customer_id": pd.array([customer_id] * n, dtype="string"),
            "ordered_at": pd.DatetimeIndex(days).as_unit("ns"),
            "amount": 40.0,
            "order_id": pd.array([f"{customer_id}-{k}" for k in range(n)], dtype="string"),
            "sku": pd.array(["sku1"] * n, dtype="string"),
            "quantity": 1.0,
            "discount": 0.0,
            "channel": pd.array(["web"] * n, dtype="string"),
            "status": pd.array(["paid"] * n, dtype="string"),
        }
    )


def test_probabilities_monotone_in_horizon_and_churn_bounded(
    small_trained_model, shop_orders, shop_as_of
):
    scores = score_customers(small_trained_model, shop_orders, shop_as_of)
    p = scores[["p_buy_7d", "p_buy_14d", "p_buy_30d", "p_buy_60d", "p_buy_90d"]].to_numpy()
    assert (np.diff(p, axis=1) >= 0).all()
    assert ((p >= 0) & (p <= 1)).all()
    assert (scores["p_churn"] <= 1 - scores["p_buy_90d"] + 1e-12).all()
    assert (scores["predicted_value_365d"] >= 0).all()


def test_more_recent_purchase_never_lowers_p_buy_30d(small_trained_model, shop_orders, shop_as_of):
    # The same 30-day buyer, whose whole history is shifted so the last order is more recent.
    probes = pd.concat(
        [
            _regular_customer(f"probe{lag:03d}", shop_as_of - pd.Timedelta(days=lag))
            for lag in (2, 10, 20, 30, 45, 60, 90, 120)
        ],
        ignore_index=True,
    )
    orders = pd.concat([shop_orders, probes], ignore_index=True)
    scores = score_customers(small_trained_model, orders, shop_as_of).set_index("customer_id")
    by_recency = scores.loc[[f"probe{lag:03d}" for lag in (2, 10, 20, 30, 45, 60, 90, 120)]]
    # Ordered from most to least recent: p_buy_30d must not increase along the list.
    assert (np.diff(by_recency["p_buy_30d"].to_numpy()) <= 1e-12).all()


def test_same_seed_same_scores(shop_orders, shop_as_of):
    def run():
        model = RepurchaseModel(n_estimators=15, min_child_samples=20, random_state=3)
        trained = fit_model(
            shop_orders,
            shop_as_of,
            step_days=30,
            max_snapshots=5,
            model=model,
            use_btyd_features=False,
        )
        return score_customers(trained, shop_orders, shop_as_of)

    pd.testing.assert_frame_equal(run(), run())


def test_model_ranks_buyers_above_chance(small_trained_model, shop_orders, shop_as_of):
    from sklearn.metrics import roc_auc_score

    from training.labels import label_snapshots

    scores = score_customers(small_trained_model, shop_orders, shop_as_of)
    keys = scores[["customer_id"]].assign(cutoff=shop_as_of)
    outcome = label_snapshots(keys, shop_orders, "2024-12-31")["label_bought_30d"]
    assert roc_auc_score(outcome, scores["p_buy_30d"]) > 0.7


def test_a_horizon_with_one_labelled_snapshot_is_left_to_pareto_nbd(shop_orders, shop_as_of):
    """Snapshots 30, 60 and 90 days back: buying within 90 days is labelled at one cutoff
    only, so no booster can be calibrated for it and Pareto/NBD's P(buy) is used as is."""
    from models.booster import AnchorClassifier, SliceCalibratedClassifier
    from training.predict import scoring_features

    def trained(use_btyd_features: bool):
        model = RepurchaseModel(n_estimators=15, min_child_samples=20)
        return fit_model(
            shop_orders, shop_as_of, step_days=30, max_snapshots=3, model=model,
            use_btyd_features=use_btyd_features,
        )  # fmt: skip

    anchored = trained(use_btyd_features=True)
    timing = anchored.model.timing_
    assert isinstance(timing[90], AnchorClassifier)
    assert all(isinstance(timing[h], SliceCalibratedClassifier) for h in (7, 14, 30, 60))
    scores = score_customers(anchored, shop_orders, shop_as_of)
    features = scoring_features(anchored, shop_orders, shop_as_of)
    pnbd = features.set_index("customer_id")["pnbd_p_buy_90d"]
    by_customer = scores.set_index("customer_id")
    np.testing.assert_allclose(
        by_customer["p_buy_90d"],
        np.maximum(pnbd.reindex(by_customer.index), by_customer["p_buy_60d"]),
    )
    assert scores["reasons"].str.len().gt(0).all()  # explained by the 60-day booster
    assert anchored.model.explained_classifier(90) is timing[60]
    # without the Pareto/NBD columns there is no anchor: the booster as before
    plain = trained(use_btyd_features=False)
    assert isinstance(plain.model.timing_[90], SliceCalibratedClassifier)


def test_short_horizons_follow_the_cycle(small_trained_model, shop_orders, shop_as_of):
    """A 30-day buyer who bought 2 days ago will hardly buy this week; one who bought 25 days
    ago likely will (the due columns of models.due_features; without them the 7-day
    probabilities of both were about 0.17)."""
    probes = pd.concat(
        [
            _regular_customer(f"probe{lag:03d}", shop_as_of - pd.Timedelta(days=lag))
            for lag in (2, 25)
        ],
        ignore_index=True,
    )
    orders = pd.concat([shop_orders, probes], ignore_index=True)
    scores = score_customers(small_trained_model, orders, shop_as_of).set_index("customer_id")
    just_bought, nearly_due = scores.loc["probe002"], scores.loc["probe025"]
    assert nearly_due["p_buy_7d"] > 2 * just_bought["p_buy_7d"]
    assert nearly_due["p_buy_14d"] > 2 * just_bought["p_buy_14d"]


def test_only_short_horizons_split_on_the_due_columns(small_trained_model):
    model = small_trained_model.model

    def gain_on_due_columns(classifier) -> float:
        booster = classifier.booster_.booster_
        gains = booster.feature_importance(importance_type="gain")
        names = list(classifier.feature_names_in_)  # trained on arrays: Column_0, ...
        return float(sum(g for g, n in zip(gains, names, strict=True) if n.startswith("due_")))

    columns = model.feature_columns_
    assert any(c.startswith("due_") for c in columns)
    assert gain_on_due_columns(model.timing_[7]) > 0
    for horizon in (30, 60, 90):
        assert gain_on_due_columns(model.timing_[horizon]) == 0.0
    if model.churn_ is not None:
        assert gain_on_due_columns(model.churn_) == 0.0


def test_the_level_at_as_of_moves_towards_pareto_nbd_and_keeps_the_ranking(
    small_trained_model, shop_orders, shop_as_of
):
    """Each horizon's average at as_of lies between its calibration slice's level and
    Pareto/NBD's (models.levels); a constant logit shift, so every ranking is unchanged."""
    from scipy.special import expit, logit

    from training.predict import scoring_features

    model = small_trained_model.model
    offsets = model.level_offsets_
    assert set(offsets) == set(model.horizons) and any(offsets.values())
    features = scoring_features(small_trained_model, shop_orders, shop_as_of)
    X = features.reindex(columns=model.feature_columns_).astype(float)
    for horizon, offset in offsets.items():
        calibrated = model.timing_[horizon].predict_proba(X)[:, 1]
        shifted = expit(logit(calibrated) + offset)
        anchor = features[f"pnbd_p_buy_{horizon}d"].mean()
        low, high = sorted([calibrated.mean(), anchor])
        assert low - 1e-9 <= shifted.mean() <= high + 1e-9
        assert (np.argsort(shifted, kind="stable") == np.argsort(calibrated, kind="stable")).all()
    # a model without the level (or pickled before it) predicts with its calibration alone
    del model.level_offsets_
    try:
        plain = model.predict(X)
    finally:
        model.level_offsets_ = offsets
    first = min(model.horizons)
    np.testing.assert_allclose(
        plain[f"p_buy_{first}d"], model.timing_[first].predict_proba(X)[:, 1]
    )
