"""Draw each customer's profile and hidden purchase-process parameters (one row each).

Everything here is vectorised over customers; the meaning of every parameter is documented
in the package docstring (`repurchase.sample_shop`), because `truth.csv` publishes them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from repurchase.sample_shop.catalog import CATEGORY_SHARES, GADGET_FOR_CATEGORY

ACQUISITION_CHANNELS = np.array(["wecom", "package_card", "web", "tmall", "douyin"])
_ACQUISITION_SHARES = np.array([0.25, 0.20, 0.20, 0.25, 0.10])

# P(consent) per acquisition channel for (email, sms, wechat): WeCom and package-card
# customers were added as WeCom contacts, marketplace buyers mostly only left a phone number.
_CONSENT = {
    "wecom": (0.15, 0.35, 0.92),
    "package_card": (0.10, 0.30, 0.78),
    "web": (0.65, 0.45, 0.25),
    "tmall": (0.08, 0.40, 0.15),
    "douyin": (0.05, 0.30, 0.20),
}
# which consented channel a customer prefers, by acquisition channel (first consented wins)
_PREFERENCE = {
    "wecom": ("wechat", "sms", "email"),
    "package_card": ("wechat", "sms", "email"),
    "web": ("email", "wechat", "sms"),
    "tmall": ("sms", "wechat", "email"),
    "douyin": ("wechat", "sms", "email"),
}

TIMEZONES = np.array(
    [
        "Asia/Shanghai",
        "Asia/Hong_Kong",
        "Asia/Singapore",
        "Asia/Tokyo",
        "America/Los_Angeles",
        "Europe/London",
        "Australia/Sydney",
    ]
)
_TIMEZONE_SHARES = np.array([0.88, 0.03, 0.03, 0.015, 0.015, 0.015, 0.015])

VALUE_LEVELS = np.array(["low", "medium", "high"])
_VALUE_SHARES = np.array([0.50, 0.35, 0.15])

SENSITIVITY_TIERS = np.array(["low", "medium", "high"])
SENSITIVITY_CUTS = (0.35, 0.60)  # score < 0.35 low, < 0.60 medium, else high

DURABLE_ONLY_SHARE = 0.06  # customers who only ever buy a gadget
SECOND_CATEGORY_SHARE = 0.22  # consumable customers who also use a second category
ONE_AND_DONE_SHARE = 0.30  # customers who never come back after the first order
MEAN_LIFETIME_DAYS = 480.0  # mean time to lapse for the others (exponential)
EVENT_ACQUISITION_SHARE = 0.12  # customers won during a sale window
MIN_CYCLE_DAYS = 14.0  # a regular basket lasts at least this long


def draw_customers(
    rng: np.random.Generator,
    n_customers: int,
    period_days: int,
    catalog: pd.DataFrame,
    sale_windows: tuple[np.ndarray, np.ndarray],
) -> pd.DataFrame:
    """One row per customer with profile and hidden parameters (times in local days)."""
    n = n_customers
    frame = pd.DataFrame({"customer_id": _customer_ids(n)})
    frame["acquired_day"] = _acquisition_days(rng, n, period_days, sale_windows)
    channel = ACQUISITION_CHANNELS[rng.choice(5, size=n, p=_ACQUISITION_SHARES)]
    frame["acquisition_channel"] = channel
    frame["timezone"] = TIMEZONES[rng.choice(len(TIMEZONES), size=n, p=_TIMEZONE_SHARES)]
    _add_consents(rng, frame)
    _add_products(rng, frame, catalog)

    frame["value_level"] = VALUE_LEVELS[rng.choice(3, size=n, p=_VALUE_SHARES)]
    frame["usual_quantity"] = _usual_quantity(rng, frame["value_level"].to_numpy())
    # usage rate: units used per label-day; lognormal around 1 (slow and heavy users)
    frame["usage_rate"] = np.clip(np.exp(rng.normal(0.0, 0.25, n)), 0.5, 2.0).round(3)
    # regularity: log-scale sd of intervals around the run-out time (about their CV)
    frame["regularity"] = (0.03 + 0.30 * rng.beta(2.0, 5.0, n)).round(3)
    frame["price_sensitivity_score"] = _sensitivity_score(rng, frame["value_level"].to_numpy())
    tier = np.searchsorted(np.array(SENSITIVITY_CUTS), frame["price_sensitivity_score"], "right")
    frame["price_sensitivity"] = SENSITIVITY_TIERS[tier]

    dos = catalog["days_of_supply"].to_numpy()
    usage = frame["usage_rate"].to_numpy()
    main_code = frame["main_sku_code"].to_numpy()
    consumable = frame["main_category"].to_numpy() != "gadgets"
    main_dos = np.where(consumable, dos[main_code], 30.0)
    quantity = _enough_for_a_fortnight(frame["usual_quantity"].to_numpy(), main_dos, usage)
    frame["usual_quantity"] = quantity
    frame["true_cycle_days"] = np.where(consumable, quantity * main_dos / usage, np.nan).round(2)
    second = frame["secondary_sku_code"].to_numpy()
    second_dos = dos[np.clip(second, 0, None)]
    second_quantity = _enough_for_a_fortnight(frame["usual_quantity"].to_numpy(), second_dos, usage)
    frame["secondary_quantity"] = np.where(second >= 0, second_quantity, 0)
    second_cycle = second_quantity * second_dos / usage
    frame["secondary_cycle_days"] = np.where(second >= 0, second_cycle, np.nan).round(2)
    _add_lifetimes(rng, frame)
    # text columns as categoricals: they are looked up per order line many times
    for column in ("acquisition_channel", "timezone", "main_category", "price_sensitivity",
                   "value_level", "preferred_channel"):  # fmt: skip
        frame[column] = frame[column].astype("category")
    return frame


def _customer_ids(n: int) -> np.ndarray:
    width = max(6, len(str(n)))
    numbers = np.arange(1, n + 1).astype(str)
    return np.char.add("C", np.char.zfill(numbers, width)).astype(object)


def _acquisition_days(
    rng: np.random.Generator,
    n: int,
    period_days: int,
    sale_windows: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Acquisition times growing over the period (3x more at the end), with sale spikes."""
    growth = np.log(3.0)
    u = rng.random(n)
    # inverse CDF of a density proportional to exp(growth * x) on [0, 1)
    days = np.log1p(u * np.expm1(growth)) / growth * period_days
    window_start, peak = sale_windows
    if len(peak):
        in_event = rng.random(n) < EVENT_ACQUISITION_SHARE
        which = rng.integers(0, len(peak), n)
        event_day = window_start[which] + rng.random(n) * (peak[which] + 1 - window_start[which])
        days = np.where(in_event, event_day, days)
    return np.minimum(days, period_days - 1e-6)


