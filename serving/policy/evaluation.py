"""Does the plan pick the right people? A backtest of a contact plan against simple rankings.

Issue #5 asks whether the customers a plan ranks first really buy more often after their
``contact_on`` than customers picked at random, or by the classic "contact who bought
recently" rule. :func:`evaluate_plan` measures exactly that on orders that came *after* the
plan's ``as_of``:

- **contactable**: the plan rows that are not hold-out (the people the plan would contact);
- **group size** ``n``: ``top_share`` of the contactable rows, rounded half up to a whole
  customer (at least 1, at most the number scored);
- **outcome**: a customer *bought* when they have at least one paid order (status ``paid``)
  whose UTC calendar day lies in ``(start, start + window_days]``, where ``start`` is the
  plan's ``contact_on`` for the plan's own groups and ``as_of`` (i.e. from ``as_of + 1 day``)
  for the comparison rankings. ``contact_on`` is the customer's local day; the window is
  counted in UTC days (at most a few hours' difference at either end);
- **purchase rate**: buyers / customers of the group, with its binomial standard error
  ``sqrt(rate x (1 - rate) / n)``; **lift over random**: rate / the random group's rate.

The rankings (each picks ``n`` customers):

- ``plan``: the ``n`` contactable rows of highest ``priority`` (ties: customer id), each
  measured from its own ``contact_on``: who *and* when;
- ``plan_from_as_of``: the same customers measured from ``as_of``: who only, so the gap to
  ``plan`` is what the timing adds (or costs);
- ``random``: ``n`` customers drawn without replacement (seeded) from everyone scored;
- ``recency``: the ``n`` scored customers whose last paid order at or before ``as_of`` is the
  most recent (ties: customer id; no paid order: last);
- ``p_buy_30d``: the ``n`` scored customers with the highest model ``p_buy_30d``.

Orders dated after ``as_of`` are read only for the outcome; the recency rule reads only the
orders up to ``as_of``. The plan and the scores are taken as given: build them from the
orders up to ``as_of`` (the benchmark and the tests do).

The hold-out comparison (``holdout`` table) lists the purchase rate of all hold-out and all
contacted plan rows from their ``contact_on``. It measures the effect of contacting only
when the plan was actually sent; in a backtest nobody was contacted, so the two rates must
agree up to noise (a check that the hold-out is an unbiased draw).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.errors import InputError
from features.tables import paid_orders

RANKINGS = ("plan", "plan_from_as_of", "random", "recency", "p_buy_30d")
RESULT_COLUMNS = [
    "ranking",
    "window_from",
    "customers",
    "buyers",
    "purchase_rate",
    "std_error",
    "lift_over_random",
]
_PLAN_COLUMNS = ("customer_id", "contact_on", "priority", "holdout")
_SCORE_COLUMNS = ("customer_id", "p_buy_30d")
_ORDER_COLUMNS = ("customer_id", "ordered_at", "status")


@dataclass(frozen=True)
class PlanEvaluation:
    """The backtest of one plan: one row per ranking and the hold-out comparison.

    ``rankings`` has :data:`RESULT_COLUMNS` (``window_from`` is ``contact_on`` or
    ``as_of``); ``holdout`` has ``group`` (``contacted``/``holdout``), ``customers``,
    ``buyers``, ``purchase_rate``, ``std_error``. ``last_window_day`` is the last day any
    window covers: the orders must reach that day or the rates are too low.
    """

    as_of: dt.date
    top_share: float
    window_days: int
    scored: int
    contactable: int
    group_size: int
    last_window_day: dt.date
    rankings: pd.DataFrame
    holdout: pd.DataFrame

    def rate(self, ranking: str) -> float:
        """The purchase rate of one ranking."""
        row = self.rankings.loc[self.rankings["ranking"] == ranking, "purchase_rate"]
        if row.empty:
            raise KeyError(f"ranking '{ranking}' was not evaluated")
        return float(row.iloc[0])


def evaluate_plan(
    plan: pd.DataFrame,
    scores: pd.DataFrame,
    orders: pd.DataFrame,
    as_of: dt.date,
    *,
    top_share: float = 0.1,
    window_days: int = 30,
    seed: int = 0,
    rankings: Sequence[str] = RANKINGS,
) -> PlanEvaluation:
    """Purchase rates of the plan's top customers and of the comparison rankings.

    `plan` needs ``customer_id``, ``contact_on``, ``priority``, ``holdout`` (as
    :func:`serving.policy.build_plan` returns them); `scores` ``customer_id`` and
    ``p_buy_30d`` (the scored population the comparison rankings draw from); `orders` is the
    canonical orders frame (``customer_id``, ``ordered_at``, ``status``) covering the history
    up to `as_of` and the outcome period after it. See the module docstring for what is
    measured.
    """
    _require(plan, _PLAN_COLUMNS, "plan")
    _require(scores, _SCORE_COLUMNS, "scores")
    _require(orders, _ORDER_COLUMNS, "orders")
    unknown = [r for r in rankings if r not in RANKINGS]
    if unknown:
        raise InputError(f"unknown ranking '{unknown[0]}' (known: {', '.join(RANKINGS)})")
    if not 0 < top_share <= 1:
        raise InputError(f"top_share must be in (0, 1], got {top_share}")
    if window_days < 1:
        raise InputError(f"window_days must be >= 1, got {window_days}")

    as_of_day = np.datetime64(as_of, "D")
    population = _population(scores)
    rows = _plan_rows(plan)
    contactable = rows.loc[~rows["holdout"]]
    size = max(1, math.floor(top_share * len(contactable) + 0.5)) if len(contactable) else 0
    size = min(size, len(population))
    history, future = _split_paid_days(orders, as_of_day)

    groups = pd.concat(
        [_group(name, rows, contactable, population, history, size, as_of_day, seed)
         for name in rankings],
        ignore_index=True,
    )  # fmt: skip
    groups["bought"] = _bought(groups, future, window_days)
    table = _rates(groups, "ranking", list(rankings))
    table["window_from"] = table["ranking"].map(
        lambda name: "contact_on" if name == "plan" else "as_of"
    )
    random_rate = table.loc[table["ranking"] == "random", "purchase_rate"]
    base = float(random_rate.iloc[0]) if len(random_rate) else float("nan")
    table["lift_over_random"] = table["purchase_rate"] / base if base > 0 else float("nan")

    everyone = rows.assign(group=np.where(rows["holdout"], "holdout", "contacted"))
    everyone["bought"] = _bought(everyone, future, window_days)
    last_start = max(
        [as_of_day, *rows["start"].to_numpy("datetime64[D]")] if len(rows) else [as_of_day]
    )
    return PlanEvaluation(
        as_of=as_of,
        top_share=top_share,
        window_days=window_days,
        scored=len(population),
        contactable=len(contactable),
        group_size=size,
        last_window_day=(last_start + np.timedelta64(window_days, "D")).astype(dt.date),
        rankings=table[RESULT_COLUMNS],
        holdout=_rates(everyone, "group", ["contacted", "holdout"]),
    )


# --------------------------------------------------------------------------- inputs


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{name} lack required column '{missing[0]}'", column=missing[0])


def _population(scores: pd.DataFrame) -> pd.DataFrame:
    """Scored customers, one row each, sorted by id (so seeded draws do not depend on order)."""
    out = pd.DataFrame(
        {
            "customer_id": scores["customer_id"].astype("string"),
            "p_buy_30d": pd.to_numeric(scores["p_buy_30d"], errors="coerce"),
        }
    )
    out = out.drop_duplicates("customer_id", keep="last").sort_values("customer_id")
    return out.reset_index(drop=True)


def _plan_rows(plan: pd.DataFrame) -> pd.DataFrame:
    """customer_id, start (= contact_on day), priority, holdout (bool) of every plan row."""
    holdout = plan["holdout"]
    if not pd.api.types.is_bool_dtype(holdout):
        # a plan read back from CSV holds "true"/"false" text
        holdout = holdout.astype("string").str.strip().str.lower().isin(["true", "1"])
    start = pd.to_datetime(plan["contact_on"].astype("string").str.slice(0, 10), errors="coerce")
    if start.isna().any():
        raise InputError("plan: every row needs a contact_on date (YYYY-MM-DD)")
    return pd.DataFrame(
        {
            "customer_id": plan["customer_id"].astype("string").to_numpy(),
            "start": start.to_numpy("datetime64[D]"),
            "priority": pd.to_numeric(plan["priority"], errors="coerce").fillna(-np.inf),
            "holdout": holdout.to_numpy(dtype=bool),
        }
    )


def _split_paid_days(
    orders: pd.DataFrame, as_of_day: np.datetime64
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paid (customer_id, UTC day) rows at or before `as_of_day` and after it."""
    paid = paid_orders(orders)
    stamps = pd.to_datetime(paid["ordered_at"], utc=True)
    days = pd.DataFrame(
        {
            "customer_id": paid["customer_id"].astype("string").to_numpy(),
            "day": stamps.dt.tz_localize(None).to_numpy("datetime64[D]"),
        }
    ).drop_duplicates()
    after = days["day"].to_numpy() > as_of_day
    return days.loc[~after], days.loc[after]


