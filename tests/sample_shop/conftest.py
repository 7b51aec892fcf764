"""A small sample shop generated once per test session (2,000 customers, fixed seed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from repurchase.sample_shop import SampleShop, generate_shop, write_shop

N_CUSTOMERS = 2_000
SEED = 11


@pytest.fixture(scope="session")
def shop() -> SampleShop:
    return generate_shop(N_CUSTOMERS, seed=SEED)


@pytest.fixture(scope="session")
def shop_dir(shop: SampleShop, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shop")
    write_shop(shop, out)
    return out


@pytest.fixture(scope="session")
def paid_main_gaps(shop: SampleShop) -> pd.DataFrame:
    """Gaps in days between consecutive paid orders of each customer's main SKU."""
    truth = shop.truth[
        ["customer_id", "main_sku", "true_cycle_days", "regularity", "usual_quantity"]
    ]
    orders = shop.orders[shop.orders["status"] == "paid"]
    orders = orders.assign(
        customer_id=orders["customer_id"].astype(str), sku=orders["sku"].astype(str)
    )
    main = orders.merge(truth, on="customer_id")
    main = main[main["sku"] == main["main_sku"]].sort_values(["customer_id", "ordered_at"])
    gap = main.groupby("customer_id")["ordered_at"].diff().dt.total_seconds() / 86_400
    previous_quantity = main.groupby("customer_id")["quantity"].shift()
    return main.assign(gap_days=gap, previous_quantity=previous_quantity).dropna(
        subset=["gap_days"]
    )
