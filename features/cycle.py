"""Consumption cycle: how long a customer's usual purchase lasts them, when their last purchase
runs out, and how overdue they are.

Two notions, because a CRM operator uses both:

- ``cycle_days`` — the customer's *usual* consumption cycle: how long their usual purchase
  lasts them. "This customer goes through a bag every 40 days." Lifecycle stages, reasons and
  models read it as the customer's rhythm, so one sale stock-up or a second product added to
  the last order must not change it;
- ``depletion_date`` / ``days_until_depletion`` — when what the customer *last* bought runs
  out (with several SKUs on the last purchase day, the one that runs out first), because that
  is when a replenishment reminder is due. After a stock-up of three bags it is three bags
  away, whatever the usual cycle.

Both come from the first source of the same chain that knows them (``cycle_source`` says which
one ``cycle_days`` came from):

1. ``supply_x_own_pace`` / ``supply`` — label supply (``quantity x days_of_supply`` of the
   products table, lines of one SKU on one day summed) times the customer's *pace*: how many
   days one label-day of supply lasts them.

   - For ``cycle_days`` the supply of the *usual basket*: the SKU whose run-outs set the
     customer's rhythm, at the customer's usual quantity of it (the median units per purchase
     day, the lower middle one when their number is even: a sale stock-up adds units, it
     never removes any). That SKU is, in turn of these rules, one the customer has bought on
     two days or more (a one-off is not a habit), one still in use (its last purchase had
     not run out twice over, by the label, before the customer's last purchase day: a
     product they switched away from is not), the one they started with (the earliest first
     purchase: a product added later rides along), the most label supply bought in total
     (started together: a short-lived add-on, a 10-day drip pack next to 50-day beans, is
     bought more often without being what the customer lives on), the most recently bought.
     On the sample shop, where 22% of the customers also use a second product, "the most
     label supply" alone chose the second product for about one in five of them;
   - For the depletion date the supply bought on the last purchase day.

   People use products faster or slower than the label says, so the pace is learned from each
   customer's own history:

   - every repeat purchase of a SKU gives one observation ``log(gap / supply)``: the days until
     the customer bought the same SKU again, over the label days that the earlier purchase
     bought; it does not count when the later purchase was a sale stock-up (discounted, and
     more units than the customer's usual quantity of the SKU: the promotion chose the day,
     not the run-out), nor when it was prompted (it came within days of a reminder or a
     campaign message, :mod:`features.prompted`: the message chose the day), nor when it is
     more than 1.5 times longer or shorter than the customer's own median observation (a
     pause, a gift, a purchase for someone else);
   - the customer's pace is ``exp`` of the mean of their observations (with stock-ups and
     outliers gone, the mean of the logs is the more precise summary of ordinary
     irregularity), shrunk towards the shop-wide pace (the median over customers of their own
     mean: one vote per customer, so that frequent buyers, who are the fast users, do not
     pull it) with a prior weight of ``k`` observations:
     ``log pace = (n x own mean + k x shop pace) / (n + k)``; ``k = cycle_pace_prior_gaps``,
     or by default learned from the data up to as_of (empirical Bayes): within-customer
     variance of the observations / between-customer variance of the true paces (method of
     moments over customers with two or more observations), so a shop whose customers differ
     little trusts the shop-wide pace, and one whose customers differ a lot (and buy
     regularly) trusts each customer's own history;
   - until 30 customers have an observation, nobody's pace is learned (pace 1: the label),
     because a customer's pace can only be judged against other customers' paces;
   - the shop-wide pace and ``k`` depend on everyone in the frame; ``cycle_shop_pace`` and
     ``cycle_pace_prior_gaps`` fix them (:func:`learn_pace_prior` learns both at training), so
     that scoring one customer alone gives the same ``cycle_days`` as scoring everyone;

   ``supply_x_own_pace`` when the customer has at least one observation, ``supply`` (label
   supply x the shop-wide pace) when not;
2. ``own_intervals`` — the customer's median gap between purchase days (at least
   ``cycle_min_intervals`` gaps);
3. ``sku_intervals`` — the typical (median) repurchase interval of the SKUs of the last
   purchase day, learned from every customer's repeat purchases of the same SKU up to as_of
   (at least ``cycle_sku_min_intervals`` of them); the shortest one;
4. ``all_customers`` — the median gap over all customers up to as_of (``default_cycle_days``
   when there is none). This is a guess, so ``depletion_date`` stays empty for it.

   Steps 3 and 4 depend on everyone in the frame; a config carrying ``cycle_sku_intervals``
   and ``cycle_all_customers_days`` (:class:`features.population.PopulationConfig`, fixed at
   training by :func:`population_cycle_fallbacks`) uses those instead, so scoring a
   partition of the customers gives each the same cycle as scoring the whole shop.

``overdue_ratio = days_since_last_order / expected duration of the last purchase`` (the
depletion date minus the last purchase day, unrounded; 1 = runs out today, 2 = ran out as long
ago as it lasted). "Overdue" is about what the customer last bought: someone who stocked up
on three bags is not overdue after two usual cycles. Without a depletion date (source
``all_customers``) both durations are the same population guess.

Everything is a sort and grouped reductions over the purchase rows: O(rows log rows), no
per-customer Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from features.config import FeatureConfig
from features.intervals import customer_gaps, grouped_median
from features.mix import label_series
from features.prepared import BoolArray, FloatArray, IntArray, PreparedOrders, prepare_orders

CYCLE_SOURCES = ("supply_x_own_pace", "supply", "own_intervals", "sku_intervals", "all_customers")
_OWN_PACE, _SUPPLY, _OWN, _SKU, _ALL = range(len(CYCLE_SOURCES))
# below this many customers with an observation, paces are not learned at all (label pace 1);
# below this many with two or more observations, the prior weight k is not learned
_MIN_CUSTOMERS_TO_LEARN = 30
_MIN_CUSTOMERS_FOR_PRIOR = 30
_FALLBACK_PRIOR_GAPS = 1.0  # ... and one observation's worth is used instead
_LOG_LIMIT, _LOG_STEPS = 16.0, 2**20  # log paces are medianed on a grid of 1e-6
_MAX_PRIOR_GAPS = 100.0  # no between-customer spread at all: trust the shop-wide pace
# a pace observation this many times longer or shorter than the customer's own median is
# not a run-out; fixed (not learned from the frame) so that a customer's pace is their own
_OUTLIER_FACTOR = 1.5


@dataclass(frozen=True)
class SkuDays:
    """One entry per (customer, SKU, purchase day), sorted by customer, SKU and day.

    ``quantity`` sums the lines of that SKU on that day; rows without a SKU are left out.
    ``discounted``: any of those lines had a discount (None: no discounts known).
    ``prompted``: any of those lines answered a message (None: not known).
    """

    code: IntArray
    sku: IntArray
    day: IntArray
    quantity: FloatArray
    discounted: BoolArray | None = None
    prompted: BoolArray | None = None

    def repeats(self) -> BoolArray:
        """``repeats()[i]``: entry ``i + 1`` is the next purchase of entry ``i``'s SKU."""
        return (self.code[1:] == self.code[:-1]) & (self.sku[1:] == self.sku[:-1])

    @cached_property
    def usual_quantity(self) -> FloatArray:
        """Per entry, the customer's usual quantity of that SKU (:func:`_usual_quantity`);
        computed once: the stock-up test and the usual basket both read it."""
        return _usual_quantity(self)