# --------------------------------------------------------------------------- groups


def _group(
    name: str,
    rows: pd.DataFrame,
    contactable: pd.DataFrame,
    population: pd.DataFrame,
    history: pd.DataFrame,
    size: int,
    as_of_day: np.datetime64,
    seed: int,
) -> pd.DataFrame:
    """The `size` customers one ranking picks, with the first day before their window."""
    if name in ("plan", "plan_from_as_of"):
        top = contactable.sort_values(
            ["priority", "customer_id"], ascending=[False, True], kind="stable"
        ).head(size)
        ids = top["customer_id"].to_numpy()
        start = top["start"].to_numpy("datetime64[D]") if name == "plan" else as_of_day
    elif name == "random":
        rng = np.random.default_rng(seed)
        picked = np.sort(rng.choice(len(population), size=size, replace=False))
        ids, start = population["customer_id"].to_numpy()[picked], as_of_day
    elif name == "recency":
        last = history.groupby("customer_id")["day"].max()
        ranked = population.assign(last_day=population["customer_id"].map(last))
        ranked = ranked.sort_values(
            ["last_day", "customer_id"], ascending=[False, True], na_position="last"
        )
        ids, start = ranked["customer_id"].head(size).to_numpy(), as_of_day
    else:  # p_buy_30d
        ranked = population.sort_values(
            ["p_buy_30d", "customer_id"], ascending=[False, True], na_position="last"
        )
        ids, start = ranked["customer_id"].head(size).to_numpy(), as_of_day
    return pd.DataFrame(
        {
            "ranking": name,
            "customer_id": pd.array(ids, dtype="string"),
            "start": np.broadcast_to(np.asarray(start, dtype="datetime64[D]"), len(ids)),
        }
    )


