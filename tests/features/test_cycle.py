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
    pace_observations,
    sku_purchase_days,
    sku_repurchase_interval,
    usual_basket_supply,
)
from features.intervals import interval_features
from features.pipeline import build_features
from features.prepared import PreparedOrders, prepare_orders

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
        # a: last day Mar 1 bought 2 x (2*15 = 30 days) and 1 y (60 days) -> x runs out first;
        # x, bought on two days, is a's habit (y once, on the last day): usual cycle 1 x = 15
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
    assert frame["cycle_days"].tolist() == [15.0, 25.0, 7.0, 20.0, 7.0]
    assert frame.loc["a", "depletion_date"] == pd.Timestamp("2024-03-31")  # x: Mar 1 + 30
    assert frame.loc["a", "overdue_ratio"] == pytest.approx(30 / 30)  # of the last purchase
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
        # usual basket 1 unit = 15 label days, at the customer's pace gap / 15; the last day's
        # 2 units run out after twice that
        assert frame.loc[customer, "cycle_days"] == pytest.approx(customer_gaps[0])
        assert frame.loc[customer, "cycle_source"] == "supply_x_own_pace"
        last_day = pd.Timestamp("2023-01-01") + pd.Timedelta(days=sum(customer_gaps))
        depletion = last_day + pd.Timedelta(days=2 * customer_gaps[0])
        assert frame.loc[customer, "depletion_date"] == depletion
    # the median of the customers' log paces, one vote per customer
    shop_pace = np.exp(np.median([np.log(g[0] / 15) for g in gaps.values()]))
    assert frame.loc["n", "cycle_days"] == pytest.approx(15 * shop_pace)
    assert frame.loc["m", "cycle_days"] == pytest.approx(30 * shop_pace)  # lines summed
    assert (frame.loc[["n", "m"], "cycle_source"] == "supply").all()


def test_a_single_gap_is_shrunk_towards_the_shop_pace(
    orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame],
) -> None:
    # 40 customers at the label pace; z took 60 days for 15 label days once (pace 4): with a
    # prior weight of one gap, log pace = (log 4 + log 1) / 2 -> pace 2; z's usual basket is
    # 1 unit (the lower median of 1 and 2) -> 30 days; the last day's 2 units -> 60 days
    gaps = {f"c{i:02d}": [15, 15] for i in range(40)} | {"z": [60]}
    prepared = prepare_orders(orders_from_rows(_regular_shop(gaps)), AS_OF)
    gap_median = interval_features(prepared)["gap_median"].to_numpy()
    config = FeatureConfig(cycle_pace_prior_gaps=1.0)
    frame = cycle_features(prepared, PRODUCTS, gap_median, config)
    frame = frame.set_axis(prepared.customer_ids)
    assert frame.loc["z", "cycle_days"] == pytest.approx(30.0)
    assert frame.loc["c00", "cycle_days"] == pytest.approx(15.0)
    last_duration = frame["days_until_depletion"] + (prepared.as_of_day - _last_days(prepared))
    assert last_duration["z"] == 60 and last_duration["c00"] == 30


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


def _last_days(prepared: PreparedOrders) -> pd.Series:
    """Each customer's last purchase day (days since the epoch), by customer_id."""
    last = prepared.day_value[prepared.day_offsets[1:] - 1]
    return pd.Series(last, index=prepared.customer_ids)


def _sku_orders(
    customer: str, lines: list[tuple[str, str, float, float]]
) -> list[dict[str, object]]:
    """Order rows of one customer from (date, sku, quantity, discount) lines, one order each."""
    return [
        {"customer_id": customer, "ordered_at": day, "amount": 5, "order_id": f"{customer}{i}"}
        | {"sku": sku, "quantity": quantity, "discount": discount}
        for i, (day, sku, quantity, discount) in enumerate(lines)
    ]


