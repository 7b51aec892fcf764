"""`build_plan`: scores + history + policy -> whom to contact, when, how, and why.

The steps, all vectorised (one pass over the customers; loops run over time zones, channels or
days, never over customers):

1. action and wished-for day per customer (:mod:`serving.policy.offers`);
2. the earliest day/instant the do-not-disturb rules allow (:mod:`serving.policy.rules`);
   the contact day is the later of the two, and the send time the first whole hour inside the
   customer's allowed local hours on or after both;
3. only contacts inside the plan - local ``contact_on`` and the UTC day of ``send_at`` in
   ``(as_of, as_of + plan_days]`` - and on a consented channel survive;
4. the hold-out (:mod:`serving.policy.holdout`) is drawn among the planned customers: they are
   listed with ``holdout = true``, no channel and no ``send_at``, and never take capacity;
5. daily capacity per channel (:mod:`serving.policy.capacity`).

One contact per customer per plan: the plan is rebuilt as new orders and touches arrive, so the
next contact is decided with what happened after this one.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.errors import InputError
from serving.policy.capacity import apply_capacity
from serving.policy.config import PolicyConfig
from serving.policy.holdout import is_holdout
from serving.policy.offers import NO_ACTION, choose_action, choose_offer, contact_value
from serving.policy.rules import (
    choose_channel,
    day_after,
    earliest_contact,
    format_with_offset,
    last_paid_order_at,
    send_slots,
    to_utc,
    touch_history,
)

PLAN_COLUMNS = [
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
SCORE_COLUMNS_USED = [
    "customer_id",
    "p_buy_30d",
    "next_purchase_date",
    "predicted_value_365d",
    "rfm_segment",
    "lifecycle_stage",
    "price_sensitivity",
    "depletion_date",
]
_ACTION_WORDS = {
    "winback": "win-back: valuable customer slipping away",
    "replenish_reminder": "replenish: last purchase runs out around ",
    "first_repeat_nudge": "first repeat: new customer after the first order",
    "vip_care": "VIP care: important-value customer, next purchase expected around ",
    "promo_notice": "promotion (rare): price-sensitive, next purchase expected around ",
    "purchase_reminder": "reminder: next purchase expected around ",
}
_OFFER_WORDS = {
    "none": "no discount for a low-sensitivity high spender",
    "content": "product-value content",
    "high_threshold_coupon": "high-threshold coupon for a high-value customer",
    "coupon": "coupon for a price-sensitive customer",
}
_DELAY_WORDS = {
    "quiet_period": "moved after the quiet period following the last order",
    "spacing": "moved to keep the spacing after the last touch",
    "contact_cap": "moved to respect the 30-day contact cap",
}


# The score columns a draft keeps for the finish (ids and the reasons' words; the offer,
# which reads the price sensitivity, is chosen in the draft): drafts of millions of
# customers are held until the end, so not the whole score table.
_FINISH_SCORE_COLUMNS = (
    *(c for c in SCORE_COLUMNS_USED if c != "price_sensitivity"),
    "reasons",
)


@dataclass(frozen=True)
class PlanDraft:
    """A plan before daily capacity (steps 1-4): one row of `work` per planned contact and
    the same row of `scores` (the score columns the finish reads); ``work["row"]`` numbers
    the rows in customer_id order, which breaks priority ties reproducibly. Drafts of
    disjoint sets of customers combine (:func:`combine_drafts`), so a plan over millions of
    customers can be drafted piece by piece and finished once (:mod:`serving.batch.planning`)."""

    work: pd.DataFrame
    scores: pd.DataFrame


def build_plan(
    scores: pd.DataFrame,
    *,
    as_of: dt.date,
    orders: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    policy: PolicyConfig | None = None,
) -> pd.DataFrame:
    """The contact plan for ``(as_of, as_of + plan_days]``, highest priority first per day.

    `scores` needs ``customer_id``, ``p_buy_30d``, ``next_purchase_date``,
    ``predicted_value_365d``, ``rfm_segment``, ``lifecycle_stage``, ``price_sensitivity``,
    ``depletion_date`` (other SPEC score columns are used when present: ``reasons``).
    `orders` is the canonical orders frame (only each customer's last paid order up to
    `as_of` is used, for the quiet period); `customers`/`contacts` as read by
    ``read_customers``/``read_contacts``. Returns the SPEC plan columns in order.
    """
    policy = policy or PolicyConfig()
    draft = draft_plan(
        scores, as_of=as_of, orders=orders, customers=customers, contacts=contacts, policy=policy
    )
    return finish_plan(draft, as_of=as_of, policy=policy)


def draft_plan(
    scores: pd.DataFrame,
    *,
    as_of: dt.date,
    orders: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    policy: PolicyConfig | None = None,
) -> PlanDraft:
    """Steps 1-4 of :func:`build_plan` (arguments as there): every contact the plan can
    hold, before daily capacity moves or drops some."""
    policy = policy or PolicyConfig()
    scores = normalise_scores(scores)
    ids = scores["customer_id"]
    last_order_at = last_paid_order_at(orders, as_of, ids)
    last_touch_at, cap_touch_at = touch_history(contacts, as_of, ids, policy)
    bounds = earliest_contact(
        as_of=as_of,
        last_order_at=last_order_at,
        last_touch_at=last_touch_at,
        cap_touch_at=cap_touch_at,
        policy=policy,
    )
    action, wanted_day = choose_action(
        scores, as_of=as_of, last_order_at=last_order_at, last_touch_at=last_touch_at, policy=policy
    )
    channel, zone = choose_channel(ids, customers, policy)

    earliest_day = bounds["earliest_day"].to_numpy("datetime64[D]")
    target_day = np.maximum(wanted_day, earliest_day)
    contact_day, send_local = send_slots(
        target_day, bounds["earliest_at"].to_numpy("datetime64[ns]"), zone, policy.allowed_hours
    )
    work = pd.DataFrame(
        {
            # Scores are sorted by customer_id, so the row number breaks priority ties
            # reproducibly without comparing strings.
            "row": np.arange(len(scores)),
            "contact_day": contact_day,
            "send_local": send_local,
            "zone": zone,
            "channel": channel,
            "action": action,
            "delayed_by": np.where(
                target_day > wanted_day, bounds["blocked_by"].to_numpy(dtype=object), ""
            ),
        }
    )
    work["offer"] = choose_offer(scores, action, policy)
    work["expected_value"], work["priority"] = contact_value(scores, action, policy)
    work["holdout"] = False
    planned = (action != NO_ACTION) & ~np.isnat(wanted_day) & ~bounds["never"].to_numpy()
    planned &= channel != ""  # "" = customers table known, no consented channel
    planned &= work["expected_value"].to_numpy() >= policy.min_expected_value
    work = work.loc[planned]

    work = _inside_plan(work, as_of=as_of, last_day=_last_day(as_of, policy))
    work["holdout"] = is_holdout(
        scores["customer_id"].iloc[work["row"].to_numpy()],
        policy.holdout_fraction,
        policy.holdout_salt,
    )
    kept = scores[list(_FINISH_SCORE_COLUMNS)].iloc[work["row"].to_numpy()].reset_index(drop=True)
    # rows stay in customer_id order: renumber them 0..n-1 over the kept ones
    work = work.reset_index(drop=True).assign(row=np.arange(len(work)))
    return PlanDraft(work=work, scores=kept)


def combine_drafts(drafts: list[PlanDraft]) -> PlanDraft:
    """One draft from drafts of disjoint sets of customers, rows renumbered in customer_id
    order over all of them (what one draft of everyone would have)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(drafts) == 1:
        return drafts[0]
    work = pd.concat([d.work for d in drafts], ignore_index=True)
    scores = pd.concat([d.scores for d in drafts], ignore_index=True)
    ids = pa.array(scores["customer_id"].astype("string"), type=pa.large_string())
    order = pc.sort_indices(ids).to_numpy()  # Arrow sorts strings like Python, 10x faster
    work = work.iloc[order].reset_index(drop=True).assign(row=np.arange(len(order)))
    return PlanDraft(work=work, scores=scores.iloc[order].reset_index(drop=True))