@dataclass(frozen=True)
class Pace:
    """Days one label-day of supply lasts each customer (1 = as the label says)."""

    pace: FloatArray  # per customer
    n_observations: IntArray  # per customer: repeat purchases with a known supply
    learned: bool  # False: too few customers to learn from, every pace is the label's (1)
    shop_log_pace: float  # the shrinkage target (median of the customers' own means)
    prior_gaps: float  # k: the shop-wide pace counts as this many observations


def cycle_features(
    prepared: PreparedOrders,
    products: pd.DataFrame | None,
    gap_median: FloatArray | Callable[[], FloatArray],
    config: FeatureConfig,
) -> pd.DataFrame:
    """``cycle_days``, ``cycle_source``, ``depletion_date``, ``days_until_depletion``,
    ``overdue_ratio``. ``products`` needs ``sku`` and ``days_of_supply`` (NaN = unknown).

    ``gap_median`` is each customer's ``interval_features`` median gap, or a function that
    returns it: it is read only at the end, so a caller can compute it beside the cycle.
    """
    n = prepared.n_customers
    gap_codes, gaps = customer_gaps(prepared)
    gap_count = np.bincount(gap_codes, minlength=n)
    last_day = prepared.day_value[prepared.day_offsets[1:] - 1]

    sku_days = sku_purchase_days(prepared)
    per_unit = _unit_supply(prepared, products)
    supply_bought = sku_days.quantity * _lookup(per_unit, sku_days.sku)  # label days
    on_last_day = sku_days.day == last_day[sku_days.code]
    pace = customer_pace(
        sku_days, supply_bought, n, config.cycle_pace_prior_gaps, config.cycle_shop_pace
    )
    usual = usual_basket_supply(sku_days, supply_bought, per_unit, last_day) * pace.pace
    last_supply = _earliest_on_last_day(sku_days, supply_bought, on_last_day, n) * pace.pace
    frozen_intervals = getattr(config, "cycle_sku_intervals", None)
    if frozen_intervals is None:
        sku_interval = _sku_interval(
            sku_days, len(prepared.sku_names), config.cycle_sku_min_intervals
        )
    else:  # fixed at training: a customer's cycle does not depend on who else is scored
        sku_interval = frozen_sku_intervals(frozen_intervals, prepared.sku_names)
    sku_cycle = _earliest_on_last_day(sku_days, _lookup(sku_interval, sku_days.sku), on_last_day, n)
    frozen_overall = getattr(config, "cycle_all_customers_days", None)
    if frozen_overall is not None:
        overall = float(frozen_overall)
    else:
        overall = float(np.median(gaps)) if len(gaps) else config.default_cycle_days
    own_median = gap_median() if callable(gap_median) else gap_median
    own = np.where(gap_count >= config.cycle_min_intervals, own_median, np.nan)

    # the same chain twice: the usual purchase (cycle_days) and the last one (depletion)
    cycle_days, source = _first_known(usual, own, sku_cycle, overall)
    own_pace = pace.learned & (pace.n_observations > 0)
    source = np.where(source == 0, np.where(own_pace, _OWN_PACE, _SUPPLY), source + 1)
    last_duration, last_source = _first_known(last_supply, own, sku_cycle, overall)
    # a population guess (all_customers) is not a depletion date
    depletion_day = np.where(last_source != _ALL - 1, last_day + np.rint(last_duration), np.nan)
    days_since = prepared.as_of_day - last_day
    return pd.DataFrame(
        {
            "cycle_days": cycle_days,
            "cycle_source": label_series(source, CYCLE_SOURCES),
            "depletion_date": pd.to_datetime(depletion_day, unit="D").astype("datetime64[ns]"),
            "days_until_depletion": depletion_day - prepared.as_of_day,
            # overdue: past the run-out of what was last bought, not of a usual order
            "overdue_ratio": days_since / last_duration,
        }
    )