def _label_pace_crowd() -> list[dict[str, object]]:
    """40 customers who rebuy 1 x (15 label days) every 15 days: the shop's pace is 1."""
    return _regular_shop({f"c{i:02d}": [15, 15] for i in range(40)})


def test_usual_cycle_ignores_a_stock_up_and_an_add_on_the_depletion_does_not(
    orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame],
) -> None:
    # s buys 1 x every 15 days (pace 1); the last day (Mar 16) is a sale stock-up of 3 x
    # plus a first y (60 label days): usual cycle 15 days, the last purchase lasts 45 days
    lines = [(f"2024-0{m}-{d:02d}", "x", 1.0, 0.0) for m, d in ((1, 1), (1, 16), (1, 31))]
    lines += [("2024-02-15", "x", 1.0, 0.0), ("2024-03-01", "x", 1.0, 0.0)]
    lines += [("2024-03-16", "x", 3.0, 2.0), ("2024-03-16", "y", 1.0, 0.0)]
    # t's last day holds 1 x and 1 w, whose supply nobody knows: x sets both durations
    lines_t = [("2024-02-01", "x", 1.0, 0.0), ("2024-02-16", "x", 1.0, 0.0)]
    lines_t.append(("2024-02-16", "w", 1.0, 0.0))
    rows = _label_pace_crowd() + _sku_orders("s", lines) + _sku_orders("t", lines_t)
    frame = _cycle(orders_from_rows(rows), PRODUCTS)
    # y's 60 label days are fewer than x's 4 x 15 + 45 = 105: x stays the usual basket
    assert frame.loc["s", "cycle_days"] == pytest.approx(15.0)
    assert frame.loc["s", "cycle_source"] == "supply_x_own_pace"
    assert frame.loc["s", "depletion_date"] == pd.Timestamp("2024-04-30")  # Mar 16 + 45
    # 15 days since Mar 16: a third of the way through the stock-up, not one usual cycle late
    assert frame.loc["s", "overdue_ratio"] == pytest.approx(15 / 45)
    assert frame.loc["t", "cycle_days"] == pytest.approx(15.0)
    assert frame.loc["t", "depletion_date"] == pd.Timestamp("2024-03-02")


def _last_days(prepared: PreparedOrders) -> np.ndarray:
    """Each customer's last purchase day."""
    return prepared.day_value[prepared.day_offsets[1:] - 1]


def test_the_usual_sku_is_a_repeated_one_still_in_use_the_customer_started_with(
    orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame],
) -> None:
    # x lasts 15 label days a unit, y 60. Usual cycle per customer:
    # u: started with x and y together; x last bought Jan 22 ran out twice over (Feb 21)
    #    before u's last purchase (Mar 1): y, 60;
    # v: x on four days, y once (more recent, a one-off so far): x, 15;
    # w: started with x (5 x 15 = 75 label days), added y later (2 x 60 = 120): x, 15;
    # s: x three times (Jan), then y (Feb, Mar): switched to y, x no longer in use: y, 60;
    # t: started with x and y together, both still in use: the most label supply, y, 60
    lines = {
        customer: [(f"2024-{purchase[:5]}", purchase[-1], 1.0, 0.0) for purchase in purchases]
        for customer, purchases in {
            "u": ["01-01 x", "01-08 x", "01-15 x", "01-22 x", "01-01 y", "03-01 y"],
            "v": ["01-01 x", "01-16 x", "01-31 x", "02-15 x", "02-20 y"],
            "w": ["01-01 x", "01-16 x", "01-31 x", "02-15 x", "03-01 x", "01-10 y", "03-01 y"],
            "s": ["01-01 x", "01-16 x", "01-31 x", "02-10 y", "03-25 y"],
            "t": ["01-01 x", "01-01 y", "01-16 x", "03-01 y", "03-01 x"],
        }.items()
    }
    rows = [row for customer, own in lines.items() for row in _sku_orders(customer, own)]
    prepared = prepare_orders(orders_from_rows(rows), AS_OF)
    days = sku_purchase_days(prepared)
    per_unit = np.array([15.0, 60.0])  # codes: x, y (sku_names are sorted)
    supply = days.quantity * per_unit[days.sku]
    last_day = _last_days(prepared)
    chosen = usual_basket_supply(days, supply, per_unit, last_day)
    usual = dict(zip(prepared.customer_ids, chosen, strict=True))
    assert usual == {"s": 60.0, "t": 60.0, "u": 60.0, "v": 15.0, "w": 15.0}
    # v without y: x at its usual quantity
    only_x = days.sku == 0
    kept = SkuDays(days.code[only_x], days.sku[only_x], days.day[only_x], days.quantity[only_x])
    without_y = usual_basket_supply(kept, supply[only_x], per_unit, last_day)
    assert without_y[list(usual).index("v")] == 15.0


