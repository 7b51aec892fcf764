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
import pyarrow as pa
import pyarrow.compute as pc

from repurchase.sample_shop.clock import local_days_to_utc, shopping_time_of_day, zone_of
from repurchase.sample_shop.events import SaleCalendar
from repurchase.sample_shop.files import categorical
from repurchase.sample_shop.purchases import VIA_EVENT, StreamHistory

BUNDLE_DAYS = 4.0
ADD_ON_FIRST_ORDER, ADD_ON_LATER = 0.06, 0.02
CANCELLED_SHARE, REFUNDED_SHARE = 0.015, 0.02
RETURN_SHARE_GADGET, RETURN_SHARE_CONSUMABLE = 0.07, 0.006
SECOND_GADGET_SHARE, SECOND_GADGET_MEAN_DAYS = 0.25, 240.0
ORDER_CHANNELS = np.array(["web", "wecom", "tmall", "jd", "douyin"])
STATUSES = np.array(["paid", "refunded", "cancelled"])
STATUS_PAID, STATUS_REFUNDED, STATUS_CANCELLED = 0, 1, 2
# where a customer acquired through each channel usually orders after the first order
_HOME_CHANNEL = {
    "wecom": "wecom",
    "package_card": "wecom",
    "web": "web",
    "tmall": "tmall",
    "douyin": "douyin",
}


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
    """The public orders table (one row per order line), sorted by time.

    Text columns are categoricals and `ordered_at` is `datetime64[s, UTC]`, so a million
    customers' orders stay cheap in memory; `write_shop` renders them as text.
    """
    main, second, durable = histories
    lines = _bundle(main, second, durable)
    lines = _add_gadget_add_ons(rng, lines, customers)
    orders = _order_headers(rng, lines, customers, calendar, period_days)
    # order keys are 0..n-1 after `_bundle`, so header values are looked up by position
    key = lines["key"].to_numpy()
    lines["day"] = orders["day"].to_numpy()[key]
    lines["channel"] = orders["channel"].to_numpy()[key]
    price = catalog["price"].to_numpy()[lines["sku_code"].to_numpy()]
    gross = price * lines["quantity"].to_numpy()
    lines["discount"] = np.round(gross * orders["discount_rate"].to_numpy()[key], 2)
    lines["amount"] = np.round(gross - lines["discount"].to_numpy(), 2)
    lines["status"] = STATUS_PAID
    lines["is_return"] = False
    lines = _add_failed_orders(rng, lines)
    lines = _assign_ids(lines, customers, start)
    returns = _returns(rng, lines, catalog, customers, start, period_days)
    table = pd.concat([lines, returns], ignore_index=True)
    order = np.lexsort(
        (
            table["sku_code"].to_numpy(),
            table["is_return"].to_numpy(),
            table["order_number"].to_numpy(),
            table["utc"].to_numpy(),
        )
    )
    table = table.take(order)
    return pd.DataFrame(
        {
            "order_id": _order_ids(table["order_number"].to_numpy(), table["is_return"].to_numpy()),
            "customer_id": categorical(
                table["customer"].to_numpy(), customers["customer_id"].to_numpy()
            ),
            "ordered_at": pd.DatetimeIndex(table["utc"].to_numpy()).tz_localize("UTC"),
            "sku": categorical(table["sku_code"].to_numpy(), catalog["sku"].to_numpy()),
            "quantity": table["quantity"].to_numpy().astype(np.int64),
            "amount": table["amount"].to_numpy(),
            "discount": table["discount"].to_numpy(),
            "channel": categorical(table["channel"].to_numpy(), ORDER_CHANNELS),
            "status": categorical(table["status"].to_numpy(), STATUSES),
        }
    )


