"""Issue #3: on the sample shop, where the true cycles are known, ``cycle_days`` is right.

Which customers count: *repeat customers* are those with ``frequency >= 1`` (two or more
purchase days up to as_of) whose main product is a consumable (gadget-only buyers have no
consumption cycle: ``true_cycle_days`` is empty). "Right" means within 10% of the truth:
``|estimate - truth| / truth <= 0.10``.

Two truths for two columns:

- ``cycle_days`` (the customer's usual cycle) against ``truth.csv``'s ``true_cycle_days``, the
  run-out of a regular order of the main SKU — issue #3 as written;
- the duration of the last purchase (``depletion_date`` minus the last purchase day) against
  the true run-out of what the last purchase day bought, computed from the published truth:
  over the consumable SKUs bought that day, the smallest ``units x days_of_supply /
  usage_rate``. The two differ when the last day also bought the second product or was a
  sale stock-up, about one customer in eight.

What is reachable: a customer's pace is learned from their own repeat purchases, each of which
scatters around the truth by ordinary irregularity (about 14% in log terms, after sale
stock-ups and outliers are set aside). With one gap even a perfect basket puts only about
55-65% of customers within 10%. The shop's old reminder rule writes three days before the
*label* run-out, so a slow user who answers it looks as fast as the label; with the touch
history those purchases are set aside (``features.prompted``) and all repeat customers reach
issue #3's 80% here (80.5% and 81.0%; 79.6-81.5% on 5,000-customer shops with seeds 7 and 11,
79.3% and 79.2% here from the orders alone). With each customer's true pace, the usual basket
alone would reach about 94%. The assertions are the measured levels less a small margin.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.config import FeatureConfig
from features.pipeline import build_features
from features.prepared import epoch_days
from features.prompted import DEFAULT_WITHIN_DAYS, mark_prompted
from features.tables import read_contacts, read_orders, read_products
from repurchase.sample_shop import generate_shop, write_shop

N_CUSTOMERS = 3_000
SEED = 7
AS_OF_DATES = (dt.date(2026, 10, 31), dt.date(2026, 4, 30))


@pytest.fixture(scope="module")
def shop_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cycle_shop")
    write_shop(generate_shop(N_CUSTOMERS, seed=SEED), out)
    return out


@pytest.fixture(scope="module")
def contacts(shop_files: Path) -> pd.DataFrame:
    return read_contacts(shop_files / "contacts.csv")


@pytest.fixture(scope="module")
def tables(shop_files: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    truth = pd.read_csv(shop_files / "truth.csv", dtype={"customer_id": "string"})
    return read_orders(shop_files / "orders.csv"), read_products(shop_files / "products.csv"), truth


def last_purchase_runout(
    orders: pd.DataFrame, products: pd.DataFrame, truth: pd.DataFrame, as_of: dt.date
) -> pd.Series:
    """True run-out (days) of each customer's last purchase day up to as_of, by customer_id."""
    day = epoch_days(orders["ordered_at"])
    as_of_day = (np.datetime64(as_of, "D") - np.datetime64(0, "D")).astype(int)
    paid = orders.assign(day=day)[(orders["status"] == "paid") & (day <= as_of_day)]
    last = paid[paid["day"] == paid.groupby("customer_id")["day"].transform("max")]
    lines = (
        last.groupby(["customer_id", "sku"], as_index=False)["quantity"]
        .sum()
        .merge(products[["sku", "days_of_supply"]], on="sku")
        .merge(truth[["customer_id", "usage_rate"]], on="customer_id")
    )
    runout = lines["quantity"] * lines["days_of_supply"] / lines["usage_rate"]
    return runout.groupby(lines["customer_id"]).min().dropna()


