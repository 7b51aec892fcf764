"""The brand's past contact history (`contacts.csv`).

Three kinds of campaign, each only on a channel the customer consented to (their
`preferred_channel`, which is always a consented one), inside local sending hours:

- `replenish_reminder`: the old rule-based reminder `days_of_supply * quantity - 3` days
  after a purchase, to a random 60% of purchases (so a natural control group exists); it
  really moves some purchases earlier (see `purchases.py`);
- `<event>_preheat`: a sale announcement three days before each sale window, to everyone
  reachable who was a customer by then;
- `winback`: 2x the nominal supply (at least 60 days) after a purchase with no purchase since,
  to a random half of reachable customers; it has no effect on behaviour in this shop.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from repurchase.sample_shop.clock import iso_utc, local_days_to_utc, office_time_of_day
from repurchase.sample_shop.events import SaleCalendar
from repurchase.sample_shop.purchases import StreamHistory

WINBACK_SHARE = 0.5
WINBACK_MIN_DAYS = 60.0


def build_contacts(
    rng: np.random.Generator,
    customers: pd.DataFrame,
    catalog: pd.DataFrame,
    calendar: SaleCalendar,
    histories: tuple[StreamHistory, StreamHistory],
    start: dt.date,
    period_days: float,
) -> pd.DataFrame:
    """The touch history: `customer_id`, `contacted_at`, `channel`, `campaign`."""
    reachable = customers["preferred_channel"].notna().to_numpy()
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for history in histories:
        campaign = np.full(history.reminder_customer.size, "replenish_reminder", dtype=object)
        parts.append((history.reminder_customer, np.floor(history.reminder_day), campaign))
    parts.append(_preheats(customers, calendar, reachable))
    parts.append(_winbacks(rng, histories[0], catalog, reachable, period_days))

    customer = np.concatenate([p[0] for p in parts]).astype(np.int64)
    day = np.concatenate([p[1] for p in parts])
    campaign = np.concatenate([p[2] for p in parts])
    day = day + office_time_of_day(rng, day.size)
    keep = day < period_days
    customer, day, campaign = customer[keep], day[keep], campaign[keep]
    utc = local_days_to_utc(start, day, customers["timezone"].to_numpy()[customer])
    contacts = pd.DataFrame(
        {
            "utc": utc,
            "customer_id": customers["customer_id"].to_numpy()[customer],
            "channel": customers["preferred_channel"].to_numpy()[customer],
            "campaign": campaign,
        }
    )
    contacts = contacts.sort_values(["utc", "customer_id", "campaign"], kind="stable")
    contacts.insert(1, "contacted_at", iso_utc(contacts["utc"].to_numpy()))
    return contacts.drop(columns="utc").reset_index(drop=True)[
        ["customer_id", "contacted_at", "channel", "campaign"]
    ]


def _preheats(
    customers: pd.DataFrame, calendar: SaleCalendar, reachable: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    acquired = customers["acquired_day"].to_numpy()
    who, days, names = [], [], []
    for name, preheat in zip(calendar.names, calendar.preheat, strict=True):  # a few events
        target = np.flatnonzero(reachable & (acquired < preheat))
        who.append(target)
        days.append(np.full(target.size, preheat))
        names.append(np.full(target.size, f"{name}_preheat", dtype=object))
    if not who:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, dtype=object)
    return np.concatenate(who), np.concatenate(days), np.concatenate(names)


def _winbacks(
    rng: np.random.Generator,
    main: StreamHistory,
    catalog: pd.DataFrame,
    reachable: np.ndarray,
    period_days: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((main.day, main.customer))
    customer, day = main.customer[order], main.day[order]
    same_next = np.r_[customer[1:] == customer[:-1], False]
    next_day = np.where(same_next, np.r_[day[1:], np.inf], np.inf)
    supply = catalog["days_of_supply"].to_numpy()[main.sku_code[order]] * main.quantity[order]
    when = np.floor(day + np.maximum(2.0 * supply, WINBACK_MIN_DAYS))
    chosen = (
        reachable[customer]
        & (when < next_day)
        & (when < period_days)
        & (rng.random(customer.size) < WINBACK_SHARE)
    )
    return customer[chosen], when[chosen], np.full(int(chosen.sum()), "winback", dtype=object)