def _order_ids(number: np.ndarray, is_return: np.ndarray) -> pd.Series:
    """`SO00000042`, and `SO00000042-R` for the return of that order."""
    width = max(8, len(str(int(number.max(initial=0)))))
    text = pc.utf8_lpad(pc.cast(pa.array(number), pa.string()), width, "0")
    suffix = pa.DictionaryArray.from_arrays(is_return.astype(np.int8), ["", "-R"])
    ids = pc.binary_join_element_wise("SO", text, pc.cast(suffix, pa.string()), "")
    return pd.Series(pd.arrays.ArrowStringArray(ids))


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
        tolerance=BUNDLE_DAYS,  # type: ignore[arg-type]  # float keys take a float tolerance
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
    period_days: float,
) -> pd.DataFrame:
    """One row per order: local time of day, channel and discount rate."""
    orders = lines.groupby("key", as_index=False, sort=True).agg(
        customer=("customer", "first"), day=("day", "min"), via=("via", "max")
    )
    assert (orders["key"].to_numpy() == np.arange(len(orders))).all()
    n = len(orders)
    customer = orders["customer"].to_numpy()
    day = orders["day"].to_numpy()
    time_of_day = shopping_time_of_day(rng, n)
    # people shop at their usual hours: move each order to the date whose shopping time is
    # nearest to the simulated instant (at most half a day away), except sale and first
    # orders (their date matters) and where that would pass the dropout or the period end
    nearest = np.round(day - time_of_day)
    limit = np.minimum(customers["dropout_day"].to_numpy()[customer], period_days)
    keep_date = (
        (orders["via"].to_numpy() == VIA_EVENT)
        | np.isclose(day, customers["acquired_day"].to_numpy()[customer])
        | (nearest + time_of_day >= limit)
        | (nearest < 0)
    )
    local_date = np.where(keep_date, np.floor(day), nearest)
    window = calendar.window_index(local_date)
    # Double 11 opens at midnight: a share of peak-day orders land in the first two hours
    on_peak = (window >= 0) & (local_date == calendar.peak[np.clip(window, 0, None)])
    rush = on_peak & (rng.random(n) < 0.3)
    time_of_day = np.where(rush, rng.random(n) * (2.0 / 24.0), time_of_day)
    orders["day"] = local_date + time_of_day

    score = customers["price_sensitivity_score"].to_numpy()[customer]
    is_first = local_date == np.floor(customers["acquired_day"].to_numpy()[customer])
    coupon = rng.random(n) < np.where(is_first, 0.2, 0.02 + 0.4 * score**2)
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
    """Index into ORDER_CHANNELS of each order's channel."""
    codes = pd.Index(ORDER_CHANNELS)
    acquisition = customers["acquisition_channel"].to_numpy()
    home_by_customer = codes.get_indexer(pd.Series(acquisition).map(_HOME_CHANNEL))
    home = home_by_customer[customer]
    tmall = codes.get_loc("tmall")
    # package cards ride in marketplace parcels: the first order came from tmall
    package_card = (acquisition == "package_card")[customer]
    first_channel = np.where(package_card, tmall, home)
    n = len(customer)
    elsewhere = rng.integers(0, len(ORDER_CHANNELS), n)
    u = rng.random(n)
    later = np.where(u < 0.78, home, elsewhere)
    # marketplaces pull extra traffic during sales
    later = np.where(in_sale & (u > 0.9), tmall, later)
    return np.where(is_first, first_channel, later).astype(np.int8)


def _add_failed_orders(rng: np.random.Generator, lines: pd.DataFrame) -> pd.DataFrame:
    """Cancelled and refunded attempts shortly before some paid orders (copies of a line)."""
    first_lines = lines.drop_duplicates("key")
    n = len(first_lines)
    u = rng.random(n)
    cancelled = u < CANCELLED_SHARE
    refunded = (u >= CANCELLED_SHARE) & (u < CANCELLED_SHARE + REFUNDED_SHARE)
    before = np.where(cancelled, rng.uniform(0.02, 2.0, n), rng.uniform(2.0, 10.0, n))
    failed = first_lines.assign(day=first_lines["day"].to_numpy() - before)
    chosen = (cancelled | refunded) & (failed["day"].to_numpy() >= 0.0)
    failed = failed[chosen]
    failed["status"] = np.where(cancelled[chosen], STATUS_CANCELLED, STATUS_REFUNDED)
    failed["key"] = lines["key"].max() + 1 + np.arange(len(failed))
    return pd.concat([lines, failed], ignore_index=True)


def _assign_ids(lines: pd.DataFrame, customers: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    """UTC times and order numbers in time order."""
    customer = lines["customer"].to_numpy()
    zone = zone_of(customers, customer)
    lines["utc"] = local_days_to_utc(start, lines["day"].to_numpy(), zone)
    headers = lines.drop_duplicates("key")
    order = np.lexsort(
        (headers["key"].to_numpy(), headers["customer"].to_numpy(), headers["utc"].to_numpy())
    )
    number = np.empty(lines["key"].max() + 1, dtype=np.int64)
    number[headers["key"].to_numpy()[order]] = np.arange(1, len(headers) + 1)
    lines["order_number"] = number[lines["key"].to_numpy()]
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
    paid = lines[lines["status"].to_numpy() == STATUS_PAID]
    is_gadget = catalog["category"].to_numpy()[paid["sku_code"].to_numpy()] == "gadgets"
    share = np.where(is_gadget, RETURN_SHARE_GADGET, RETURN_SHARE_CONSUMABLE)
    returned = paid[rng.random(len(paid)) < share].copy()
    returned["day"] = returned["day"].to_numpy() + rng.uniform(3.0, 15.0, len(returned))
    returned = returned[returned["day"].to_numpy() < period_days]
    zone = zone_of(customers, returned["customer"].to_numpy())
    returned["utc"] = local_days_to_utc(start, returned["day"].to_numpy(), zone)
    returned["is_return"] = True
    returned["amount"] = -returned["amount"].to_numpy()
    returned["discount"] = 0.0
    returned["status"] = STATUS_REFUNDED
    return returned
