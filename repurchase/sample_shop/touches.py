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

from repurchase.sample_shop.clock import local_days_to_utc, office_time_of_day, zone_of
from repurchase.sample_shop.events import SaleCalendar
from repurchase.sample_shop.files import categorical
from repurchase.sample_shop.purchases import StreamHistory

CONTACT_CHANNELS = ["email", "sms", "wechat"]
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
    parts: list[tuple[np.ndarray, np.ndarray, str]] = []
    for history in histories:
        parts.append(
            (history.reminder_customer, np.floor(history.reminder_day), "replenish_reminder")
        )
    parts.extend(_preheats(customers, calendar, reachable))
    parts.append(_winbacks(rng, histories[0], catalog, reachable, period_days))

    names = [name for _, _, name in parts]
    campaigns = pd.Index(sorted(set(names)))
    customer = np.concatenate([p[0] for p in parts]).astype(np.int64)
    day = np.concatenate([p[1] for p in parts])
    campaign = np.concatenate(
        [
            np.full(p[0].size, campaigns.get_loc(name), dtype=np.int16)
            for p, name in zip(parts, names, strict=True)
        ]
    )
    day = day + office_time_of_day(rng, day.size)
    keep = day < period_days
    customer, day, campaign = customer[keep], day[keep], campaign[keep]
    utc = local_days_to_utc(start, day, zone_of(customers, customer))
    order = np.lexsort((campaign, customer, utc))
    customer, utc, campaign = customer[order], utc[order], campaign[order]
    channels = pd.Categorical(customers["preferred_channel"], categories=CONTACT_CHANNELS)
    return pd.DataFrame(
        {
            "customer_id": categorical(customer, customers["customer_id"].to_numpy()),
            "contacted_at": pd.DatetimeIndex(utc).tz_localize("UTC"),
            "channel": categorical(channels.codes[customer], CONTACT_CHANNELS),
            "campaign": categorical(campaign, campaigns),
        }
    )


def _preheats(
    customers: pd.DataFrame, calendar: SaleCalendar, reachable: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """A sale announcement to every reachable customer acquired before it."""
    acquired = customers["acquired_day"].to_numpy()
    parts = []
    for name, preheat in zip(calendar.names, calendar.preheat, strict=True):  # a few events
        target = np.flatnonzero(reachable & (acquired < preheat))
        parts.append((target, np.full(target.size, preheat), f"{name}_preheat"))
    return parts


def _winbacks(
    rng: np.random.Generator,
    main: StreamHistory,
    catalog: pd.DataFrame,
    reachable: np.ndarray,
    period_days: float,
) -> tuple[np.ndarray, np.ndarray, str]:
    """A win-back message long after a purchase that was not followed by another one."""
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
    return customer[chosen], when[chosen], "winback"