def _add_consents(rng: np.random.Generator, frame: pd.DataFrame) -> None:
    channel = frame["acquisition_channel"].to_numpy()
    n = len(frame)
    probabilities = np.array([_CONSENT[c] for c in ACQUISITION_CHANNELS])
    position = pd.Index(ACQUISITION_CHANNELS).get_indexer(channel)
    draws = rng.random((n, 3)) < probabilities[position]
    for column, name in enumerate(("email", "sms", "wechat")):
        frame[f"consent_{name}"] = draws[:, column]
    preferred = np.full(n, None, dtype=object)
    for acquisition, order in _PREFERENCE.items():
        # fill from the least to the most preferred so the most preferred consent wins
        for name in reversed(order):
            mask = (channel == acquisition) & frame[f"consent_{name}"].to_numpy()
            preferred[mask] = name
    frame["preferred_channel"] = preferred


def _add_products(rng: np.random.Generator, frame: pd.DataFrame, catalog: pd.DataFrame) -> None:
    n = len(frame)
    categories = np.array(list(CATEGORY_SHARES))
    shares = np.array(list(CATEGORY_SHARES.values()))
    main_category = categories[rng.choice(len(categories), size=n, p=shares)]
    durable_only = rng.random(n) < DURABLE_ONLY_SHARE
    gadget_code = catalog.index[catalog["sku"].isin(GADGET_FOR_CATEGORY.values())]
    by_sku = pd.Series(catalog.index, index=catalog["sku"])
    affinity = by_sku[[GADGET_FOR_CATEGORY[c] for c in categories]].to_numpy()
    category_position = pd.Index(categories).get_indexer(main_category)
    main_code = _pick_sku(rng, catalog, main_category)
    # a durable-only customer mostly buys the gadget of the category they are into
    favourite_gadget = affinity[category_position]
    random_gadget = rng.choice(gadget_code.to_numpy(), size=n)
    gadget = np.where(rng.random(n) < 0.7, favourite_gadget, random_gadget)
    frame["main_sku_code"] = np.where(durable_only, gadget, main_code)
    frame["main_category"] = np.where(durable_only, "gadgets", main_category)
    frame["gadget_sku_code"] = gadget

    # a second consumable category, different from the main one
    has_second = (~durable_only) & (rng.random(n) < SECOND_CATEGORY_SHARE)
    shift = rng.integers(1, len(categories), n)
    second_category = categories[(category_position + shift) % len(categories)]
    second_code = _pick_sku(rng, catalog, second_category)
    frame["secondary_sku_code"] = np.where(has_second, second_code, -1)


