"""Turn simulated purchases into order lines: baskets, prices, discounts, channels, statuses.

- A second-category purchase within `BUNDLE_DAYS` of a main purchase joins that order (a
  multi-line order); gadgets are occasionally added on (more often to a first order).
- Every order inside a sale window gets the event discount; outside, coupons are used more
  by price-sensitive customers. `amount` is net of `discount`.
- Paid orders are the purchase process itself. A few extra orders that never delivered
  anything are added around them: `cancelled` ones minutes to hours before a paid order (the
  customer re-placed it) and `refunded` ones days before (sent back, then re-bought). Returns
  of delivered goods are separate rows with `order_id` `<original>-R`, a negative `amount`
  and status `refunded`, days after the original order, which itself stays `paid`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from repurchase.sample_shop.clock import iso_utc, local_days_to_utc, shopping_time_of_day
from repurchase.sample_shop.events import SaleCalendar
from repurchase.sample_shop.purchases import StreamHistory

BUNDLE_DAYS = 4.0
ADD_ON_FIRST_ORDER, ADD_ON_LATER = 0.06, 0.02
CANCELLED_SHARE, REFUNDED_SHARE = 0.015, 0.02
RETURN_SHARE_GADGET, RETURN_SHARE_CONSUMABLE = 0.07, 0.006
SECOND_GADGET_SHARE, SECOND_GADGET_MEAN_DAYS = 0.25, 240.0
ORDER_CHANNELS = np.array(["web", "wecom", "tmall", "jd", "douyin"])
# where a customer acquired through each channel usually orders after the first order
_HOME_CHANNEL = {
    "wecom": "wecom",
    "package_card": "wecom",
    "web": "web",
    "tmall": "tmall",
    "douyin": "douyin",
}
_ORDER_COLUMNS = [
    "order_id",
    "customer_id",
    "ordered_at",
    "sku",
    "quantity",
    "amount",
    "discount",
    "channel",
    "status",
]


def durable_purchases(
    rng: np.random.Generator, customers: pd.DataFrame, catalog: pd.DataFrame, period_days: float
) -> StreamHistory:
    """Gadget-only customers: one gadget at acquisition, some buy a second one later."""
    who = np.flatnonzero(customers["main_category"].to_numpy() == "gadgets")
    first = customers["acquired_day"].to_numpy()[who]
    later = first + rng.exponential(SECOND_GADGET_MEAN_DAYS, who.size)
    again = (
        (rng.random(who.size) < SECOND_GADGET_SHARE)
        & (later < customers["dropout_day"].to_numpy()[who])
        & (later < period_days)
    )
    gadgets = catalog.index[catalog["category"] == "gadgets"].to_numpy()
    first_sku = customers["main_sku_code"].to_numpy()[who]
    return StreamHistory(
        customer=np.concatenate([who, who[again]]),
        sku_code=np.concatenate([first_sku, rng.choice(gadgets, int(again.sum()))]),
        day=np.concatenate([first, later[again]]),
        quantity=np.ones(who.size + int(again.sum())),
        via=np.zeros(who.size + int(again.sum()), dtype=np.int8),
        reminder_customer=np.zeros(0, dtype=np.int64),
        reminder_day=np.zeros(0),
    )


def build_orders(
    rng: np.random.Generator,
    customers: pd.DataFrame,
    catalog: pd.DataFrame,
    calendar: SaleCalendar,
    histories: tuple[StreamHistory, StreamHistory, StreamHistory],
    start: dt.date,
    period_days: float,
) -> pd.DataFrame:
    """The public orders table (one row per order line), sorted by time."""
    main, second, durable = histories
    lines = _bundle(main, second, durable)
    lines = _add_gadget_add_ons(rng, lines, customers)
    orders = _order_headers(rng, lines, customers, calendar)
    lines = lines.drop(columns="day").merge(
        orders[["key", "day", "discount_rate"]], on="key", how="left"
    )
    price = catalog["price"].to_numpy()[lines["sku_code"].to_numpy()]
    gross = price * lines["quantity"].to_numpy()
    lines["discount"] = np.round(gross * lines["discount_rate"].to_numpy(), 2)
    lines["amount"] = np.round(gross - lines["discount"].to_numpy(), 2)
    lines["status"] = "paid"
    lines = _add_failed_orders(rng, lines, orders)
    orders_out = _assign_ids(lines, customers, start)
    returns = _returns(rng, orders_out, catalog, customers, start, period_days)
    table = pd.concat([orders_out, returns], ignore_index=True)
    table["sku"] = catalog["sku"].to_numpy()[table["sku_code"].to_numpy()]
    table["quantity"] = table["quantity"].astype(np.int64)
    table = table.sort_values(["utc", "order_id", "sku"], kind="stable", ignore_index=True)
    table["ordered_at"] = iso_utc(table["utc"].to_numpy())
    return table[_ORDER_COLUMNS]


def _frame(history: StreamHistory, stream: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer": history.customer.astype(np.int64),
            "sku_code": history.sku_code.astype(np.int64),
            "day": history.day,
            "quantity": history.quantity,
            "via": history.via,
            "stream": stream,
        }
    )


def _bundle(main: StreamHistory, second: StreamHistory, durable: StreamHistory) -> pd.DataFrame:
    """One row per line with an order `key`; second-category lines join a nearby main order."""
    main_lines = pd.concat([_frame(main, 0), _frame(durable, 2)], ignore_index=True)
    main_lines["key"] = np.arange(len(main_lines), dtype=np.int64)
    extra = _frame(second, 1).sort_values("day", kind="stable")
    anchors = main_lines[["customer", "day", "key"]].sort_values("day", kind="stable")
    anchors = anchors.rename(columns={"day": "anchor_day"})
    anchors["day"] = anchors["anchor_day"]
    joined = pd.merge_asof(
        extra,
        anchors,
        on="day",
        by="customer",
        direction="nearest",
        tolerance=BUNDLE_DAYS,
    )
    alone = joined["key"].isna().to_numpy()
    own_keys = len(main_lines) + np.cumsum(alone) - 1
    joined["key"] = np.where(alone, own_keys, joined["key"].fillna(-1)).astype(np.int64)
    joined["day"] = np.where(alone, joined["day"], joined["anchor_day"])
    lines = pd.concat([main_lines, joined.drop(columns="anchor_day")], ignore_index=True)
    # two lines of the same SKU in one order are one line with more units
    lines = lines.groupby(["key", "sku_code"], as_index=False, sort=True).agg(
        customer=("customer", "first"),
        day=("day", "min"),
        quantity=("quantity", "sum"),
        via=("via", "max"),
        stream=("stream", "min"),
    )
    return lines


def _add_gadget_add_ons(
    rng: np.random.Generator, lines: pd.DataFrame, customers: pd.DataFrame
) -> pd.DataFrame:
    """Occasionally a consumable order also contains the customer's matching gadget."""
    orders = lines.groupby("key", as_index=False, sort=True).agg(
        customer=("customer", "first"), day=("day", "min"), stream=("stream", "min")
    )
    first_day = customers["acquired_day"].to_numpy()[orders["customer"].to_numpy()]
    is_first = np.isclose(orders["day"].to_numpy(), first_day)
    chance = np.where(is_first, ADD_ON_FIRST_ORDER, ADD_ON_LATER)
    picked = orders[(orders["stream"].to_numpy() < 2) & (rng.random(len(orders)) < chance)]
    add_ons = picked.assign(
        sku_code=customers["gadget_sku_code"].to_numpy()[picked["customer"].to_numpy()],
        quantity=1.0,
        via=0,
        stream=2,
    )
    return pd.concat([lines, add_ons[lines.columns]], ignore_index=True)


