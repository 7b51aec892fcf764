"""A frozen population config makes a customer's features independent of the frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.pipeline import build_features
from features.population import population_config
from repurchase.sample_shop import generate_shop

AS_OF = "2026-06-30"


@pytest.fixture(scope="module")
def shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    generated = generate_shop(1500, seed=21)
    from features.tables import canonical_orders

    return canonical_orders(generated.orders, source="shop"), generated.products


def _subset(orders: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    return orders.loc[orders["customer_id"].isin(ids)]


def test_without_freezing_a_customer_alone_gets_other_features(shop) -> None:
    """The problem this module solves (if this starts passing, the module is moot)."""
    orders, products = shop
    everyone = build_features(orders, AS_OF, products)
    ids = everyone["customer_id"].iloc[[3, 30, 300]].tolist()
    alone = build_features(_subset(orders, ids), AS_OF, products)
    assert set(alone.columns) != set(everyone.columns) or not everyone.set_index("customer_id").loc[
        ids, alone.columns[1:]
    ].astype(str).equals(alone.set_index("customer_id").loc[ids, alone.columns[1:]].astype(str))


def test_frozen_config_gives_the_same_features_alone_as_among_everyone(shop) -> None:
    orders, products = shop
    everyone = build_features(orders, AS_OF, products)
    frozen = population_config(everyone, orders, AS_OF, products)
    batch = build_features(orders, AS_OF, products, frozen).set_index("customer_id")
    ids = batch.index[[3, 30, 300, 1000]].tolist()
    for customer in ids:
        alone = build_features(_subset(orders, [customer]), AS_OF, products, frozen)
        alone = alone.set_index("customer_id")
        assert list(alone.columns) == list(batch.columns)
        row, expected = alone.loc[customer], batch.loc[customer]
        for column in batch.columns:
            if pd.api.types.is_numeric_dtype(batch[column]):
                np.testing.assert_allclose(
                    float(row[column]), float(expected[column]), rtol=1e-6, err_msg=column
                )
            else:
                assert str(row[column]) == str(expected[column]), column


def test_freezing_changes_nothing_for_the_population_it_was_learned_on(shop) -> None:
    orders, products = shop
    everyone = build_features(orders, AS_OF, products)
    frozen = population_config(everyone, orders, AS_OF, products)
    again = build_features(orders, AS_OF, products, frozen)
    assert frozen.rfm_recency_days == pytest.approx(everyone["days_since_last_order"].median())
    assert frozen.channels and frozen.cycle_shop_pace is not None
    pd.testing.assert_frame_equal(again[everyone.columns], everyone, check_exact=False, rtol=1e-9)


def test_explicit_settings_are_kept(shop) -> None:
    orders, products = shop
    everyone = build_features(orders, AS_OF, products)
    from features.config import FeatureConfig

    config = FeatureConfig(rfm_recency_days=45.0, channels=("web",))
    frozen = population_config(everyone, orders, AS_OF, products, config)
    assert frozen.rfm_recency_days == 45.0
    assert frozen.channels == ("web",)
    assert frozen.rfm_monetary == pytest.approx(everyone["revenue_total"].median())