# Plan rows written per step of :func:`finish_plan`: each row's text is ~300 characters and
# building it takes several whole-column copies, so a million rows at once cost gigabytes.
_FINISH_ROWS = 200_000


def finish_plan(draft: PlanDraft, *, as_of: dt.date, policy: PolicyConfig) -> pd.DataFrame:
    """Step 5 of :func:`build_plan` on a draft, and the plan's columns.

    The rows are put in the plan's order first, then given their text a slice at a time
    (two slices side by side); Arrow-backed text columns concatenate without copying, so the
    peak is the plan plus two slices' working copies.
    """
    last_day = _last_day(as_of, policy)
    work = apply_capacity(draft.work, last_day=last_day, policy=policy)
    work = _inside_plan(work, as_of=as_of, last_day=last_day)
    work = work.iloc[_plan_order(work)]

    def finished(start: int) -> pd.DataFrame:
        rows = work.iloc[start : start + _FINISH_ROWS]
        scores = draft.scores.iloc[rows["row"].to_numpy()].reset_index(drop=True)
        return _finish(rows, scores)

    starts = range(0, max(len(work), 1), _FINISH_ROWS)
    if len(starts) == 1:
        return finished(0)
    # two slices at a time: their text is built by Arrow kernels, which release the GIL
    # (measured on 1.59M plan rows: 5.9 s in one thread, 4.2 s in two)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return pd.concat(list(pool.map(finished, starts)), ignore_index=True)


