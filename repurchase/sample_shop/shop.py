"""Generate the whole sample shop and write it to a folder."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.errors import InputError
from repurchase.sample_shop.catalog import build_catalog, products_table
from repurchase.sample_shop.customers import draw_customers
from repurchase.sample_shop.events import sale_calendar
from repurchase.sample_shop.files import write_csv
from repurchase.sample_shop.orders import build_orders, durable_purchases
from repurchase.sample_shop.purchases import Stream, simulate_stream
from repurchase.sample_shop.touches import build_contacts

DEFAULT_END = dt.date(2026, 10, 31)
DEFAULT_START = DEFAULT_END - dt.timedelta(days=2 * 365 - 1)
MAX_CUSTOMERS = 20_000_000
FILE_NAMES = ("orders", "products", "customers", "contacts", "truth")


@dataclass(frozen=True)
class SampleShop:
    """The five tables of a generated shop (see the package docstring for their columns)."""

    orders: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    contacts: pd.DataFrame
    truth: pd.DataFrame


def generate_shop(
    n_customers: int,
    *,
    seed: int,
    start: dt.date = DEFAULT_START,
    end: dt.date = DEFAULT_END,
) -> SampleShop:
    """Simulate `n_customers` customers of the sample brand from `start` to `end` (inclusive)."""
    if not 1 <= n_customers <= MAX_CUSTOMERS:
        raise InputError(f"--customers must be between 1 and {MAX_CUSTOMERS:,}, got {n_customers}")
    if end <= start:
        raise InputError(f"--end ({end}) must be after --start ({start})")
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    # one independent generator per part, so changing one part leaves the others' draws alone
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)]
    period_days = float((end - start).days + 1)
    catalog = build_catalog()
    calendar = sale_calendar(start, end)
    customers = draw_customers(
        rngs[0], n_customers, int(period_days), catalog, (calendar.window_start, calendar.peak)
    )
    main = simulate_stream(
        rngs[1], _stream(customers, catalog, "main"), calendar, period_days, reminders=True
    )
    second = simulate_stream(
        rngs[2], _stream(customers, catalog, "secondary", rngs[3]), calendar, period_days,
        reminders=True,
    )  # fmt: skip
    durable = durable_purchases(rngs[4], customers, catalog, period_days)
    orders = build_orders(
        rngs[5], customers, catalog, calendar, (main, second, durable), start, period_days
    )
    contacts = build_contacts(
        rngs[6], customers, catalog, calendar, (main, second), start, period_days
    )
    return SampleShop(
        orders=orders,
        products=products_table(catalog),
        customers=_customers_table(customers, start),
        contacts=contacts,
        truth=_truth_table(customers, catalog, start),
    )


def write_shop(shop: SampleShop, out_dir: Path) -> dict[str, Path]:
    """Write the five tables as CSV files in `out_dir`, each atomically; return their paths."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("exists and is not a folder", path=out_dir)
    written: dict[str, Path] = {}
    for name in FILE_NAMES:
        target = out_dir / f"{name}.csv"
        write_csv(getattr(shop, name), target)
        written[name] = target
    return written


def _stream(
    customers: pd.DataFrame,
    catalog: pd.DataFrame,
    which: str,
    rng: np.random.Generator | None = None,
) -> Stream:
    """The inputs of the main-consumable or second-consumable purchase stream."""
    if which == "main":
        rows = np.flatnonzero(customers["main_category"].to_numpy() != "gadgets")
        sku = customers["main_sku_code"].to_numpy()[rows]
        first = customers["acquired_day"].to_numpy()[rows]
    else:
        assert rng is not None
        rows = np.flatnonzero(customers["secondary_sku_code"].to_numpy() >= 0)
        sku = customers["secondary_sku_code"].to_numpy()[rows]
        cycle = customers["secondary_cycle_days"].to_numpy()[rows]
        # 40% start both products with their first order, the rest try the second one later
        later = rng.uniform(0.2, 1.5, rows.size) * cycle
        first = customers["acquired_day"].to_numpy()[rows] + np.where(
            rng.random(rows.size) < 0.4, 0.0, later
        )
    take = customers.iloc[rows]
    quantity_column = "usual_quantity" if which == "main" else "secondary_quantity"
    return Stream(
        customer=rows,
        sku_code=sku,
        first_day=first,
        days_of_supply=catalog["days_of_supply"].to_numpy()[sku],
        usual_quantity=take[quantity_column].to_numpy(),
        usage_rate=take["usage_rate"].to_numpy(),
        regularity=take["regularity"].to_numpy(),
        sensitivity=take["price_sensitivity_score"].to_numpy(),
        dropout_day=take["dropout_day"].to_numpy(),
        reachable=take["preferred_channel"].notna().to_numpy(),
    )


def _local_date(start: dt.date, days: np.ndarray) -> np.ndarray:
    """`YYYY-MM-DD` text of the local calendar date `days` after `start`."""
    whole = np.floor(days).astype(np.int64).astype("timedelta64[D]")
    return np.datetime_as_string(np.datetime64(start, "D") + whole, unit="D")


def _customers_table(customers: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    table = customers[
        [
            "customer_id",
            "timezone",
            "consent_email",
            "consent_sms",
            "consent_wechat",
            "preferred_channel",
            "acquisition_channel",
        ]
    ].copy()
    table["signed_up_on"] = _local_date(start, customers["acquired_day"].to_numpy())
    return table


def _truth_table(customers: pd.DataFrame, catalog: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    sku = catalog["sku"].to_numpy()
    second = customers["secondary_sku_code"].to_numpy()
    truth = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "acquired_on": _local_date(start, customers["acquired_day"].to_numpy()),
            "acquisition_channel": customers["acquisition_channel"].to_numpy(),
            "main_category": customers["main_category"].to_numpy(),
            "main_sku": sku[customers["main_sku_code"].to_numpy()],
            "usual_quantity": customers["usual_quantity"].to_numpy(),
            "usage_rate": customers["usage_rate"].to_numpy(),
            "true_cycle_days": customers["true_cycle_days"].to_numpy(),
            "regularity": customers["regularity"].to_numpy(),
            "secondary_sku": pd.Series(sku[np.clip(second, 0, None)]).where(second >= 0),
            "secondary_quantity": pd.Series(
                customers["secondary_quantity"].to_numpy(), dtype="Int64"
            ).where(second >= 0),
            "secondary_cycle_days": customers["secondary_cycle_days"].to_numpy(),
            "price_sensitivity": customers["price_sensitivity"].to_numpy(),
            "price_sensitivity_score": customers["price_sensitivity_score"].to_numpy(),
            "value_level": customers["value_level"].to_numpy(),
            "one_and_done": customers["one_and_done"].to_numpy(),
            "dropout_date": _local_date(start, customers["dropout_day"].to_numpy()),
        }
    )
    return truth