def _bought(group: pd.DataFrame, future: pd.DataFrame, window_days: int) -> np.ndarray:
    """Per row of `group`: a paid order day in (start, start + window_days]?"""
    keyed = group[["customer_id", "start"]].reset_index(drop=True)
    keyed["row"] = np.arange(len(keyed))
    hits = keyed.merge(future, on="customer_id", how="inner")
    lag = (hits["day"].to_numpy("datetime64[D]") - hits["start"].to_numpy("datetime64[D]")).astype(
        np.int64
    )
    inside = (lag >= 1) & (lag <= window_days)
    bought = np.zeros(len(keyed), dtype=bool)
    bought[hits["row"].to_numpy()[inside]] = True
    return bought


def _rates(groups: pd.DataFrame, by: str, names: list[str]) -> pd.DataFrame:
    """customers, buyers, purchase_rate and its standard error per group, in `names` order."""
    counted = groups.groupby(by, sort=False)["bought"].agg(["size", "sum"])
    counted = counted.reindex(names, fill_value=0)
    customers = counted["size"].to_numpy(dtype=np.int64)
    buyers = counted["sum"].to_numpy(dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(customers > 0, buyers / np.maximum(customers, 1), np.nan)
        error = np.sqrt(rate * (1 - rate) / customers)
    return pd.DataFrame(
        {
            by: names,
            "customers": customers,
            "buyers": buyers,
            "purchase_rate": rate,
            "std_error": error,
        }
    )


def format_evaluation(evaluation: PlanEvaluation) -> str:
    """The evaluation as a plain text table (rates in percent)."""
    head = (
        f"as_of {evaluation.as_of}: {evaluation.scored:,} scored, "
        f"{evaluation.contactable:,} contactable, top {evaluation.top_share:.0%} = "
        f"{evaluation.group_size:,} customers, bought within {evaluation.window_days} days"
    )
    table = evaluation.rankings.assign(
        purchase_rate=(evaluation.rankings["purchase_rate"] * 100).round(1),
        std_error=(evaluation.rankings["std_error"] * 100).round(1),
        lift_over_random=evaluation.rankings["lift_over_random"].round(2),
    ).rename(columns={"purchase_rate": "rate_%", "std_error": "se_%", "lift_over_random": "lift"})
    held = evaluation.holdout.assign(
        purchase_rate=(evaluation.holdout["purchase_rate"] * 100).round(1),
        std_error=(evaluation.holdout["std_error"] * 100).round(1),
    ).rename(columns={"purchase_rate": "rate_%", "std_error": "se_%"})
    return "\n".join(
        [
            head,
            table.to_string(index=False),
            "hold-out vs contacted (every plan row, from contact_on):",
            held.to_string(index=False),
        ]
    )


def rate_gap_in_errors(evaluation: PlanEvaluation, better: str, worse: str) -> float:
    """(rate of `better` - rate of `worse`) in standard errors of the difference."""
    rate = evaluation.rankings.set_index("ranking")["purchase_rate"].astype(float)
    error = evaluation.rankings.set_index("ranking")["std_error"].astype(float)
    gap = float(rate[better]) - float(rate[worse])
    spread = math.hypot(float(error[better]), float(error[worse]))
    return gap / spread if spread > 0 else math.copysign(math.inf, gap)