def repeat_customers(
    tables: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    as_of: dt.date,
    config: FeatureConfig | None = None,
    contacts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Repeat customers with a true cycle: ``cycle_days``, ``frequency`` and both truths;
    with `contacts`, the purchases that answered a touch marked (``features.prompted``)."""
    orders, products, truth = tables
    if contacts is not None:
        orders = mark_prompted(orders, contacts, DEFAULT_WITHIN_DAYS)
    features = build_features(orders, as_of, products, config)
    frame = features.merge(truth, on="customer_id").merge(
        last_purchase_runout(orders, products, truth, as_of).rename("true_last_runout"),
        left_on="customer_id",
        right_index=True,
    )
    return frame[(frame["frequency"] >= 1) & frame["true_cycle_days"].notna()]


def within_10_percent(estimate: pd.Series, truth: pd.Series) -> pd.Series:
    return (estimate - truth).abs() / truth <= 0.10


def last_purchase_duration(customers: pd.DataFrame) -> pd.Series:
    """``depletion_date`` minus the last purchase day, in days."""
    return customers["days_until_depletion"] + customers["days_since_last_order"]


@pytest.mark.parametrize("as_of", AS_OF_DATES)
def test_usual_cycle_within_10_percent_of_the_true_cycle(
    tables: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    contacts: pd.DataFrame,
    as_of: dt.date,
) -> None:
    """Issue #3's rule on the shop's whole input: orders, products and its touch history."""
    customers = repeat_customers(tables, as_of, contacts=contacts)
    assert len(customers) > 800  # the shop has enough repeat customers to judge
    right = within_10_percent(customers["cycle_days"], customers["true_cycle_days"])
    several_gaps = customers["frequency"] >= 2
    assert right.mean() >= 0.80  # all repeat customers (measured 0.805 and 0.810)
    assert right[several_gaps].mean() >= 0.83  # measured 0.848 and 0.840
    assert right[~several_gaps].mean() >= 0.57  # one gap (measured 0.591 and 0.647)


@pytest.mark.parametrize("as_of", AS_OF_DATES)
def test_without_the_touch_history_reminder_answers_shorten_slow_users_cycles(
    tables: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    contacts: pd.DataFrame,
    as_of: dt.date,
) -> None:
    """Orders alone: the old rule's reminders (three days before the label run-out) make slow
    users who answer them look as fast as the label, a point or two fewer customers right."""
    customers = repeat_customers(tables, as_of)
    right = within_10_percent(customers["cycle_days"], customers["true_cycle_days"])
    several_gaps = customers["frequency"] >= 2
    assert right[several_gaps].mean() >= 0.81  # measured 0.836 and 0.824
    assert right.mean() >= 0.78  # all repeat customers (measured 0.793 and 0.792)
    with_touches = repeat_customers(tables, as_of, contacts=contacts)
    right_with = within_10_percent(with_touches["cycle_days"], with_touches["true_cycle_days"])
    assert right_with.mean() >= right.mean() + 0.01  # measured +0.012 and +0.018


@pytest.mark.parametrize("as_of", AS_OF_DATES)
def test_depletion_of_the_last_purchase_within_10_percent(
    tables: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], as_of: dt.date
) -> None:
    customers = repeat_customers(tables, as_of)
    right = within_10_percent(last_purchase_duration(customers), customers["true_last_runout"])
    several_gaps = customers["frequency"] >= 2
    assert right[several_gaps].mean() >= 0.84  # measured 0.866 and 0.857
    assert right.mean() >= 0.80  # measured 0.820 and 0.822
    assert right[~several_gaps].mean() >= 0.55


@pytest.mark.parametrize("as_of", AS_OF_DATES)
def test_the_usual_cycle_describes_the_customer_better_than_the_last_purchase(
    tables: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], as_of: dt.date
) -> None:
    """Stock-ups and add-ons on the last day move the depletion date, not the usual cycle:
    against ``true_cycle_days`` the usual basket gets ~78% right, the last purchase ~72%."""
    customers = repeat_customers(tables, as_of)
    truth = customers["true_cycle_days"]
    usual = within_10_percent(customers["cycle_days"], truth).mean()
    last = within_10_percent(last_purchase_duration(customers), truth).mean()
    assert usual >= last + 0.04


@pytest.mark.parametrize("as_of", AS_OF_DATES)
def test_own_pace_beats_the_shop_wide_pace_on_the_published_truth(
    tables: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], as_of: dt.date
) -> None:
    """Label supply x the shop's pace gets ~30% right; each customer's own pace ~78%."""
    own = repeat_customers(tables, as_of)
    shop_only = repeat_customers(tables, as_of, FeatureConfig(cycle_pace_prior_gaps=1e9))
    own_right = within_10_percent(own["cycle_days"], own["true_cycle_days"]).mean()
    shop_right = within_10_percent(shop_only["cycle_days"], shop_only["true_cycle_days"]).mean()
    assert own_right >= 0.76
    assert own_right >= shop_right + 0.40
    assert (own["cycle_source"] == "supply_x_own_pace").mean() > 0.95