def _order_headers(
    rng: np.random.Generator,
    lines: pd.DataFrame,
    customers: pd.DataFrame,
    calendar: SaleCalendar,
) -> pd.DataFrame:
    """One row per order: local time of day, channel and discount rate."""
    orders = lines.groupby("key", as_index=False, sort=True).agg(
        customer=("customer", "first"), day=("day", "min")
    )
    n = len(orders)
    customer = orders["customer"].to_numpy()
    local_date = np.floor(orders["day"].to_numpy())
    time_of_day = shopping_time_of_day(rng, n)
    window = calendar.window_index(local_date)
    # Double 11 opens at midnight: a share of peak-day orders land in the first two hours
    on_peak = (window >= 0) & (local_date == calendar.peak[np.clip(window, 0, None)])
    rush = on_peak & (rng.random(n) < 0.3)
    time_of_day = np.where(rush, rng.random(n) * (2.0 / 24.0), time_of_day)
    orders["day"] = local_date + time_of_day

    score = customers["price_sensitivity_score"].to_numpy()[customer]
    is_first = local_date == np.floor(customers["acquired_day"].to_numpy()[customer])
    coupon = rng.random(n) < np.where(is_first, 0.2, 0.03 + 0.35 * score)
    coupon_rate = np.where(rng.random(n) < 0.5, 0.10, 0.15)
    event_rate = np.where(window >= 0, calendar.discount_rate[np.clip(window, 0, None)], 0.0)
    orders["discount_rate"] = np.where(window >= 0, event_rate, np.where(coupon, coupon_rate, 0.0))
    orders["channel"] = _order_channels(rng, customers, customer, is_first, window >= 0)
    return orders