def _plan_order(work: pd.DataFrame) -> np.ndarray:
    """Positions of `work` in the plan's order: day, contacts before the hold-out, highest
    priority first, then customer_id order (the same keys as :func:`_finish`)."""
    # np.lexsort sorts by its last key first; it is stable, and `row` is unique anyway.
    # Priorities descending: negated (a NaN priority sorts last either way, as in pandas).
    return np.lexsort(
        (
            work["row"].to_numpy(),
            -work["priority"].to_numpy(dtype=float),
            work["holdout"].to_numpy(dtype=bool),
            work["contact_day"].to_numpy("datetime64[D]"),
        )
    )


def _last_day(as_of: dt.date, policy: PolicyConfig) -> np.datetime64:
    return np.datetime64(as_of, "D") + np.timedelta64(policy.plan_days, "D")


# --------------------------------------------------------------------------- steps


def normalise_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per customer, sorted by customer_id, with dates parsed (InputError if bad)."""
    missing = [c for c in SCORE_COLUMNS_USED if c not in scores.columns]
    if missing:
        raise InputError(f"scores lack required column '{missing[0]}'", column=missing[0])
    out = scores.assign(customer_id=scores["customer_id"].astype("string"))
    out = out.drop_duplicates("customer_id", keep="last").sort_values("customer_id")
    out = out.reset_index(drop=True)
    for column in ("next_purchase_date", "depletion_date"):
        out[column] = as_day(out[column], column)
    if "reasons" not in out.columns:
        out["reasons"] = pd.NA
    return out


def as_day(values: pd.Series, column: str) -> pd.Series:
    """Score dates from text, dates or timestamps (any zone) -> naive day timestamps, NaT if empty."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.Series(values)
        if parsed.dt.tz is not None:
            parsed = parsed.dt.tz_localize(None)  # a date is its wall-clock day
    elif values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "date":
        # datetime.date objects (a frame from `score`): no detour through text
        parsed = pd.Series(pd.to_datetime(values), index=values.index)
    else:
        text = values.astype("string").str.strip()
        text = text.mask(text == "")
        parsed = pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna() & text.notna()
        if bad.any():
            example = text[bad].iloc[0]
            raise InputError(f"scores: '{example}' is not a date (YYYY-MM-DD)", column=column)
    return parsed.dt.floor("D").astype("datetime64[ns]")


def _inside_plan(work: pd.DataFrame, *, as_of: dt.date, last_day: np.datetime64) -> pd.DataFrame:
    """Keep contacts whose local day and UTC send day both lie in (as_of, as_of + plan_days]."""
    send_utc = to_utc(
        work["send_local"].to_numpy("datetime64[ns]"), work["zone"].to_numpy(dtype=object)
    )
    utc_day = send_utc.astype("datetime64[D]")
    local_day = work["contact_day"].to_numpy("datetime64[D]")
    first_day = day_after(as_of)
    inside = (local_day >= first_day) & (local_day <= last_day)
    inside &= (utc_day >= first_day) & (utc_day <= last_day)
    return work.assign(send_utc=send_utc).loc[inside]