def _pick_sku(rng: np.random.Generator, catalog: pd.DataFrame, category: np.ndarray) -> np.ndarray:
    """A SKU of each row's category, drawn by popularity."""
    out = np.zeros(len(category), dtype=np.int64)
    u = rng.random(len(category))
    for name, products in catalog.groupby("category", sort=True):  # a handful of categories
        mask = category == name
        cumulative = products["popularity"].cumsum().to_numpy()
        pick = np.minimum(np.searchsorted(cumulative, u[mask], side="right"), len(products) - 1)
        out[mask] = products.index.to_numpy()[pick]
    return out


def _usual_quantity(rng: np.random.Generator, value_level: np.ndarray) -> np.ndarray:
    """Units per regular order: the basket size that goes with the value level."""
    u = rng.random(len(value_level))
    medium = np.where(u < 0.45, 1, 2)
    high = np.where(u < 0.55, 2, 3)
    return np.select([value_level == "low", value_level == "medium"], [1, medium], high)


def _enough_for_a_fortnight(
    quantity: np.ndarray, days_of_supply: np.ndarray, usage_rate: np.ndarray
) -> np.ndarray:
    """Nobody reorders small packs every few days: baskets last at least MIN_CYCLE_DAYS."""
    needed = np.ceil(MIN_CYCLE_DAYS * usage_rate / days_of_supply).astype(np.int64)
    return np.maximum(quantity, needed)


def _sensitivity_score(rng: np.random.Generator, value_level: np.ndarray) -> np.ndarray:
    """0 (never waits for a deal) .. 1 (buys only on deals); big spenders care less."""
    score = rng.beta(2.0, 2.6, len(value_level))
    score = np.where(value_level == "high", 0.65 * score, score)
    score = np.where(value_level == "low", np.minimum(1.0, 1.12 * score), score)
    return score.round(3)


def _add_lifetimes(rng: np.random.Generator, frame: pd.DataFrame) -> None:
    """Hidden dropout time: one-and-done buyers lapse right after their first order."""
    n = len(frame)
    one_and_done = rng.random(n) < ONE_AND_DONE_SHARE
    # deal hunters are less loyal: shorter lifetimes as the score rises
    mean_life = MEAN_LIFETIME_DAYS * (1.25 - 0.6 * frame["price_sensitivity_score"].to_numpy())
    lifetime = rng.exponential(1.0, n) * mean_life
    lifetime = np.where(one_and_done, 0.5, lifetime)
    frame["one_and_done"] = one_and_done
    frame["dropout_day"] = frame["acquired_day"].to_numpy() + lifetime