def _order_channels(
    rng: np.random.Generator,
    customers: pd.DataFrame,
    customer: np.ndarray,
    is_first: np.ndarray,
    in_sale: np.ndarray,
) -> np.ndarray:
    acquisition = customers["acquisition_channel"].to_numpy()[customer]
    home = pd.Series(acquisition).map(_HOME_CHANNEL).to_numpy(dtype=object)
    # package cards ride in marketplace parcels: the first order came from tmall
    first_channel = np.where(acquisition == "package_card", "tmall", home)
    n = len(customer)
    elsewhere = ORDER_CHANNELS[rng.integers(0, len(ORDER_CHANNELS), n)]
    u = rng.random(n)
    later = np.where(u < 0.78, home, elsewhere)
    # marketplaces pull extra traffic during sales
    later = np.where(in_sale & (u > 0.9), "tmall", later)
    return np.where(is_first, first_channel, later)


def _add_failed_orders(
    rng: np.random.Generator, lines: pd.DataFrame, orders: pd.DataFrame
) -> pd.DataFrame:
    """Cancelled and refunded attempts shortly before some paid orders (copies of a line)."""
    channel = orders.set_index("key")["channel"]
    lines = lines.assign(channel=channel.reindex(lines["key"]).to_numpy())
    first_lines = lines.drop_duplicates("key")
    n = len(first_lines)
    u = rng.random(n)
    cancelled = u < CANCELLED_SHARE
    refunded = (u >= CANCELLED_SHARE) & (u < CANCELLED_SHARE + REFUNDED_SHARE)
    before = np.where(cancelled, rng.uniform(0.02, 2.0, n), rng.uniform(2.0, 10.0, n))
    failed = first_lines[cancelled | refunded].copy()
    failed["day"] = np.maximum(failed["day"].to_numpy() - before[cancelled | refunded], 0.0)
    failed["status"] = np.where(cancelled[cancelled | refunded], "cancelled", "refunded")
    failed["key"] = lines["key"].max() + 1 + np.arange(len(failed))
    return pd.concat([lines, failed], ignore_index=True)


def _assign_ids(lines: pd.DataFrame, customers: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    """UTC times and order ids numbered in time order."""
    customer = lines["customer"].to_numpy()
    lines = lines.assign(
        utc=local_days_to_utc(start, lines["day"].to_numpy(), customers["timezone"].to_numpy()[customer]),
        customer_id=customers["customer_id"].to_numpy()[customer],
    )
    headers = lines.drop_duplicates("key").sort_values(["utc", "customer", "key"], kind="stable")
    width = max(8, len(str(len(headers))))
    numbers = np.arange(1, len(headers) + 1).astype(str)
    order_id = pd.Series(np.char.add("SO", np.char.zfill(numbers, width)), index=headers["key"])
    lines["order_id"] = order_id.reindex(lines["key"]).to_numpy()
    return lines


def _returns(
    rng: np.random.Generator,
    lines: pd.DataFrame,
    catalog: pd.DataFrame,
    customers: pd.DataFrame,
    start: dt.date,
    period_days: float,
) -> pd.DataFrame:
    """Goods sent back days after a paid order: a negative row per returned line."""
    paid = lines[lines["status"].to_numpy() == "paid"]
    is_gadget = catalog["category"].to_numpy()[paid["sku_code"].to_numpy()] == "gadgets"
    share = np.where(is_gadget, RETURN_SHARE_GADGET, RETURN_SHARE_CONSUMABLE)
    returned = paid[rng.random(len(paid)) < share].copy()
    returned["day"] = returned["day"].to_numpy() + rng.uniform(3.0, 15.0, len(returned))
    returned = returned[returned["day"].to_numpy() < period_days]
    customer = returned["customer"].to_numpy()
    returned["utc"] = local_days_to_utc(
        start, returned["day"].to_numpy(), customers["timezone"].to_numpy()[customer]
    )
    returned["order_id"] = returned["order_id"].astype(str) + "-R"
    returned["amount"] = -returned["amount"].to_numpy()
    returned["discount"] = 0.0
    returned["status"] = "refunded"
    return returned
