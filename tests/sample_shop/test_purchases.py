"""The purchase process of one stream, on hand-made customers with known parameters."""

from __future__ import annotations

import datetime as dt

import numpy as np

from repurchase.sample_shop.events import sale_calendar
from repurchase.sample_shop.purchases import VIA_EVENT, Stream, simulate_stream

N = 4_000


def _stream(
    *, reachable: bool, sensitivity: float = 0.0, regularity: float = 0.1, usage: float = 1.25
) -> Stream:
    return Stream(
        customer=np.arange(N),
        sku_code=np.zeros(N, dtype=np.int64),
        first_day=np.zeros(N),
        days_of_supply=np.full(N, 30.0),
        usual_quantity=np.full(N, 2),
        usage_rate=np.full(N, usage),  # true cycle 2 * 30 / 1.25 = 48 days by default
        regularity=np.full(N, regularity),
        sensitivity=np.full(N, sensitivity),
        dropout_day=np.full(N, np.inf),
        reachable=np.full(N, reachable),
    )


def _gaps(history_day: np.ndarray, customer: np.ndarray) -> np.ndarray:
    order = np.lexsort((history_day, customer))
    day, who = history_day[order], customer[order]
    same = who[1:] == who[:-1]
    return np.diff(day)[same]


def test_gaps_scatter_around_the_run_out_time_with_the_given_noise() -> None:
    no_sales = sale_calendar(dt.date(2025, 1, 1), dt.date(2025, 5, 31))  # no 618, no 11.11
    history = simulate_stream(
        np.random.default_rng(0), _stream(reachable=False), no_sales, 151.0, reminders=True
    )
    gaps = _gaps(history.day, history.customer)
    assert abs(np.median(gaps) / 48.0 - 1) < 0.01  # median gap is the true cycle
    assert abs(np.std(np.log(gaps)) - 0.1) < 0.01  # log-sd is the regularity
    assert history.reminder_customer.size == 0  # unreachable: no reminders


def test_reminders_pull_some_purchases_forward() -> None:
    # the old rule assumes usage 1 and lands on day 57; at usage 0.85 the customer would
    # buy around day 70.6, so the reminder arrives within its three-week reach
    no_sales = sale_calendar(dt.date(2025, 1, 1), dt.date(2025, 5, 31))
    args = (no_sales, 151.0)
    silent = simulate_stream(
        np.random.default_rng(1), _stream(reachable=False, usage=0.85), *args, reminders=True
    )
    reminded = simulate_stream(
        np.random.default_rng(1), _stream(reachable=True, usage=0.85), *args, reminders=True
    )
    assert reminded.reminder_customer.size > 0.3 * N
    silent_gap = np.mean(_gaps(silent.day, silent.customer))
    reminded_gap = np.mean(_gaps(reminded.day, reminded.customer))
    # a modest uplift: some purchases come days earlier, the typical gap barely moves
    assert 1.0 < silent_gap - reminded_gap < 6.0


def test_deal_hunters_move_purchases_into_sales_and_stock_up() -> None:
    with_sales = sale_calendar(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    args = (with_sales, 365.0)
    hunters = simulate_stream(
        np.random.default_rng(2), _stream(reachable=False, sensitivity=0.9), *args, reminders=False
    )
    indifferent = simulate_stream(
        np.random.default_rng(2), _stream(reachable=False, sensitivity=0.0), *args, reminders=False
    )
    assert (indifferent.via != VIA_EVENT).all()
    moved = hunters.via == VIA_EVENT
    assert moved.mean() > 0.1
    assert (hunters.quantity[moved] > 2).all()  # stock-up: more than the usual two units
    in_window = with_sales.window_index(np.floor(hunters.day)) >= 0
    assert in_window[moved].all()
