"""Daily capacity per channel: how many contacts a team (or a WeCom account) can send a day.

Within one channel and day the highest ``priority`` goes first (ties: customer_id order, so runs
are reproducible). With ``capacity_overflow = "next_day"`` (the default) the overflow moves to the
next day at the start of the allowed hours, competes again there, and is dropped once it would
leave the plan (after ``as_of + plan_days``); with ``"drop"`` it is dropped at once. Moving a
contact later never breaks a do-not-disturb rule: all of them are lower bounds on the time.
Channels without a capacity, an empty channel (no customers table) and hold-out rows are not
limited and do not count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.policy.config import PolicyConfig
from serving.policy.rules import DAY, HOUR


def apply_capacity(
    plan: pd.DataFrame, *, last_day: np.datetime64, policy: PolicyConfig
) -> pd.DataFrame:
    """Enforce `policy.daily_capacity` on a working plan.

    Requires columns ``row`` (the tie-breaker: scores sorted by customer_id), ``channel``, ``contact_day`` (datetime64[D]),
    ``send_local`` (naive local ns), ``priority``, ``holdout``. Returns the rows that keep a
    slot, with ``contact_day``/``send_local`` moved where they overflowed.
    """
    present = set(pd.unique(plan["channel"].dropna()))
    limited = [ch for ch in policy.daily_capacity if ch in present]
    if not limited:
        return plan
    ranked = plan.sort_values(["priority", "row"], ascending=[False, True], kind="stable")
    day = ranked["contact_day"].to_numpy("datetime64[D]").copy()
    send = ranked["send_local"].to_numpy("datetime64[ns]").copy()
    keep = np.ones(len(ranked), dtype=bool)
    channel = ranked["channel"].to_numpy(dtype=object)
    active = ~ranked["holdout"].to_numpy(dtype=bool)
    start_hour = policy.allowed_hours[0]
    first_day = day[keep & active].min() if (keep & active).any() else last_day
    for name in limited:
        capacity = policy.daily_capacity[name]
        in_channel = np.flatnonzero((channel == name) & active)
        current = first_day
        # One pass per calendar day (at most plan_days + 1), never per customer.
        while current <= last_day:
            today = in_channel[keep[in_channel] & (day[in_channel] == current)]
            overflow = today[capacity:]  # `today` is already in priority order
            if overflow.size:
                if policy.capacity_overflow == "drop":
                    keep[overflow] = False
                else:
                    day[overflow] = current + DAY
                    send[overflow] = (current + DAY).astype("datetime64[ns]") + start_hour * HOUR
            current = current + DAY
        keep[in_channel[day[in_channel] > last_day]] = False
    moved = ranked.assign(contact_day=day, send_local=send)
    return moved.loc[keep].sort_index()
