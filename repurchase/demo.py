"""The main job on the embedded defaults, end to end, as one function.

sample shop -> train (backtest + MLflow run + registered challenger) -> promote -> score
-> contact plan -> the service's database (orders, customers, touches, scores, plan), so
`make serve` answers the CRM's questions about the demo shop at once. Every step is the same
library code the individual commands and the API call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.prompted import DEFAULT_WITHIN_DAYS, mark_prompted
from features.tables import read_contacts, read_customers, read_orders, read_products
from repurchase.cli_support import write_frame
from repurchase.settings import Settings


@dataclass(frozen=True)
class DemoResult:
    shop_dir: Path
    report_path: Path
    scores_path: Path
    plan_path: Path
    tracking_uri: str
    version: str
    promotion: str
    as_of: dt.date
    scores: pd.DataFrame
    plan: pd.DataFrame
    metrics: dict[str, float]
    database_url: str


def run_demo(out_dir: Path, settings: Settings, *, customers: int, seed: int) -> DemoResult:
    """Generate a shop in `out_dir`, train and promote a model, score and plan at the last day."""
    from repurchase.sample_shop import generate_shop, write_shop
    from serving.policy import build_plan
    from training.pyfunc_model import to_model_input
    from training.registry import load_scoring_model, promote, train_and_register

    shop_dir = out_dir / "shop"
    paths = write_shop(generate_shop(customers, seed=seed), shop_dir)
    contacts = read_contacts(paths["contacts"])
    # the shop's reminders and campaigns mark the purchases that answered them
    orders = mark_prompted(read_orders(paths["orders"]), contacts, DEFAULT_WITHIN_DAYS)
    products = read_products(paths["products"])
    as_of = orders["ordered_at"].max().date()

    outcome = train_and_register(
        orders, as_of, settings, products=products, source=paths["orders"], report_dir=out_dir
    )
    _, decision = promote(settings)
    model, version = load_scoring_model(settings)
    scores = model.predict(
        to_model_input(orders), params={"as_of": as_of.isoformat(), "model_version": version}
    )
    scores_path = out_dir / "scores.csv"
    write_frame(scores, scores_path)

    customers_frame = read_customers(paths["customers"])
    plan = build_plan(
        scores,
        as_of=as_of,
        orders=orders,
        customers=customers_frame,
        contacts=contacts,
    )
    plan_path = out_dir / "plan.csv"
    write_frame(plan, plan_path)
    load_store(
        settings,
        orders=orders,
        customers=customers_frame,
        contacts=contacts,
        scores=scores,
        plan=plan,
        as_of=as_of,
    )

    report_path = outcome.report_path or out_dir / "backtest_report.html"
    return DemoResult(
        shop_dir=shop_dir,
        report_path=report_path,
        scores_path=scores_path,
        plan_path=plan_path,
        tracking_uri=settings.resolved_tracking_uri,
        version=version,
        promotion=decision.reason,
        as_of=as_of,
        scores=scores,
        plan=plan,
        metrics=outcome.metrics,
        database_url=settings.resolved_database_url,
    )


def load_store(
    settings: Settings,
    *,
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    contacts: pd.DataFrame,
    scores: pd.DataFrame,
    plan: pd.DataFrame,
    as_of: dt.date,
) -> None:
    """Put the demo shop, its scores and its plan into the service's database (migrated
    first). Orders and touches already stored are skipped; scores, customers and the plan
    are replaced, so running the demo twice leaves one copy."""
    from serving.store import make_engine, make_session_factory, migrate
    from serving.store import repository as repo
    from serving.store.repository import CUSTOMER_FIELDS

    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    now = dt.datetime.now(dt.UTC)
    fields = [c for c in CUSTOMER_FIELDS if c in customers]
    with make_session_factory(engine).begin() as session:
        repo.add_orders(session, orders, received_at=now)
        repo.add_contacts(session, contacts)
        for row in customers[["customer_id", *fields]].to_dict(orient="records"):
            values = {k: (None if pd.isna(v) else v) for k, v in row.items() if k in fields}
            repo.upsert_customer(session, str(row["customer_id"]), values, updated_at=now)
        repo.save_scores(session, scores, scored_at=now)
        repo.replace_plan(session, plan, as_of=as_of, planned_at=now)
    engine.dispose()
