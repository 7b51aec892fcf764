"""Helpers of the policy tests: synthetic and hand-made tables, and the plan checker.

A plain module (not conftest) so test modules can import it; conftest puts this folder on
`sys.path` because pytest runs with `--import-mode=importlib`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from serving.policy import PolicyConfig, find_violations

AS_OF = dt.date(2026, 3, 31)
ZONES = [
    "Asia/Shanghai",
    "Europe/Berlin",
    "America/New_York",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "UTC",
]
SEGMENTS = [
    "important_value",
    "important_develop",
    "important_retain",
    "important_winback",
    "general_value",
    "general_develop",
    "general_retain",
    "general_winback",
]
STAGES = ["new", "active", "at_risk", "lapsed", "churned"]


def assert_plan_obeys_policy(
    plan: pd.DataFrame,
    orders: pd.DataFrame,
    customers: pd.DataFrame | None,
    contacts: pd.DataFrame | None,
    policy: PolicyConfig,
    *,
    as_of: dt.date = AS_OF,
) -> None:
    """Fail with the broken rules when `plan` breaks any rule of `policy`."""
    violations = find_violations(
        plan, as_of=as_of, orders=orders, customers=customers, contacts=contacts, policy=policy
    )
    assert violations.empty, violations.groupby("rule").head(3).to_string()


def synthetic_shop(
    n_customers: int, seed: int = 7, as_of: dt.date = AS_OF
) -> dict[str, pd.DataFrame]:
    """Scores, orders, customers and contacts of a plausible shop, drawn with numpy."""
    rng = np.random.default_rng(seed)
    ids = pd.Series([f"C{i:06d}" for i in range(n_customers)], dtype="string")
    start = pd.Timestamp(as_of, tz="UTC")
    # Orders: 1-6 per customer over the last year, the last one sometimes within the quiet period.
    per_customer = rng.integers(1, 7, n_customers)
    owner = np.repeat(np.arange(n_customers), per_customer)
    age_days = rng.exponential(60.0, owner.size).clip(0, 365)
    ordered_at = start + pd.Timedelta(hours=23) - pd.to_timedelta(age_days * 86400, unit="s")
    orders = pd.DataFrame(
        {
            "customer_id": ids.to_numpy()[owner],
            "ordered_at": ordered_at,
            "amount": rng.gamma(2.0, 30.0, owner.size).round(2),
            "order_id": [f"O{i}" for i in range(owner.size)],
            "sku": pd.Series(pd.NA, index=range(owner.size), dtype="string"),
            "quantity": 1.0,
            "discount": 0.0,
            "channel": pd.Series(pd.NA, index=range(owner.size), dtype="string"),
            "status": rng.choice(["paid", "paid", "paid", "refunded"], owner.size),
        }
    )
    # Some orders after as_of: the planner must not see them.
    future = orders.sample(frac=0.05, random_state=seed).assign(
        ordered_at=start + pd.Timedelta(days=3), status="paid"
    )
    orders = pd.concat([orders, future], ignore_index=True)

    p90 = rng.beta(2, 2, n_customers)
    p30 = p90 * rng.uniform(0.3, 0.8, n_customers)
    next_days = rng.integers(1, 80, n_customers)
    next_purchase = pd.Series(start.tz_localize(None) + pd.to_timedelta(next_days, unit="D"))
    next_purchase = next_purchase.where(p90 >= 0.5)
    depletion = pd.Series(
        start.tz_localize(None) + pd.to_timedelta(rng.integers(-30, 60, n_customers), unit="D")
    )
    depletion = depletion.where(rng.random(n_customers) < 0.4)
    scores = pd.DataFrame(
        {
            "customer_id": ids,
            "as_of": as_of,
            "p_buy_7d": p30 * 0.3,
            "p_buy_14d": p30 * 0.6,
            "p_buy_30d": p30,
            "p_buy_60d": (p30 + p90) / 2,
            "p_buy_90d": p90,
            "next_purchase_date": next_purchase.dt.date,
            "next_purchase_low": next_purchase.dt.date,
            "next_purchase_high": next_purchase.dt.date,
            "p_churn": (1 - p90) * 0.8,
            "predicted_value_365d": rng.gamma(2.0, 80.0, n_customers).round(2),
            "rfm_segment": rng.choice(SEGMENTS, n_customers),
            "lifecycle_stage": rng.choice(STAGES, n_customers, p=[0.2, 0.4, 0.2, 0.1, 0.1]),
            "price_sensitivity": rng.choice(["low", "medium", "high"], n_customers),
            "depletion_date": depletion.dt.date,
            "reasons": "last order 20 days ago",
            "model_version": "test",
        }
    )
    consent = rng.random((n_customers, 3)) < [0.6, 0.4, 0.5]
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "timezone": rng.choice(ZONES, n_customers),
            "consent_email": consent[:, 0],
            "consent_sms": consent[:, 1],
            "consent_wechat": consent[:, 2],
            "preferred_channel": pd.Series(
                rng.choice(["email", "sms", "wechat", ""], n_customers)
            ).replace("", pd.NA),
        }
    )
    n_touch = 3 * n_customers
    touched = rng.integers(0, n_customers, n_touch)
    contacts = pd.DataFrame(
        {
            "customer_id": ids.to_numpy()[touched],
            "contacted_at": start
            + pd.Timedelta(hours=20)
            - pd.to_timedelta(rng.exponential(20.0, n_touch) * 86400, unit="s"),
            "channel": rng.choice(["email", "sms", "wechat"], n_touch),
            "campaign": "spring",
        }
    )
    return {"scores": scores, "orders": orders, "customers": customers, "contacts": contacts}


# --------------------------------------------------------------------------- hand-made tables

BASE_SCORE = {
    "customer_id": "A",
    "as_of": AS_OF,
    "p_buy_7d": 0.2,
    "p_buy_14d": 0.3,
    "p_buy_30d": 0.5,
    "p_buy_60d": 0.6,
    "p_buy_90d": 0.7,
    "next_purchase_date": "2026-04-10",
    "next_purchase_low": "2026-04-05",
    "next_purchase_high": "2026-04-25",
    "p_churn": 0.2,
    "predicted_value_365d": 100.0,
    "rfm_segment": "general_value",
    "lifecycle_stage": "active",
    "price_sensitivity": "medium",
    "depletion_date": None,
    "reasons": "",
    "model_version": "test",
}


def scores_of(*rows: dict[str, object]) -> pd.DataFrame:
    """A score frame: each row is BASE_SCORE with the given changes."""
    return pd.DataFrame([{**BASE_SCORE, **row} for row in rows])


def orders_of(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """Canonical orders from (customer_id, ordered_at ISO, status) triples."""
    frame = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "status"])
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("string"),
            "ordered_at": pd.to_datetime(frame["ordered_at"], utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "amount": 10.0,
            "order_id": pd.Series([f"O{i}" for i in range(len(frame))], dtype="string"),
            "sku": pd.Series(pd.NA, index=frame.index, dtype="string"),
            "quantity": 1.0,
            "discount": 0.0,
            "channel": pd.Series(pd.NA, index=frame.index, dtype="string"),
            "status": frame["status"].astype("string"),
        }
    )


NO_ORDERS = orders_of(("nobody", "2025-01-01", "paid"))


def contacts_of(*rows: tuple[str, str]) -> pd.DataFrame:
    """A touch history from (customer_id, contacted_at ISO) pairs."""
    frame = pd.DataFrame(rows, columns=["customer_id", "contacted_at"])
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("string"),
            "contacted_at": pd.to_datetime(frame["contacted_at"], utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "channel": "email",
            "campaign": "test",
        }
    )


def customers_of(*rows: dict[str, object]) -> pd.DataFrame:
    """A customers table; each row gives customer_id and any of the optional columns."""
    base = {
        "timezone": "UTC",
        "consent_email": False,
        "consent_sms": False,
        "consent_wechat": False,
        "preferred_channel": None,
    }
    return pd.DataFrame([{**base, **row} for row in rows])
