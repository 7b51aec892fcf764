"""The main job on the embedded defaults, end to end, as one function.

sample shop -> train (backtest + MLflow run + registered challenger) -> promote -> score
-> contact plan. Every step is the same library code the individual commands call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

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


def run_demo(out_dir: Path, settings: Settings, *, customers: int, seed: int) -> DemoResult:
    """Generate a shop in `out_dir`, train and promote a model, score and plan at the last day."""
    from repurchase.sample_shop import generate_shop, write_shop
    from serving.policy import build_plan
    from training.pyfunc_model import to_model_input
    from training.registry import load_scoring_model, promote, train_and_register

    shop_dir = out_dir / "shop"
    paths = write_shop(generate_shop(customers, seed=seed), shop_dir)
    orders = read_orders(paths["orders"])
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

    plan = build_plan(
        scores,
        as_of=as_of,
        orders=orders,
        customers=read_customers(paths["customers"]),
        contacts=read_contacts(paths["contacts"]),
    )
    plan_path = out_dir / "plan.csv"
    write_frame(plan, plan_path)

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
    )
