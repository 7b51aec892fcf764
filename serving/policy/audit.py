"""An independent audit of a contact plan: every way it could break the policy.

It re-derives each rule from the raw tables rather than reusing the planner's intermediate
numbers, so a planner bug cannot hide behind itself. Use it in tests, or on a plan that was
edited by hand before it goes out. Rules checked (``rule`` values of the result):

``columns``, ``outside_plan`` (contact_on or the UTC day of send_at outside
(as_of, as_of + plan_days]), ``missing_send_at``, ``send_at_format`` (no UTC offset),
``wrong_offset`` (the offset is not the customer's zone's at that instant),
``contact_on_mismatch`` (contact_on is not the local date of send_at), ``allowed_hours``,
``consent``, ``channel_without_customers``, ``quiet_period``, ``spacing``, ``contact_cap``,
``daily_capacity``, ``holdout_contacted``, ``holdout_draw``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from serving.policy.config import CHANNELS, PolicyConfig
from serving.policy.holdout import is_holdout

_PLAN_COLUMNS = [
    "customer_id",
    "contact_on",
    "send_at",
    "channel",
    "action",
    "offer",
    "priority",
    "expected_value",
    "reasons",
    "holdout",
]


def find_violations(
    plan: pd.DataFrame,
    *,
    as_of: dt.date,
    orders: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    policy: PolicyConfig | None = None,
) -> pd.DataFrame:
    """Every rule a plan breaks: columns ``rule``, ``customer_id``, ``detail`` (empty = clean).

    `plan` has the SPEC plan columns; `orders` the canonical orders columns
    (``customer_id``, ``ordered_at``, ``status``); `customers` ``customer_id``, ``timezone``,
    ``consent_*``; `contacts` ``customer_id``, ``contacted_at``.
    """
    policy = policy or PolicyConfig()
    found: list[pd.DataFrame] = []
    if list(plan.columns) != _PLAN_COLUMNS:
        return _rows("columns", pd.Series(["*"]), f"columns are {list(plan.columns)}")
    plan = plan.reset_index(drop=True).copy()
    plan["customer_id"] = plan["customer_id"].astype("string")
    plan["contact_on"] = pd.to_datetime(plan["contact_on"].astype("string")).dt.floor("D")
    held = plan["holdout"].astype(bool)
    text = plan["send_at"].astype("string").str.strip()
    text = text.mask(text == "")
    channel = plan["channel"].astype("string").str.strip()
    channel = channel.mask(channel == "")

    first = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    last = pd.Timestamp(as_of) + pd.Timedelta(days=policy.plan_days)
    outside = (plan["contact_on"] < first) | (plan["contact_on"] > last)
    found.append(
        _rows("outside_plan", plan.loc[outside, "customer_id"], "contact_on outside the plan")
    )

    contacted = plan.loc[~held].copy()
    found.append(
        _rows(
            "holdout_contacted",
            plan.loc[held & (text.notna() | channel.notna()), "customer_id"],
            "hold-out row with send_at or channel",
        )
    )
    both = set(plan.loc[held, "customer_id"]) & set(contacted["customer_id"])
    found.append(
        _rows("holdout_contacted", pd.Series(sorted(both), dtype="string"), "also contacted")
    )
    drawn = is_holdout(plan["customer_id"], policy.holdout_fraction, policy.holdout_salt)
    found.append(
        _rows(
            "holdout_draw",
            plan.loc[drawn != held.to_numpy(), "customer_id"],
            "holdout flag differs from the stable draw",
        )
    )

    missing = text.loc[~held].isna()
    found.append(_rows("missing_send_at", contacted.loc[missing, "customer_id"], "no send_at"))
    contacted = contacted.loc[~missing]
    stamp = text.loc[contacted.index]
    no_offset = ~stamp.str.contains(r"(?:Z|[+-]\d{2}:\d{2})$", regex=True)
    found.append(
        _rows("send_at_format", contacted.loc[no_offset, "customer_id"], "send_at without offset")
    )
    contacted = contacted.loc[~no_offset]
    stamp = stamp.loc[contacted.index]
    contacted["send_utc"] = pd.to_datetime(stamp, format="ISO8601", utc=True)
    contacted["channel"] = channel.loc[contacted.index]
    contacted["zone"] = _zones(contacted["customer_id"], customers)

    utc_day = contacted["send_utc"].dt.tz_localize(None).dt.floor("D")
    found.append(
        _rows(
            "outside_plan",
            contacted.loc[(utc_day < first) | (utc_day > last), "customer_id"],
            "send_at (UTC) outside the plan",
        )
    )
    found.extend(_local_time_checks(contacted, stamp, policy))
    found.append(_consent(contacted, customers))
    found.append(_quiet_period(contacted, orders, as_of, policy))
    history = _history(contacts, as_of)
    found.append(_spacing(contacted, history, policy))
    found.append(_cap(contacted, history, policy))
    found.append(_capacity(contacted, policy))
    return pd.concat(found, ignore_index=True)


# --------------------------------------------------------------------------- rules


def _local_time_checks(
    contacted: pd.DataFrame, stamp: pd.Series, policy: PolicyConfig
) -> list[pd.DataFrame]:
    start, end = policy.allowed_hours
    local = pd.Series(pd.NaT, index=contacted.index, dtype="datetime64[ns]")
    for zone in contacted["zone"].unique():
        mask = contacted["zone"] == zone
        local.loc[mask] = (
            contacted.loc[mask, "send_utc"]
            .dt.tz_convert(str(zone))
            .dt.tz_localize(None)
            .astype("datetime64[ns]")
        )
    wall_clock = stamp.str.slice(0, 19)
    wrong = wall_clock != local.dt.strftime("%Y-%m-%dT%H:%M:%S")
    hour = local.dt.hour + local.dt.minute / 60.0
    outside = (hour < start) | (hour >= end)
    mismatch = local.dt.floor("D") != contacted["contact_on"]
    ids = contacted["customer_id"]
    return [
        _rows("wrong_offset", ids.loc[wrong], "offset is not the customer's zone's"),
        _rows("allowed_hours", ids.loc[outside], f"local send time outside [{start}, {end})"),
        _rows(
            "contact_on_mismatch", ids.loc[mismatch], "contact_on is not the local date of send_at"
        ),
    ]


def _consent(contacted: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    if customers is None:
        has_channel = contacted["channel"].notna()
        return _rows(
            "channel_without_customers",
            contacted.loc[has_channel, "customer_id"],
            "a channel although consent is unknown",
        )
    table = customers.assign(customer_id=customers["customer_id"].astype("string"))
    merged = contacted[["customer_id", "channel"]].merge(table, on="customer_id", how="left")
    allowed = pd.Series(False, index=merged.index)
    for name in CHANNELS:
        column = f"consent_{name}"
        consent = merged[column].fillna(False).astype(bool) if column in merged else False
        allowed |= (merged["channel"] == name).fillna(False) & consent
    return _rows("consent", merged.loc[~allowed, "customer_id"], "channel without consent")


def _quiet_period(
    contacted: pd.DataFrame, orders: pd.DataFrame, as_of: dt.date, policy: PolicyConfig
) -> pd.DataFrame:
    ordered_at = pd.to_datetime(orders["ordered_at"], utc=True)
    cutoff = pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1)
    paid = orders.assign(ordered_at=ordered_at, customer_id=orders["customer_id"].astype("string"))
    paid = paid.loc[(paid["status"] == "paid") & (paid["ordered_at"] < cutoff)]
    last = paid.groupby("customer_id")["ordered_at"].max().rename("last_order_at")
    merged = contacted.join(last, on="customer_id").dropna(subset=["last_order_at"])
    quiet = policy.quiet_days_after_purchase
    days_after = (
        merged["contact_on"] - merged["last_order_at"].dt.tz_localize(None).dt.floor("D")
    ).dt.days
    too_soon = (days_after <= quiet) | (
        merged["send_utc"] - merged["last_order_at"] < pd.Timedelta(days=quiet)
    )
    return _rows(
        "quiet_period", merged.loc[too_soon, "customer_id"], f"within {quiet} days of a paid order"
    )


def _history(contacts: pd.DataFrame | None, as_of: dt.date) -> pd.DataFrame:
    if contacts is None or contacts.empty:
        return pd.DataFrame(
            {
                "customer_id": pd.Series(dtype="string"),
                "touch_at": pd.Series(dtype="datetime64[ns, UTC]"),
            }
        )
    touch_at = pd.to_datetime(contacts["contacted_at"], utc=True)
    history = pd.DataFrame(
        {"customer_id": contacts["customer_id"].astype("string"), "touch_at": touch_at}
    )
    return history.loc[history["touch_at"] < pd.Timestamp(as_of, tz="UTC") + pd.Timedelta(days=1)]


def _events(contacted: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """History touches and planned contacts as one event list (``source`` = row id or -1)."""
    planned = pd.DataFrame(
        {
            "customer_id": contacted["customer_id"].to_numpy(),
            "event_at": contacted["send_utc"].to_numpy(),
            "event_day": contacted["contact_on"].to_numpy(),
            "source": contacted.index.to_numpy(),
        }
    )
    past = pd.DataFrame(
        {
            "customer_id": history["customer_id"].to_numpy(),
            "event_at": history["touch_at"].to_numpy(),
            "event_day": history["touch_at"].dt.tz_localize(None).dt.floor("D").to_numpy(),
            "source": -1,
        }
    )
    return pd.concat([past, planned], ignore_index=True)


def _pairs(contacted: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    mine = contacted.reset_index(names="row")[["row", "customer_id", "contact_on", "send_utc"]]
    return mine.merge(_events(contacted, history), on="customer_id")


def _spacing(contacted: pd.DataFrame, history: pd.DataFrame, policy: PolicyConfig) -> pd.DataFrame:
    pairs = _pairs(contacted, history)
    pairs = pairs.loc[pairs["source"] != pairs["row"]]
    gap = policy.min_days_between_contacts
    day_gap = (pairs["contact_on"] - pd.to_datetime(pairs["event_day"])).dt.days.abs()
    time_gap = (pairs["send_utc"] - pd.to_datetime(pairs["event_at"], utc=True)).abs()
    close = (day_gap < gap) | (time_gap < pd.Timedelta(days=gap))
    return _rows(
        "spacing", pairs.loc[close, "customer_id"], f"less than {gap} days from another touch"
    )


def _cap(contacted: pd.DataFrame, history: pd.DataFrame, policy: PolicyConfig) -> pd.DataFrame:
    """Every 30-day window [s, s + 29] that contains a planned contact holds at most the cap."""
    pairs = _pairs(contacted, history)
    delta = (pairs["contact_on"] - pd.to_datetime(pairs["event_day"])).dt.days.to_numpy()
    offsets = np.arange(30)  # window start s = contact day - offset
    # The event lies in the window starting `offset` days before the contact iff
    # delta <= offset <= delta + 29.
    inside = (delta[:, None] <= offsets[None, :]) & (offsets[None, :] <= delta[:, None] + 29)
    counts = pd.DataFrame(inside, columns=offsets).groupby(pairs["row"].to_numpy()).sum()
    worst = counts.max(axis=1) if len(counts) else pd.Series(dtype=int)
    over = worst[worst > policy.max_contacts_per_30_days].index
    return _rows(
        "contact_cap",
        contacted.loc[over, "customer_id"],
        f"more than {policy.max_contacts_per_30_days} touches in 30 days",
    )


def _capacity(contacted: pd.DataFrame, policy: PolicyConfig) -> pd.DataFrame:
    limited = contacted.loc[contacted["channel"].isin(list(policy.daily_capacity))]
    sizes = limited.groupby(["channel", "contact_on"]).size().rename("sent").reset_index()
    capacity = sizes["channel"].astype(object).map(policy.daily_capacity).astype(float)
    over = sizes.loc[sizes["sent"].to_numpy() > capacity.to_numpy()]
    detail = over["channel"].astype(str) + " on " + over["contact_on"].dt.strftime("%Y-%m-%d")
    return pd.DataFrame({"rule": "daily_capacity", "customer_id": "*", "detail": detail.to_numpy()})


def _zones(ids: pd.Series, customers: pd.DataFrame | None) -> pd.Series:
    if customers is None or "timezone" not in customers.columns:
        return pd.Series("UTC", index=ids.index)
    zones = customers.set_index(customers["customer_id"].astype("string"))["timezone"]
    zones = zones[~zones.index.duplicated(keep="last")]
    return pd.Series(zones.reindex(ids.to_numpy()).fillna("UTC").to_numpy(), index=ids.index)


def _rows(rule: str, customer_ids: pd.Series, detail: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"rule": rule, "customer_id": customer_ids.astype("string").to_numpy(), "detail": detail}
    )
