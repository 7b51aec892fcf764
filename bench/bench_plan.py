"""Benchmark: does the contact plan pick the right people? (issue #5)

    python bench/bench_plan.py --work var/bench-plan [--customers 20000] [--seed 42]

Two datasets, each backtested the same way with :func:`serving.policy.evaluation.evaluate_plan`:

- a generated sample shop (``--customers``, ``--seed``; with products, customers and contacts),
  as_of = 60 days before its last order day;
- CDNOW (``--cdnow``), as_of 1997-09-30, without customers or contacts files (the plan then
  says whom and when, without a channel).

For each: train on the orders up to as_of (``training.train.fit_model``), score
(``training.predict.score_customers``) and plan (``serving.policy.build_plan``) from those
orders only, then measure on the orders after as_of: the purchase rate of the plan's top
``--top-share`` contactable customers in ``(contact_on, contact_on + 30 days]``, against as
many customers drawn at random, ranked by recency, or by ``p_buy_30d``, each measured from
as_of. The plan covers 30 days and the window 30 more, so 60 days after as_of are needed.

Training the full model takes minutes on CDNOW and far longer on the generated shop, where the
BTYD features' Pareto/NBD fits are slow: ``--no-btyd`` drops those features, ``--fast`` also
trains on 4 snapshots instead of 12, for a quick look (under a minute for both datasets).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from serving.policy.evaluation import RANKINGS, PlanEvaluation, format_evaluation

CDNOW = Path(__file__).resolve().parents[2] / "shared" / "data" / "cdnow_master.csv"
CDNOW_AS_OF = dt.date(1997, 9, 30)
DAYS_AFTER = 60  # plan_days (30) + outcome window (30)


@dataclass(frozen=True)
class Dataset:
    """The tables one backtest needs; customers/contacts/products may be missing."""

    name: str
    orders: pd.DataFrame
    as_of: dt.date
    products: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    contacts: pd.DataFrame | None = None


def sample_shop(work: Path, customers: int, seed: int) -> Dataset:
    """The generated shop, written once to `work` and read back as canonical frames."""
    from features.tables import read_contacts, read_customers, read_orders, read_products
    from repurchase.sample_shop import generate_shop, write_shop

    folder = work / f"shop_{customers}_{seed}"
    if not (folder / "truth.csv").exists():
        write_shop(generate_shop(customers, seed=seed), folder)
    orders = read_orders(folder / "orders.csv")
    last_day = orders["ordered_at"].max().date()
    return Dataset(
        name=f"shop-{customers}-{seed}",
        orders=orders,
        as_of=last_day - dt.timedelta(days=DAYS_AFTER),
        products=read_products(folder / "products.csv"),
        customers=read_customers(folder / "customers.csv"),
        contacts=read_contacts(folder / "contacts.csv"),
    )


def cdnow(path: Path) -> Dataset:
    """CDNOW at 1997-09-30 (orders only)."""
    from features.tables import read_orders

    return Dataset(name="cdnow", orders=read_orders(path), as_of=CDNOW_AS_OF)


def backtest(
    data: Dataset, *, top_share: float, seed: int, btyd: bool, snapshots: int
) -> PlanEvaluation:
    """Train, score and plan on the orders up to as_of; evaluate on the orders after it."""
    from serving.policy import build_plan
    from serving.policy.evaluation import evaluate_plan
    from training.labels import orders_up_to
    from training.predict import score_customers
    from training.train import fit_model

    history = orders_up_to(data.orders, data.as_of)  # the plan never sees the outcome
    started = time.perf_counter()
    # 30-day steps when few snapshots, so the oldest still sees a 90-day label window
    step_days = 21 if snapshots >= 6 else 30
    model = fit_model(
        history,
        data.as_of,
        data.products,
        use_btyd_features=btyd,
        max_snapshots=snapshots,
        step_days=step_days,
    )
    trained = time.perf_counter()
    scores = score_customers(model, history, data.as_of, data.products)
    plan = build_plan(
        scores,
        as_of=data.as_of,
        orders=history,
        customers=data.customers,
        contacts=data.contacts,
    )
    planned = time.perf_counter()
    print(
        f"{data.name}: as_of {data.as_of}, trained in {trained - started:.0f} s, "
        f"scored + planned in {planned - trained:.0f} s, {len(plan):,} plan rows",
        flush=True,
    )
    last_order_day = data.orders["ordered_at"].max().date()
    evaluation = evaluate_plan(
        plan, scores, data.orders, data.as_of, top_share=top_share, seed=seed
    )
    if evaluation.last_window_day > last_order_day:
        print(
            f"  warning: windows reach {evaluation.last_window_day}, orders end "
            f"{last_order_day}: late windows are cut short"
        )
    return evaluation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("var/bench-plan"), help="cache folder")
    parser.add_argument("--customers", type=int, default=20_000, help="sample shop size")
    parser.add_argument("--seed", type=int, default=42, help="sample shop and random-draw seed")
    parser.add_argument("--cdnow", type=Path, default=CDNOW, help="cdnow_master.csv")
    parser.add_argument("--top-share", type=float, default=0.1, help="share of the plan compared")
    parser.add_argument("--only", choices=["shop", "cdnow"], help="run one dataset (default: both)")
    parser.add_argument(
        "--no-btyd",
        action="store_true",
        help="train without the BTYD features (their Pareto/NBD fits take long on the shop)",
    )
    parser.add_argument("--snapshots", type=int, default=12, help="training snapshots")
    parser.add_argument("--fast", action="store_true", help="= --no-btyd --snapshots 4")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    loaders = {
        "shop": lambda: sample_shop(args.work, args.customers, args.seed),
        "cdnow": lambda: cdnow(args.cdnow),
    }
    rows = []
    for name, load in loaders.items():
        if args.only and name != args.only:
            continue
        data = load()
        evaluation = backtest(
            data,
            top_share=args.top_share,
            seed=args.seed,
            btyd=not (args.no_btyd or args.fast),
            snapshots=4 if args.fast else args.snapshots,
        )
        print(format_evaluation(evaluation), end="\n\n", flush=True)
        rows.append(evaluation.rankings.assign(dataset=data.name))
    summary = pd.concat(rows).pivot(index="ranking", columns="dataset", values="purchase_rate")
    summary = summary.reindex(list(RANKINGS))
    print("purchase rate by ranking (window: 30 days):")
    print((summary * 100).round(1).to_string())


if __name__ == "__main__":
    main()