def test_a_tie_for_the_usual_sku_goes_to_the_last_name_whoever_else_is_in_the_frame(
    orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame],
) -> None:
    # u buys a (1, then 3 units) and b (2 and 2) on the same two days: 60 label days each,
    # last bought on the same day; the tie goes to b, the last name: 2 x 15 days. In the
    # second frame v's row comes first and mentions b first, which numbered b before a when
    # SKUs were numbered by first appearance (a batch partition then changed u's cycle).
    lines = [
        ("2024-01-01", "a", 1.0, 0.0),
        ("2024-01-01", "b", 2.0, 0.0),
        ("2024-02-01", "a", 3.0, 0.0),
        ("2024-02-01", "b", 2.0, 0.0),
    ]
    alone = _sku_orders("u", lines)
    with_v = _sku_orders("v", [("2024-01-05", "b", 1.0, 0.0)]) + alone
    for rows in (alone, with_v):
        prepared = prepare_orders(orders_from_rows(rows), AS_OF)
        assert list(prepared.sku_names) == ["a", "b"]
        days = sku_purchase_days(prepared)
        per_unit = np.full(len(prepared.sku_names), 15.0)
        supply = days.quantity * per_unit[days.sku]
        usual = usual_basket_supply(days, supply, per_unit, _last_days(prepared))
        assert usual[0] == 30.0  # u sorts first


def test_sale_stock_ups_and_outlier_gaps_are_not_pace_observations(
    orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame],
) -> None:
    # p: gaps 20, 20 and 18 days, the last one ending in a discounted 3-unit stock-up (the
    # sale chose the day) -> two observations of log(20 / 15);
    # q: the same 3 units at full price count (a bigger basket is not a sale) -> three;
    # r: gaps 15, 15, 15 and a 60-day pause (4 x its median gap) -> three observations of 0
    lines_p = [("2024-01-01", "x", 1.0, 0.0), ("2024-01-21", "x", 1.0, 0.0)]
    lines_p += [("2024-02-10", "x", 1.0, 0.0), ("2024-02-28", "x", 3.0, 9.0)]
    lines_q = [(day, sku, quantity, 0.0) for day, sku, quantity, _ in lines_p]
    lines_r = [(day, "x", 1.0, 0.0) for day in ("2023-10-01", "2023-10-16", "2023-10-31")]
    lines_r += [("2023-11-15", "x", 1.0, 0.0), ("2024-01-14", "x", 1.0, 0.0)]
    rows = _sku_orders("p", lines_p) + _sku_orders("q", lines_q) + _sku_orders("r", lines_r)
    days = sku_purchase_days(prepare_orders(orders_from_rows(rows), AS_OF))
    codes, log_ratio = pace_observations(days, days.quantity * 15.0, 3)
    assert np.bincount(codes, minlength=3).tolist() == [2, 3, 3]
    np.testing.assert_allclose(log_ratio[codes == 0], np.log(20 / 15))
    np.testing.assert_allclose(log_ratio[codes == 2], 0.0)
