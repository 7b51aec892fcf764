"""The purchase process of one product stream (a customer's main or second consumable).

Each customer repeats: buy `q` units -> they last `q * days_of_supply / usage_rate` days ->
buy again around the run-out time, with log-normal noise of sd `regularity` (median exactly
the run-out interval). Three things move a purchase away from its natural time:

- a sale event: a price-sensitive customer whose run-out falls shortly after a sale peak buys
  in the sale window instead (pull-forward), or one whose run-out falls just before a peak
  waits for it; either way they stock up (more units, so the next interval is longer);
- a replenishment reminder (the brand's old rule: `days_of_supply * q - 3` days after the
  purchase, sent to a random 60% of purchases of reachable customers): if it arrives in the
  last three weeks before the customer would have bought, 35% buy within a few days of it;
- the hidden dropout time: no purchase happens after it, nor after the end of the period.

The loop below is over purchase *rounds* (the n-th purchase of every still-active customer
at once), never over customers, so a million customers take a few dozen vectorised steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from repurchase.sample_shop.events import SaleCalendar

REMINDER_SHARE = 0.6  # share of purchases after which the old rule sends a reminder
REMINDER_LEAD_DAYS = 3.0
REMINDER_RESPONSE = 0.35  # P(buy soon after a well-timed reminder)
REMINDER_REACH_DAYS = 21.0  # a reminder works only this close before the natural purchase
MIN_GAP_SHARE = 0.5  # nobody rebuys before half of their supply is used

VIA_REGULAR, VIA_EVENT, VIA_REMINDER = 0, 1, 2


@dataclass(frozen=True)
class Stream:
    """Per-customer inputs of one product stream (all arrays have one entry per customer)."""

    customer: np.ndarray  # row position in the customers frame
    sku_code: np.ndarray
    first_day: np.ndarray  # local days since start of the first purchase
    days_of_supply: np.ndarray
    usual_quantity: np.ndarray
    usage_rate: np.ndarray
    regularity: np.ndarray
    sensitivity: np.ndarray  # price_sensitivity_score
    dropout_day: np.ndarray
    reachable: np.ndarray  # has a consented channel: reminders can reach them


@dataclass(frozen=True)
class StreamHistory:
    """What happened: purchases (one row each) and the reminders that were sent."""

    customer: np.ndarray
    sku_code: np.ndarray
    day: np.ndarray
    quantity: np.ndarray
    via: np.ndarray
    reminder_customer: np.ndarray
    reminder_day: np.ndarray


def simulate_stream(
    rng: np.random.Generator,
    stream: Stream,
    calendar: SaleCalendar,
    period_days: float,
    *,
    reminders: bool,
) -> StreamHistory:
    """Simulate every purchase of the stream up to the dropout time or the period end."""
    position = np.flatnonzero(stream.first_day < np.minimum(stream.dropout_day, period_days))
    day = stream.first_day[position]
    quantity = stream.usual_quantity[position].astype(float)
    via = np.zeros(len(position), dtype=np.int8)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("pos", "day", "q", "via", "rp", "rd")}
    while position.size:
        parts["pos"].append(position)
        parts["day"].append(day)
        parts["q"].append(quantity)
        parts["via"].append(via)
        n = position.size
        supply = stream.days_of_supply[position] * quantity
        runout = supply / stream.usage_rate[position]
        natural = day + runout * np.exp(stream.regularity[position] * rng.standard_normal(n))
        natural = np.maximum(natural, day + MIN_GAP_SHARE * runout)
        next_day, next_quantity, next_via = _sale_timing(
            rng, stream, position, day, runout, natural, calendar
        )
        if reminders:
            reminder = day + supply - REMINDER_LEAD_DAYS
            sent = stream.reachable[position] & (rng.random(n) < REMINDER_SHARE)
            responds = (
                sent
                & (reminder < next_day)
                & (reminder >= next_day - REMINDER_REACH_DAYS)
                & (reminder < stream.dropout_day[position])
                & (rng.random(n) < REMINDER_RESPONSE)
            )
            response_day = np.minimum(reminder + rng.exponential(1.5, n), next_day)
            next_day = np.where(responds, response_day, next_day)
            next_via = np.where(responds, VIA_REMINDER, next_via).astype(np.int8)
            next_quantity = np.where(responds, stream.usual_quantity[position], next_quantity)
            # the brand's system drops a reminder once the customer has bought again
            delivered = sent & (reminder < next_day) & (reminder < period_days)
            parts["rp"].append(position[delivered])
            parts["rd"].append(reminder[delivered])
        alive = (next_day < stream.dropout_day[position]) & (next_day < period_days)
        position, day = position[alive], next_day[alive]
        quantity, via = next_quantity[alive].astype(float), next_via[alive]
    return _history(stream, parts)


def _sale_timing(
    rng: np.random.Generator,
    stream: Stream,
    position: np.ndarray,
    day: np.ndarray,
    runout: np.ndarray,
    natural: np.ndarray,
    calendar: SaleCalendar,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move purchases into sale windows for price-sensitive customers, who then stock up."""
    n = position.size
    usual = stream.usual_quantity[position].astype(float)
    if not len(calendar.peak):
        return natural, usual, np.zeros(n, dtype=np.int8)
    score = stream.sensitivity[position]
    earliest = day + MIN_GAP_SHARE * runout
    k = calendar.next_peak_index(earliest)
    has_peak = k < len(calendar.peak)
    k = np.minimum(k, len(calendar.peak) - 1)
    peak = np.where(has_peak, calendar.peak[k], np.inf)
    # pull forward: run-out within `pull_days` after the peak; wait: run-out shortly before it
    pull_days = 5.0 + 40.0 * score
    wait_days = 12.0 * score
    p_move = np.clip(1.1 * score - 0.2, 0.0, 0.85)
    pulled = (peak <= natural) & (peak >= natural - pull_days)
    waits = (peak > natural) & (peak <= natural + wait_days)
    u = rng.random(n)
    moves = (pulled & (u < p_move)) | (waits & (u < 0.6 * p_move))
    # half buy on the peak day itself, the rest somewhere in the window before it
    window_from = np.maximum(np.where(has_peak, calendar.window_start[k], 0.0), earliest)
    in_window = window_from + rng.random(n) * np.maximum(peak + 1.0 - window_from, 0.0)
    on_peak = peak + rng.random(n)
    event_day = np.where(rng.random(n) < 0.5, on_peak, in_window)
    event_day = np.where(moves, event_day, natural)
    # stock-up: deal hunters buy one or two extra units of their usual basket
    extra = np.where(score >= 0.6, np.maximum(1.0, usual), 1.0)
    quantity = np.where(moves, usual + extra, usual)
    via = np.where(moves, VIA_EVENT, VIA_REGULAR).astype(np.int8)
    return event_day, quantity, via


def _history(stream: Stream, parts: dict[str, list[np.ndarray]]) -> StreamHistory:
    def joined(key: str, dtype: type | np.dtype) -> np.ndarray:
        return np.concatenate(parts[key]) if parts[key] else np.zeros(0, dtype=dtype)

    position = joined("pos", np.int64)
    reminder_position = joined("rp", np.int64)
    return StreamHistory(
        customer=stream.customer[position],
        sku_code=stream.sku_code[position],
        day=joined("day", float),
        quantity=joined("q", float),
        via=joined("via", np.int8),
        reminder_customer=stream.customer[reminder_position],
        reminder_day=joined("rd", float),
    )