def population_cycle_fallbacks(
    prepared: PreparedOrders, config: FeatureConfig
) -> tuple[dict[str, float], float]:
    """The population-dependent fallbacks of the cycle chain, learned from `prepared`: the
    typical repurchase interval per SKU name (only SKUs with at least
    ``cycle_sku_min_intervals`` repeats) and the all-customer median gap (step 4; the
    config's ``default_cycle_days`` when nobody has a gap).

    Fix them at training (:func:`features.population.population_config`) and scoring any
    subset of the customers gives each customer the cycle the whole shop would give them.
    """
    sku_interval = _sku_interval(
        sku_purchase_days(prepared), len(prepared.sku_names), config.cycle_sku_min_intervals
    )
    known = np.flatnonzero(~np.isnan(sku_interval))
    names = np.asarray(prepared.sku_names, dtype=object)[known]
    intervals = {str(name): float(sku_interval[i]) for name, i in zip(names, known, strict=True)}
    _, gaps = customer_gaps(prepared)
    overall = float(np.median(gaps)) if len(gaps) else float(config.default_cycle_days)
    return intervals, overall


def frozen_sku_intervals(intervals: dict[str, float], sku_names: object) -> FloatArray:
    """Per SKU code of a frame (``sku_names``), the frozen typical interval (NaN: unknown)."""
    names = pd.Index(pd.Series(sku_names, dtype="string"))
    series = pd.Series(intervals, dtype=np.float64)
    out: FloatArray = np.asarray(series.reindex(names), dtype=np.float64)
    return out


