"""A small synthetic shop: regular-cycle customers who may drop out, in canonical form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

SHOP_START = pd.Timestamp("2024-01-01", tz="UTC")
SHOP_AS_OF = pd.Timestamp("2024-10-31", tz="UTC")


def make_shop(n_customers: int = 400, seed: int = 7, end: str = "2024-12-31") -> pd.DataFrame:
    """Canonical orders: each customer buys every ~cycle days until a random dropout."""
    rng = np.random.default_rng(seed)
    max_orders = 25
    cycle = rng.uniform(15, 60, n_customers)
    first = rng.uniform(0, 150, n_customers)
    gaps = cycle[:, None] * rng.gamma(8.0, 1 / 8.0, (n_customers, max_orders))
    gaps[:, 0] = 0.0
    offsets = first[:, None] + np.cumsum(gaps, axis=1)
    n_orders = rng.geometric(0.12, n_customers)
    keep = (np.arange(max_orders)[None, :] < n_orders[:, None]) & (
        offsets < (pd.Timestamp(end, tz="UTC") - SHOP_START).days
    )
    customer, position = np.nonzero(keep)
    orders = pd.DataFrame(
        {
            "customer_id": pd.array([f"c{c:04d}" for c in customer], dtype="string"),
            "ordered_at": SHOP_START + pd.to_timedelta(np.floor(offsets[keep]), unit="D"),
            "amount": np.round(rng.lognormal(3.5, 0.4, len(customer)), 2),
            "order_id": pd.array([f"o{i}" for i in range(len(customer))], dtype="string"),
            "sku": pd.array(["sku1"] * len(customer), dtype="string"),
            "quantity": 1.0,
            "discount": 0.0,
            "channel": pd.array(["web"] * len(customer), dtype="string"),
            "status": pd.array(["paid"] * len(customer), dtype="string"),
        }
    )
    del position
    orders["ordered_at"] = orders["ordered_at"].dt.as_unit("ns")
    return orders.sort_values("ordered_at", kind="stable").reset_index(drop=True)


@pytest.fixture(scope="session")
def shop_orders() -> pd.DataFrame:
    return make_shop()


@pytest.fixture(scope="session")
def shop_as_of() -> pd.Timestamp:
    return SHOP_AS_OF


@pytest.fixture(scope="session")
def small_trained_model(shop_orders: pd.DataFrame):
    from models.repurchase import RepurchaseModel
    from training.train import fit_model

    model = RepurchaseModel(n_estimators=40, min_child_samples=20)
    return fit_model(shop_orders, SHOP_AS_OF, step_days=14, max_snapshots=12, model=model)
