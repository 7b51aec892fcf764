"""generate_shop / write_shop: determinism, the input contract, and argument checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.errors import InputError
from features.tables import read_contacts, read_customers, read_orders, read_products
from repurchase.sample_shop import SampleShop, generate_shop, write_shop

FILES = ["orders", "products", "customers", "contacts", "truth"]


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_shop(generate_shop(300, seed=5), tmp_path / "a")
    second = write_shop(generate_shop(300, seed=5), tmp_path / "b")
    assert sorted(first) == sorted(second) == sorted(FILES)
    for name in FILES:
        assert first[name].read_bytes() == second[name].read_bytes(), name


def test_another_seed_gives_another_shop(tmp_path: Path) -> None:
    one = write_shop(generate_shop(300, seed=5), tmp_path / "a")
    other = write_shop(generate_shop(300, seed=6), tmp_path / "b")
    assert one["orders"].read_bytes() != other["orders"].read_bytes()


def test_files_load_through_the_input_readers(shop: SampleShop, shop_dir: Path) -> None:
    orders = read_orders(shop_dir / "orders.csv")
    products = read_products(shop_dir / "products.csv")
    customers = read_customers(shop_dir / "customers.csv")
    contacts = read_contacts(shop_dir / "contacts.csv")
    # nothing is dropped as a duplicate order_id + sku: each order line is unique
    assert len(orders) == len(shop.orders)
    assert len(customers) == len(shop.customers) == len(shop.truth)
    assert len(contacts) == len(shop.contacts)
    assert set(orders["status"]) == {"paid", "refunded", "cancelled"}
    assert orders["ordered_at"].min() >= pd.Timestamp("2024-10-31T00:00Z")
    assert orders["ordered_at"].max() < pd.Timestamp("2026-11-01T00:00Z")
    assert set(orders["sku"]) <= set(products["sku"])
    assert set(orders["customer_id"]) <= set(customers["customer_id"])
    gadgets = products[products["category"] == "gadgets"]
    assert gadgets["days_of_supply"].isna().all()
    assert (products.loc[products["category"] != "gadgets", "days_of_supply"] > 0).all()
    assert customers["timezone"].value_counts().index[0] == "Asia/Shanghai"


def test_timestamps_are_iso_utc_text(shop_dir: Path) -> None:
    header, first = (shop_dir / "orders.csv").read_text().splitlines()[:2]
    assert header.startswith('"order_id","customer_id","ordered_at"')
    stamp = first.split(",")[2].strip('"')
    assert dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")


def test_every_customer_has_a_first_paid_order_on_acquisition(shop: SampleShop) -> None:
    paid = shop.orders[shop.orders["status"] == "paid"]
    assert paid["customer_id"].nunique() == len(shop.truth)


def test_truth_cycle_is_quantity_times_supply_over_usage(shop: SampleShop) -> None:
    supply = shop.products.set_index("sku")["days_of_supply"]
    truth = shop.truth
    expected = truth["usual_quantity"] * truth["main_sku"].map(supply) / truth["usage_rate"]
    np.testing.assert_allclose(truth["true_cycle_days"], expected, atol=0.006)
    gadget_only = truth["main_category"] == "gadgets"
    assert gadget_only.any()
    assert truth.loc[gadget_only, "true_cycle_days"].isna().all()
    assert set(truth["price_sensitivity"]) == {"low", "medium", "high"}


def test_custom_period_is_respected() -> None:
    shop = generate_shop(200, seed=1, start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 30))
    stamps = shop.orders["ordered_at"]
    assert stamps.min() >= pd.Timestamp("2024-12-31T00:00Z")
    assert stamps.max() < pd.Timestamp("2025-07-01T00:00Z")
    assert set(shop.contacts["campaign"].astype(str)) <= {
        "replenish_reminder",
        "winback",
        "618_2025_preheat",
    }


@pytest.mark.parametrize(
    ("n", "start", "end"),
    [
        (0, dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        (10, dt.date(2025, 1, 1), dt.date(2025, 1, 1)),
        (10, dt.date(2025, 2, 1), dt.date(2025, 1, 1)),
    ],
)
def test_bad_arguments_are_input_errors(n: int, start: dt.date, end: dt.date) -> None:
    with pytest.raises(InputError):
        generate_shop(n, seed=1, start=start, end=end)


def test_writing_over_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match="not a folder"):
        write_shop(generate_shop(5, seed=1), blocker)