def _first_known(
    first: FloatArray, own: FloatArray, sku_cycle: FloatArray, overall: float
) -> tuple[FloatArray, IntArray]:
    """Per customer, the first known of the candidates and its index (0 .. 3)."""
    candidates = np.vstack([first, own, sku_cycle, np.full(len(first), overall)])
    chain = np.argmax(~np.isnan(candidates), axis=0)
    return candidates[chain, np.arange(len(first))], chain


def usual_basket_supply(
    sku_days: SkuDays, supply_bought: FloatArray, per_unit: FloatArray, last_day: IntArray
) -> FloatArray:
    """Label days of supply of each customer's usual purchase (NaN when no SKU's is known).

    The usual SKU, among SKUs with a known supply, is chosen by these rules in turn (the
    module docstring says why): bought on two days or more; still in use (its last purchase
    plus twice that purchase's label supply reaches the customer's last purchase day); the
    earliest first purchase; the most label supply in total; the latest last purchase; the
    last SKU name. The usual quantity is the customer's lower-median quantity of that SKU
    per purchase day. ``last_day`` is each customer's last purchase day.
    """
    out = np.full(len(last_day), np.nan)
    known = ~np.isnan(supply_bought)
    if not known.any():
        return out
    code, sku, day = sku_days.code, sku_days.sku, sku_days.day
    usual_quantity, supply = sku_days.usual_quantity, supply_bought
    if not known.all():  # copies of millions of entries, only when some supply is unknown
        code, sku, day = code[known], sku[known], day[known]
        usual_quantity, supply = usual_quantity[known], supply[known]
    # entries are sorted by customer, SKU and day: each (customer, SKU) is one run
    run_start = np.concatenate([[True], (code[1:] != code[:-1]) | (sku[1:] != sku[:-1])])
    starts = np.flatnonzero(run_start)
    ends = np.append(starts[1:], len(code)) - 1
    run_code = code[starts]
    # the rules in turn, each narrowing every customer's candidate runs to the best ones;
    # later rules only see the runs still tied, usually few (a sort of all runs took longer)
    rules: list[Callable[[IntArray], FloatArray]] = [
        # bought on two days or more, then still in use
        lambda r: (
            2.0 * (ends[r] > starts[r])
            + (day[ends[r]] + 2 * supply[ends[r]] >= last_day[run_code[r]])
        ),
        lambda r: -day[starts[r]].astype(np.float64),  # started with first
        lambda r: np.add.reduceat(supply, starts)[r],  # the most label supply in total
        lambda r: day[ends[r]].astype(np.float64),  # the most recently bought
    ]
    boundary = np.concatenate([[True], run_code[1:] != run_code[:-1], [True]])
    alone = boundary[:-1] & boundary[1:]  # the customer's only run: nothing to choose
    chosen = np.flatnonzero(~alone)
    for rule in rules:
        candidates = run_code[chosen]
        new_customer = np.concatenate([[True], candidates[1:] != candidates[:-1]])
        if new_customer.all():
            break  # one run left per customer
        values = rule(chosen)
        first, owner = np.flatnonzero(new_customer), np.cumsum(new_customer) - 1
        chosen = chosen[values == np.maximum.reduceat(values, first)[owner]]
    # still a tie (SKUs always bought together, as much of each): the last SKU code, which
    # is the last name (features.prepared numbers SKUs in name order)
    if len(chosen):
        chosen = chosen[np.append(run_code[chosen][1:] != run_code[chosen][:-1], True)]
    chosen = np.concatenate([np.flatnonzero(alone), chosen])
    out[run_code[chosen]] = usual_quantity[starts][chosen] * per_unit[sku[starts][chosen]]
    return out


