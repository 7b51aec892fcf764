"""Consumption cycle: each source of the fallback chain on a hand-made shop (as_of 2024-03-31)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from features.config import FeatureConfig
from features.cycle import (
    SkuDays,
    customer_pace,
    cycle_features,
    learn_pace_prior,
    sku_purchase_days,
    sku_repurchase_interval,
)
from features.intervals import interval_features
from features.pipeline import build_features
from features.prepared import prepare_orders

AS_OF = dt.date(2024, 3, 31)
PRODUCTS = pd.DataFrame(
    {
        "sku": pd.Series(["x", "y", "w"], dtype="string"),
        "category": pd.Series(["food", "food", "care"], dtype="string"),
        "days_of_supply": [15.0, 60.0, np.nan],  # w: supply unknown
    }
)


@pytest.fixture
def shop(orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame]) -> pd.DataFrame:
    rows: list[dict[str, object]] = [
        # a: last day Mar 1 bought 2 x (2*15 = 30 days) and 1 y (60 days) -> x runs out first
        {"customer_id": "a", "ordered_at": "2024-01-01", "amount": 5, "order_id": "a0", "sku": "x"},
        {
            "customer_id": "a",
            "ordered_at": "2024-03-01",
            "amount": 9,
            "order_id": "a1",
            "sku": "x",
            "quantity": 2,
        },
        {"customer_id": "a", "ordered_at": "2024-03-01", "amount": 9, "order_id": "a1", "sku": "y"},
        # b: sku z has no product row; own gaps 20 and 30 days -> median 25
        {"customer_id": "b", "ordered_at": "2024-01-01", "amount": 5, "order_id": "b0", "sku": "z"},
        {"customer_id": "b", "ordered_at": "2024-01-21", "amount": 5, "order_id": "b1", "sku": "z"},
        {"customer_id": "b", "ordered_at": "2024-02-20", "amount": 5, "order_id": "b2", "sku": "z"},
        # c: one purchase of w; e's repeat purchases of w (every 7 days) teach w's interval
        {"customer_id": "c", "ordered_at": "2024-03-20", "amount": 5, "order_id": "c0", "sku": "w"},
        {"customer_id": "e", "ordered_at": "2024-01-01", "amount": 5, "order_id": "e0", "sku": "w"},
        {"customer_id": "e", "ordered_at": "2024-01-08", "amount": 5, "order_id": "e1", "sku": "w"},
        {"customer_id": "e", "ordered_at": "2024-01-15", "amount": 5, "order_id": "e2", "sku": "w"},
        # d: one purchase, no sku -> the all-customer median gap (7, 7, 20, 30, 60 -> 20)
        {"customer_id": "d", "ordered_at": "2024-03-10", "amount": 5, "order_id": "d0"},
    ]
    return orders_from_rows(rows)


def _cycle(orders: pd.DataFrame, products: pd.DataFrame | None) -> pd.DataFrame:
    prepared = prepare_orders(orders, AS_OF)
    gap_median = interval_features(prepared)["gap_median"].to_numpy()
    config = FeatureConfig(cycle_sku_min_intervals=2)
    frame = cycle_features(prepared, products, gap_median, config)
    return frame.set_axis(prepared.customer_ids)


def test_each_source_of_the_chain(shop: pd.DataFrame) -> None:
    frame = _cycle(shop, PRODUCTS)
    assert frame["cycle_source"].tolist() == [
        "supply", "own_intervals", "sku_intervals", "all_customers", "own_intervals",
    ]  # fmt: skip
    assert frame["cycle_days"].tolist() == [30.0, 25.0, 7.0, 20.0, 7.0]
    assert frame.loc["a", "depletion_date"] == pd.Timestamp("2024-03-31")
    assert frame.loc["b", "depletion_date"] == pd.Timestamp("2024-03-16")  # Feb 20 + 25 (leap year)
    assert frame.loc["c", "depletion_date"] == pd.Timestamp("2024-03-27")
    assert frame["depletion_date"].isna()["d"]  # a population guess is not a depletion date
    assert frame["days_until_depletion"].tolist()[:3] == [0.0, -15.0, -4.0]
    assert frame.loc["b", "overdue_ratio"] == pytest.approx(40 / 25)  # 40 days since Feb 20
    assert frame.loc["d", "overdue_ratio"] == pytest.approx(21 / 20)


def test_without_products_own_gaps_come_first(shop: pd.DataFrame) -> None:
    frame = _cycle(shop, None)
    assert frame.loc["a", "cycle_source"] == "own_intervals" and frame.loc["a", "cycle_days"] == 60


def test_sku_interval_needs_enough_repeats(shop: pd.DataFrame) -> None:
    prepared = prepare_orders(shop, AS_OF)
    learned = dict(zip(prepared.sku_names, sku_repurchase_interval(prepared, 2), strict=True))
    assert learned["w"] == 7.0 and learned["z"] == 25.0
    assert np.isnan(learned["x"])  # a single repeat (60 days) is not enough
    assert np.isnan(learned["y"])


def test_too_few_customers_to_learn_a_pace_keep_the_label(shop: pd.DataFrame) -> None:
    # a rebought x after 60 days for 15 label days (pace 4), but nobody else is there to
    # compare with: the label holds (cycle 30 above, source "supply")
    prepared = prepare_orders(shop, AS_OF)
    days = sku_purchase_days(prepared)
    per_unit = pd.Series([15.0, 60.0], index=["x", "y"]).reindex(prepared.sku_names).to_numpy()
    pace = customer_pace(days, days.quantity * per_unit[days.sku], prepared.n_customers, None)
    assert not pace.learned and pace.n_observations.tolist() == [1, 0, 0, 0, 0]
    assert (pace.pace == 1.0).all()


def _regular_shop(gaps: dict[str, list[int]]) -> list[dict[str, object]]:
    """Customers buying 1 unit of x (15 label days) after each gap, 2 units on the last day."""
    rows: list[dict[str, object]] = []
    for customer, customer_gaps in gaps.items():
        days = np.cumsum([0, *customer_gaps])
        for i, day in enumerate(days):
            rows.append(
                {
                    "customer_id": customer,
                    "ordered_at": (pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(day))),
                    "amount": 5,
                    "order_id": f"{customer}{i}",
                    "sku": "x",
                    "quantity": 2 if i == len(days) - 1 else 1,
                }
            )
    return rows


def test_each_customer_gets_their_own_pace(
    orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame],
) -> None:
    # 40 regular customers rebuy 15 label days every 12..19 days (pace 0.8..1.27), without
    # noise, so the learned prior weight is 0 and every pace is exactly the customer's own
    gaps = {f"c{i:02d}": [12 + i % 8] * 3 for i in range(40)}
    rows = _regular_shop(gaps)
    # n: one purchase only; m: the last day's 2 units come as two orders of one unit each
    for customer, order in (("n", "n1"), ("m", "m1"), ("m", "m2")):
        rows.append(
            {"customer_id": customer, "ordered_at": "2023-06-01", "amount": 5, "order_id": order}
            | {"sku": "x"}
        )
    frame = _cycle(orders_from_rows(rows), PRODUCTS)
    for customer, customer_gaps in gaps.items():
        # 2 units = 30 label days, at the customer's pace gap / 15
        assert frame.loc[customer, "cycle_days"] == pytest.approx(2 * customer_gaps[0])
        assert frame.loc[customer, "cycle_source"] == "supply_x_own_pace"
    # the median of the customers' log paces, one vote per customer
    shop_pace = np.exp(np.median([np.log(g[0] / 15) for g in gaps.values()]))
    assert frame.loc["n", "cycle_days"] == pytest.approx(15 * shop_pace)
    assert frame.loc["m", "cycle_days"] == pytest.approx(30 * shop_pace)  # lines summed
    assert (frame.loc[["n", "m"], "cycle_source"] == "supply").all()


def test_a_single_gap_is_shrunk_towards_the_shop_pace(
    orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame],
) -> None:
    # 40 customers at the label pace; z took 60 days for 15 label days once (pace 4): with a
    # prior weight of one gap, log pace = (log 4 + log 1) / 2 -> pace 2, 2 units -> 60 days
    gaps = {f"c{i:02d}": [15, 15] for i in range(40)} | {"z": [60]}
    prepared = prepare_orders(orders_from_rows(_regular_shop(gaps)), AS_OF)
    gap_median = interval_features(prepared)["gap_median"].to_numpy()
    config = FeatureConfig(cycle_pace_prior_gaps=1.0)
    frame = cycle_features(prepared, PRODUCTS, gap_median, config)
    frame = frame.set_axis(prepared.customer_ids)
    assert frame.loc["z", "cycle_days"] == pytest.approx(60.0)
    assert frame.loc["c00", "cycle_days"] == pytest.approx(30.0)


def test_learned_prior_weight_and_shrinkage_on_simulated_paces() -> None:
    # true log paces N(0, 0.2), each observation off by N(0, 0.1): the right prior weight is
    # 0.1^2 / 0.2^2 = 0.25 observations, and shrinking must beat each customer's raw median
    rng = np.random.default_rng(3)
    n_customers, n_obs, label_days = 3_000, 3, 1_000.0
    true_log_pace = rng.normal(0.0, 0.2, n_customers)
    noise = rng.normal(0.0, 0.1, (n_customers, n_obs))
    gaps = np.rint(label_days * np.exp(true_log_pace[:, None] + noise)).astype(np.int64)
    days = np.cumsum(np.hstack([np.zeros((n_customers, 1), dtype=np.int64), gaps]), axis=1)
    code = np.repeat(np.arange(n_customers), n_obs + 1)
    entries = SkuDays(code, np.zeros_like(code), days.ravel(), np.ones(len(code)))
    supply = np.full(len(code), label_days)
    pace = customer_pace(entries, supply, n_customers, None)
    assert pace.learned and pace.prior_gaps == pytest.approx(0.25, rel=0.2)
    assert abs(pace.shop_log_pace) < 0.02
    raw = np.median(np.log(gaps / label_days), axis=1)
    shrunk_error = np.mean((np.log(pace.pace) - true_log_pace) ** 2)
    assert shrunk_error < 0.95 * np.mean((raw - true_log_pace) ** 2)


def test_a_fixed_prior_makes_a_customer_independent_of_the_others(
    orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame],
) -> None:
    # noisy paces, so that k is learned > 0 and the shop pace matters to everyone
    rng = np.random.default_rng(5)
    gaps = {f"c{i:02d}": list(rng.integers(10, 25, 1 + i % 3)) for i in range(60)}
    orders = orders_from_rows(_regular_shop(gaps))
    prior = learn_pace_prior(orders, AS_OF, PRODUCTS)
    assert prior["cycle_pace_prior_gaps"] > 0 and 0.6 < prior["cycle_shop_pace"] < 1.7
    config = FeatureConfig().model_copy(update=prior)
    everyone = build_features(orders, AS_OF, PRODUCTS, config).set_index("customer_id")
    learned = build_features(orders, AS_OF, PRODUCTS).set_index("customer_id")
    assert everyone["cycle_days"].tolist() == pytest.approx(learned["cycle_days"].tolist())
    for customer in ("c00", "c01", "c02"):
        alone = build_features(orders[orders["customer_id"] == customer], AS_OF, PRODUCTS, config)
        assert alone["cycle_days"].iloc[0] == pytest.approx(everyone.loc[customer, "cycle_days"])
        assert alone["cycle_source"].iloc[0] == "supply_x_own_pace"
    # without the fixed prior a customer alone is too few to learn from: the label holds
    alone = build_features(orders[orders["customer_id"] == "c00"], AS_OF, PRODUCTS)
    assert alone["cycle_source"].iloc[0] == "supply"
    assert learn_pace_prior(orders[orders["customer_id"] == "c00"], AS_OF, PRODUCTS) == {}