def _finish(work: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    holdout = work["holdout"].to_numpy(dtype=bool)
    send_text = format_with_offset(
        work["send_local"].to_numpy("datetime64[ns]"), work["send_utc"].to_numpy("datetime64[ns]")
    )
    work = work.reset_index(drop=True)
    plan = pd.DataFrame(
        {
            "customer_id": scores["customer_id"].astype("string"),
            # datetime.date objects made by numpy in C (pandas' .dt.date makes a Timestamp
            # per row first: 0.2 s for 1.6M rows)
            "contact_on": pd.Series(
                work["contact_day"].to_numpy("datetime64[D]").astype(object), index=work.index
            ),
            "send_at": send_text.mask(holdout),
            "channel": work["channel"].astype("string").mask(holdout),
            "action": work["action"].astype("string"),
            "offer": work["offer"].astype("string"),
            "priority": work["priority"].astype(float),
            "expected_value": work["expected_value"].astype(float),
            "reasons": _reasons(work, scores),
            "holdout": holdout,
        },
        index=work.index,
    )
    # `work` comes in the plan's order (finish_plan sorts it by _plan_order's keys)
    return plan[PLAN_COLUMNS]


def _reasons(work: pd.DataFrame, scores: pd.DataFrame) -> pd.Series:
    """The why of each row, in words, built column-wise (no per-row formatting).

    In Arrow compute calls rather than pandas string operations: the same text, but each of
    the ~20 steps cost pandas 0.3-1 ms whatever the rows, 12 ms for a plan of one customer
    (the HTTP API plans one to 64 at a time).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def text_of(values: pd.Series) -> pa.Array:
        return pa.array(values.astype("string").array, pa.string())

    def words(values: pa.Array, table: dict[str, str]) -> pa.Array:
        # null where the value has no words (a missing part makes the whole text missing)
        found = pc.index_in(values, value_set=pa.array(list(table), pa.string()))
        return pc.take(pa.array(list(table.values()), pa.string()), found)

    def join(*parts: pa.Array | str) -> pa.Array:
        return pc.binary_join_element_wise(*parts, "")

    def rounded(values: pd.Series, scale: float = 1.0) -> pa.Array:
        number = pd.to_numeric(values, errors="coerce").fillna(0.0).to_numpy(dtype=float)
        return pa.array(np.round(number * scale).astype(np.int64)).cast(pa.string())

    def optional(present: pa.Array, part: pa.Array) -> pa.Array:
        # the part where `present`, else nothing (an absent part never nulls the text)
        return pc.if_else(pc.fill_null(present, False), part, "")

    action = text_of(work["action"])
    head = words(action, _ACTION_WORDS)  # null: no words, and so no text
    replenish = pc.fill_null(pc.equal(action, "replenish_reminder"), False)
    when_day = np.where(
        replenish.to_numpy(zero_copy_only=False),
        scores["depletion_date"].to_numpy("datetime64[D]"),
        scores["next_purchase_date"].to_numpy("datetime64[D]"),
    )
    # a plan's dates are a few hundred distinct days: each is formatted once
    days, day_code = np.unique(when_day, return_inverse=True)
    day_text = pa.array(np.datetime_as_string(days, unit="D"), pa.string())  # NaT: "NaT"
    when = day_text.take(pa.array(day_code.reshape(-1)))
    situation = join(
        " (",
        pc.fill_null(text_of(scores["lifecycle_stage"]), "?"),
        ", ",
        pc.fill_null(text_of(scores["rfm_segment"]), "?"),
        ")",
    )
    delay = words(text_of(work["delayed_by"]), _DELAY_WORDS)
    model = pc.utf8_trim_whitespace(text_of(scores["reasons"]))
    has_model = pc.invert(pc.or_kleene(pc.is_null(model), pc.equal(model, "")))
    held = pa.array(work["holdout"].to_numpy(dtype=bool))
    text = join(
        optional(held, pa.scalar("hold-out (control group, do not contact); ")),
        head,
        optional(pc.ends_with(head, "around "), when),
        optional(pc.equal(action, "winback"), situation),
        "; ",
        rounded(scores["p_buy_30d"], scale=100.0),
        "% chance to buy within 30 days, predicted 365-day value ",
        rounded(scores["predicted_value_365d"]),
        "; offer: ",
        words(text_of(work["offer"]), _OFFER_WORDS),
        optional(pc.is_valid(delay), join("; ", pc.fill_null(delay, ""))),
        optional(has_model, join("; model: ", pc.fill_null(model, ""))),
    )
    return pd.Series(pd.arrays.ArrowStringArray(text), index=work.index)