def sku_purchase_days(prepared: PreparedOrders) -> SkuDays:
    """Each customer's purchases grouped by SKU and day (see :class:`SkuDays`)."""
    rows = np.flatnonzero(prepared.sku >= 0)
    if len(rows) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return SkuDays(empty, empty, empty, np.zeros(0), np.zeros(0, dtype=bool))
    n_skus = len(prepared.sku_names)
    sku, code, day = prepared.sku[rows], prepared.code[rows], prepared.day[rows]
    quantity = prepared.quantity[rows]
    span = int(day.max() - day.min() + 1)
    if (prepared.n_customers + 1) * n_skus * span < 2**62:
        # rows come sorted by customer and day: a stable sort on (customer, sku) keeps the
        # days in order and is quick on such runs
        order = np.argsort(code.astype(np.int64) * n_skus + sku, kind="stable")
    else:  # the combined key would overflow: sort by three keys instead
        order = np.lexsort((day, sku, code))
    sku, code, day, quantity = sku[order], code[order], day[order], quantity[order]
    discount = prepared.discount[rows][order]
    first = np.ones(len(code), dtype=bool)
    first[1:] = (code[1:] != code[:-1]) | (sku[1:] != sku[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(first)
    prompted = None
    if prepared.prompted is not None:
        prompted = np.logical_or.reduceat(prepared.prompted[rows][order], starts)
    return SkuDays(
        code[starts],
        sku[starts],
        day[starts],
        np.add.reduceat(quantity, starts),
        np.add.reduceat(discount, starts) > 0,
        prompted,
    )


def sku_repurchase_interval(prepared: PreparedOrders, min_intervals: int) -> FloatArray:
    """Median days between repeat purchases of the same SKU by the same customer, per SKU code
    (NaN when fewer than ``min_intervals`` repeats were seen)."""
    return _sku_interval(sku_purchase_days(prepared), len(prepared.sku_names), min_intervals)


def customer_pace(
    sku_days: SkuDays,
    supply_bought: FloatArray,
    n_customers: int,
    prior_gaps: float | None,
    shop_pace: float | None = None,
) -> Pace:
    """Each customer's pace (days per label-day of supply), shrunk towards the shop's.

    ``supply_bought`` holds the label days of each ``sku_days`` entry (NaN = unknown).
    ``prior_gaps`` is the weight ``k`` of the shop-wide pace, ``shop_pace`` the shop-wide pace
    itself; None learns them from these customers (module docstring). With both given, a
    customer's pace depends on their own purchases only.
    """
    codes, log_ratio = pace_observations(sku_days, supply_bought, n_customers)
    count = np.bincount(codes, minlength=n_customers)
    if shop_pace is None and np.count_nonzero(count) < _MIN_CUSTOMERS_TO_LEARN:
        # a pace is judged against other customers' paces; with too few of them the label
        # is the safer guess
        return Pace(np.ones(n_customers), count, False, 0.0, prior_gaps or _FALLBACK_PRIOR_GAPS)
    own = np.bincount(codes, weights=log_ratio, minlength=n_customers) / np.maximum(count, 1)
    own[count == 0] = np.nan
    # one vote per customer: frequent (fast) buyers must not pull the shop-wide pace
    shop = float(np.median(own[count > 0])) if shop_pace is None else float(np.log(shop_pace))
    k = _learned_prior_gaps(codes, log_ratio, count) if prior_gaps is None else prior_gaps
    # weight n / (n + k) of the own mean; customers without an observation get the shop's
    own_weight = np.divide(count, count + k, out=np.zeros(n_customers), where=count > 0)
    log_pace = shop + own_weight * (np.nan_to_num(own, nan=shop) - shop)
    return Pace(np.exp(log_pace), count, True, shop, k)


def pace_observations(
    sku_days: SkuDays, supply_bought: FloatArray, n_customers: int
) -> tuple[IntArray, FloatArray]:
    """The customers' pace observations: customer code and ``log(gap / label supply)`` each.

    A repeat purchase of a SKU is one observation unless

    - the supply of the earlier purchase is unknown;
    - it was a sale stock-up (discounted, and more units than the customer's usual quantity
      of that SKU): the promotion chose that day, not the run-out;
    - it was prompted (``features.prompted``: it answered a reminder or a campaign);
    - it is more than 1.5 times longer or shorter than the customer's own median observation
      (``_OUTLIER_FACTOR``): a pause, a gift, a purchase for someone else.
    """
    repeat = sku_days.repeats() & ~np.isnan(supply_bought[:-1])
    if sku_days.discounted is not None:
        stock_up = sku_days.discounted & (sku_days.quantity > sku_days.usual_quantity)
        repeat &= ~stock_up[1:]
    if sku_days.prompted is not None:  # a message chose the day, not the run-out
        repeat &= ~sku_days.prompted[1:]
    codes = sku_days.code[:-1][repeat]
    gaps = (sku_days.day[1:] - sku_days.day[:-1])[repeat]
    log_ratio = np.log(gaps / supply_bought[:-1][repeat])
    median = _grouped_median_of_logs(codes, log_ratio, n_customers)
    typical = np.abs(log_ratio - median[codes]) <= np.log(_OUTLIER_FACTOR)
    return codes[typical], log_ratio[typical]


def _usual_quantity(sku_days: SkuDays) -> FloatArray:
    """Per entry, the customer's usual quantity of that SKU: the median over its purchase days,
    the lower middle one when their number is even (a sale stock-up adds units, it never
    removes any)."""
    if len(sku_days.code) == 0:
        return np.zeros(0)
    run_start = np.ones(len(sku_days.code), dtype=bool)
    run_start[1:] = ~sku_days.repeats()
    starts = np.flatnonzero(run_start)
    run = np.cumsum(run_start) - 1
    counts = np.diff(np.append(starts, len(run)))
    # entries stay grouped by (customer, SKU) run; inside a run sorted by quantity
    quantity = sku_days.quantity
    whole = np.rint(quantity)
    if np.array_equal(whole, quantity) and whole.min() >= 0 and whole.max() < 2**20:
        # whole units (the usual case): one int64 key, and runs of it are already in order
        by_quantity = np.argsort(run * 2**20 + whole.astype(np.int64), kind="stable")
    else:
        by_quantity = np.lexsort((quantity, run))
    lower_median = sku_days.quantity[by_quantity][starts + (counts - 1) // 2]
    return lower_median[run]


def learn_pace_prior(
    orders: pd.DataFrame, as_of: dt.date | pd.Timestamp | str, products: pd.DataFrame
) -> dict[str, float]:
    """The shop-wide pace and its prior weight learned from ``orders`` up to ``as_of``, as
    ``FeatureConfig`` fields (``{}`` when too few customers have repeat purchases).

    Fix them at training time (``config.model_copy(update=learn_pace_prior(...))``) and
    ``cycle_days`` of a customer no longer depends on who else is in the scored frame.
    """
    prepared = prepare_orders(orders, as_of)
    sku_days = sku_purchase_days(prepared)
    supply_bought = sku_days.quantity * _lookup(_unit_supply(prepared, products), sku_days.sku)
    pace = customer_pace(sku_days, supply_bought, prepared.n_customers, None)
    if not pace.learned:
        return {}
    return {
        "cycle_shop_pace": float(np.exp(pace.shop_log_pace)),
        "cycle_pace_prior_gaps": pace.prior_gaps,
    }


def _grouped_median_of_logs(codes: IntArray, log_values: FloatArray, n_groups: int) -> FloatArray:
    """Per-group median of log values, to 1e-6: rounded to integers, one int64 key sorts them
    about eight times faster than a two-key float lexsort (millions of observations)."""
    clipped = np.clip(log_values, -_LOG_LIMIT, _LOG_LIMIT)  # beyond e^16 times the label
    steps = np.rint((clipped + _LOG_LIMIT) * _LOG_STEPS).astype(np.int64)
    return grouped_median(codes, steps, n_groups) / _LOG_STEPS - _LOG_LIMIT


def _learned_prior_gaps(codes: IntArray, log_ratio: FloatArray, count: IntArray) -> float:
    """Empirical-Bayes weight of the shop-wide pace, in observations: ``sigma^2 / tau^2``.

    ``sigma^2`` is the pooled within-customer variance of the observations, ``tau^2`` the
    variance of the customers' true log paces: the variance of their mean observation minus
    the part that noise explains (``sigma^2 / n`` on average). Customers with two or more
    observations only.
    """
    n = count.astype(np.float64)
    sums = np.bincount(codes, weights=log_ratio, minlength=len(count))
    squares = np.bincount(codes, weights=log_ratio**2, minlength=len(count))
    several = count >= 2
    if several.sum() < _MIN_CUSTOMERS_FOR_PRIOR:
        return _FALLBACK_PRIOR_GAPS
    mean = sums[several] / n[several]
    within = float((squares[several] - n[several] * mean**2).sum() / (n[several] - 1).sum())
    between = float(np.var(mean, ddof=1) - within * np.mean(1.0 / n[several]))
    if between <= within / _MAX_PRIOR_GAPS:
        return _MAX_PRIOR_GAPS
    return within / between


def _sku_interval(sku_days: SkuDays, n_skus: int, min_intervals: int) -> FloatArray:
    """Median repurchase interval per SKU code (NaN below ``min_intervals`` repeats)."""
    out = np.full(n_skus, np.nan)
    repeat = sku_days.repeats()
    gap_sku, gaps = sku_days.sku[:-1][repeat], (sku_days.day[1:] - sku_days.day[:-1])[repeat]
    if n_skus == 0 or len(gaps) == 0:
        return out
    medians = grouped_median(gap_sku, gaps, n_skus)
    enough = np.bincount(gap_sku, minlength=n_skus) >= min_intervals
    out[enough] = medians[enough]
    return out


def _unit_supply(prepared: PreparedOrders, products: pd.DataFrame | None) -> FloatArray:
    """Label days of supply of one unit per SKU code, NaN when unknown."""
    n_skus = len(prepared.sku_names)
    if products is None or "days_of_supply" not in products.columns or n_skus == 0:
        return np.full(n_skus, np.nan)
    table = products.drop_duplicates("sku", keep="last")
    per_unit = (
        pd.Series(
            table["days_of_supply"].to_numpy(dtype=np.float64, na_value=np.nan),
            index=pd.Index(table["sku"].astype("string")),
        )
        .reindex(prepared.sku_names)
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )
    return np.where(per_unit > 0, per_unit, np.nan)


def _lookup(per_code: FloatArray, codes: np.ndarray) -> FloatArray:
    """``per_code[codes]`` with NaN for code -1 (unknown)."""
    padded = np.append(per_code, np.nan)
    return padded[np.where(codes >= 0, codes, len(per_code))]


def _earliest_on_last_day(
    sku_days: SkuDays, values: FloatArray, on_last_day: BoolArray, n_customers: int
) -> FloatArray:
    """Smallest known value among each customer's SKUs of their last purchase day."""
    keep = on_last_day & ~np.isnan(values)
    codes, kept = sku_days.code[keep], values[keep]
    out = np.full(n_customers, np.nan)
    if len(kept) == 0:
        return out
    # entries are sorted by customer: one reduceat over each customer's run
    starts = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
    out[codes[starts]] = np.minimum.reduceat(kept, starts)
    return out
