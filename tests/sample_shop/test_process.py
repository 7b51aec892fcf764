"""Behaviour of the generating process: is it a credible consumer-purchase process?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from repurchase.sample_shop import SampleShop


def _local(stamps: pd.Series, zone: str = "Asia/Shanghai") -> pd.Series:
    return stamps.dt.tz_convert(zone)


def test_price_sensitive_customers_buy_on_discount_more_often(shop: SampleShop) -> None:
    paid = shop.orders[shop.orders["status"] == "paid"]
    per_order = paid.groupby("order_id", observed=True).agg(
        customer_id=("customer_id", "first"), discount=("discount", "sum")
    )
    per_order["customer_id"] = per_order["customer_id"].astype(str)
    tiers = shop.truth.set_index("customer_id")["price_sensitivity"]
    share = (per_order["discount"] > 0).groupby(per_order["customer_id"].map(tiers)).mean()
    assert share["low"] < share["medium"] < share["high"]
    assert share["high"] > 1.5 * share["low"]


def test_sale_peaks_have_far_more_orders_than_ordinary_days(shop: SampleShop) -> None:
    paid = shop.orders[shop.orders["status"] == "paid"].drop_duplicates("order_id")
    per_day = _local(paid["ordered_at"]).dt.tz_localize(None).dt.normalize().value_counts()
    per_day = per_day.sort_index().asfreq("D", fill_value=0)
    # each peak against the ordinary days of the month before its sale window opens (the
    # first peak, ten days into the period, has no such month and few customers yet)
    for peak in ["2025-06-18", "2025-11-11", "2026-06-18"]:
        day = pd.Timestamp(peak)
        window_opens = day.replace(day=1)
        ordinary = per_day[
            window_opens - pd.Timedelta(days=30) : window_opens - pd.Timedelta(days=1)
        ]
        assert per_day[day] > 2.5 * ordinary.median(), peak


def test_median_gap_of_regular_repeat_customers_matches_true_cycle(
    paid_main_gaps: pd.DataFrame,
) -> None:
    # gaps after a sale stock-up are longer by design; compare regular-quantity gaps
    regular = paid_main_gaps[
        paid_main_gaps["previous_quantity"] == paid_main_gaps["usual_quantity"]
    ]
    per_customer = regular.groupby("customer_id").agg(
        median_gap=("gap_days", "median"),
        gaps=("gap_days", "size"),
        true=("true_cycle_days", "first"),
    )
    repeaters = per_customer[per_customer["gaps"] >= 3]
    assert len(repeaters) > 300
    ratio = repeaters["median_gap"] / repeaters["true"]
    assert abs(ratio.median() - 1) < 0.03
    assert (abs(ratio - 1) < 0.10).mean() > 0.80


def test_gap_noise_follows_the_customers_regularity(paid_main_gaps: pd.DataFrame) -> None:
    gaps = paid_main_gaps[paid_main_gaps["previous_quantity"] == paid_main_gaps["usual_quantity"]]
    log_ratio = np.log(gaps["gap_days"] / gaps["true_cycle_days"])
    steady = log_ratio[gaps["regularity"] < 0.08]
    erratic = log_ratio[gaps["regularity"] > 0.18]
    assert steady.std() < erratic.std()


def test_nobody_buys_after_dropping_out(shop: SampleShop) -> None:
    paid = shop.orders[shop.orders["status"] == "paid"]
    paid = paid.assign(customer_id=paid["customer_id"].astype(str))
    truth = shop.truth.set_index("customer_id")
    zone = shop.customers.set_index("customer_id")["timezone"].astype(str)
    last_paid = paid.groupby("customer_id")["ordered_at"].max()
    # dropout dates are local calendar dates of the customer
    zone_of_customer = zone.reindex(last_paid.index)
    local_last = pd.Series(pd.NaT, index=last_paid.index, dtype=object)
    for name in zone_of_customer.unique():  # a handful of time zones
        mask = zone_of_customer == name
        local_last[mask] = last_paid[mask].dt.tz_convert(name).dt.date
    dropout = pd.to_datetime(truth["dropout_date"]).dt.date
    assert (local_last <= dropout.reindex(local_last.index)).all()
    orders_per_customer = paid.groupby("customer_id")["order_id"].nunique()
    one_and_done = truth.index[truth["one_and_done"]]
    assert (orders_per_customer.reindex(one_and_done) == 1).all()
    assert 0.4 < (orders_per_customer > 1).mean() < 0.75


def test_orders_look_like_shop_orders(shop: SampleShop) -> None:
    orders = shop.orders
    status_share = orders["status"].value_counts(normalize=True)
    assert status_share["paid"] > 0.9
    assert 0.005 < status_share["cancelled"] < 0.05
    lines = orders[orders["status"] == "paid"].groupby("order_id", observed=True).size()
    assert 0.02 < (lines > 1).mean() < 0.2  # some multi-line baskets
    returns = orders[orders["amount"] < 0]
    assert len(returns) > 0 and (returns["status"] == "refunded").all()
    originals = returns["order_id"].str.removesuffix("-R")
    assert originals.isin(orders.loc[orders["status"] == "paid", "order_id"]).all()
    positive = orders[orders["amount"] >= 0]
    price = shop.products.set_index("sku")["price"]
    gross = positive["sku"].astype(str).map(price) * positive["quantity"]
    np.testing.assert_allclose(positive["amount"] + positive["discount"], gross, atol=0.011)
    evening = _local(orders["ordered_at"]).dt.hour.between(19, 23).mean()
    small_hours = _local(orders["ordered_at"]).dt.hour.between(3, 6).mean()
    assert evening > 5 * small_hours


def test_contacts_only_on_consented_channels_inside_sending_hours(shop: SampleShop) -> None:
    contacts = shop.contacts.assign(customer_id=shop.contacts["customer_id"].astype(str))
    customers = shop.customers.set_index("customer_id")
    for channel in ("email", "sms", "wechat"):
        on_channel = contacts[contacts["channel"] == channel]
        assert customers.loc[on_channel["customer_id"], f"consent_{channel}"].all()
    zones = customers.loc[contacts["customer_id"], "timezone"].astype(str).to_numpy()
    for zone in np.unique(zones):
        local_hour = contacts.loc[zones == zone, "contacted_at"].dt.tz_convert(zone).dt.hour
        assert local_hour.between(9, 20).all(), zone
    assert {"replenish_reminder", "winback"} <= set(contacts["campaign"].astype(str))


def test_wecom_customers_mostly_consent_to_wechat(shop: SampleShop) -> None:
    customers = shop.customers
    by_channel = customers.groupby("acquisition_channel", observed=True)["consent_wechat"].mean()
    assert by_channel["wecom"] > 0.8
    assert by_channel["tmall"] < 0.4
