"""Benchmark: how much of what the history can tell does the model get? (issue #3)

    python bench/bench_ceiling.py --orders F [--products F] --as-of D [D ...] [--json F]

For each as_of: one :func:`training.backtest.run_backtest` (the product's model and
Pareto/NBD, judged on what happened after as_of), then a *ceiling*: LightGBM trained and
cross-validated on those very outcomes (stratified k-fold over the customers at as_of, a
few seeds; a fifth of each training fold held back to stop adding trees when they stop
helping). The ceiling learns from the very outcomes it is judged on, but only from the
customers of one period (four fifths of them per fold), where the model learns from many
earlier snapshots; at short horizons, with few buyers, the model can rank better. Where the
ceiling stands well above the model, the history holds something the model misses; where
the two are level, more from the same history is unlikely. Three ways:

- ``model``: the model's own feature columns at as_of (BTYD outputs included);
- ``model+history``: those plus per-customer columns the model does not read (units and
  spend per unit, the first order's amount, units, weekday and day of the year, the first
  gap, purchase days in each of the twelve 30-day windows before as_of), to see whether the
  order history holds more than the features extract;
- ``from_forecast``: the same columns, boosting from the model's own forecast (its logit as
  LightGBM's starting score), so the trees only have to find what the model missed on
  these outcomes; a ceiling no higher than the model says the history holds nothing more
  for this learner to find.

Prints split x horizon: the model's, Pareto/NBD's and the three ceilings' ROC AUC (mean
over seeds, and the seeds' spread). It takes minutes per split; a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from models.calibration import logit

HORIZONS = (7, 14, 30, 60, 90)
HISTORY_WINDOWS = 12  # 30-day windows of purchase days counted back from as_of
# small trees, slow learning, row and column sampling: a ceiling should not overfit 20k rows
CEILING_PARAMS = {
    "n_estimators": 400,
    "learning_rate": 0.015,
    "num_leaves": 7,
    "min_child_samples": 200,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.7,
    "verbose": -1,
    "n_jobs": 2,
}
EARLY_STOPPING_ROUNDS = 50  # up to 400 trees, as many as the held-back fifth still gains from


def history_columns(
    orders: pd.DataFrame, as_of: pd.Timestamp, customers: pd.Series
) -> pd.DataFrame:
    """Per customer (in the order of `customers`): order-history columns the model lacks."""
    from features.tables import paid_orders
    from training.labels import orders_up_to

    paid = paid_orders(orders_up_to(orders, as_of))
    day = paid["ordered_at"].dt.floor("D")
    quantity = paid["quantity"].fillna(1.0)
    lines = pd.DataFrame(
        {
            "customer_id": paid["customer_id"],
            "day": day,
            "amount": paid["amount"],
            "units": quantity,
        }
    )
    days = lines.groupby(["customer_id", "day"], as_index=False)[["amount", "units"]].sum()
    by_customer = days.groupby("customer_id")
    first = by_customer.nth(0).set_index("customer_id")
    second = by_customer.nth(1).set_index("customer_id")
    units = by_customer["units"].sum()
    out = pd.DataFrame(
        {
            "units_total": units,
            "amount_per_unit": by_customer["amount"].sum() / units.where(units > 0),
            "first_amount": first["amount"],
            "first_units": first["units"],
            "first_weekday": first["day"].dt.day_of_week,
            "first_day_of_year": first["day"].dt.day_of_year,
            "first_gap_days": (second["day"] - first["day"]).dt.days,
        }
    )
    window = (as_of - days["day"]).dt.days // 30
    counts = (
        days.assign(window=window)[window < HISTORY_WINDOWS]
        .pivot_table(index="customer_id", columns="window", values="day", aggfunc="size")
        .reindex(columns=range(HISTORY_WINDOWS))
        .fillna(0.0)
    )
    counts.columns = [f"purchase_days_{30 * w}_{30 * (w + 1)}d_ago" for w in counts.columns]
    return out.join(counts).reindex(customers.to_numpy()).reset_index(drop=True)


def cross_validated_auc(
    X: pd.DataFrame, y: np.ndarray, seeds: int, folds: int, start: np.ndarray | None = None
) -> list[float]:
    """ROC AUC of out-of-fold LightGBM predictions, once per seed.

    `start` (optional): a logit per row that boosting starts from (LightGBM's
    ``init_score``), so the trees learn only corrections to it.
    """
    aucs = []
    for seed in range(seeds):
        predicted = np.zeros(len(y))
        split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y)
        for train, test in split:
            # a fifth of the training fold decides when to stop adding trees
            fit, stop = train_test_split(train, test_size=0.2, stratify=y[train], random_state=seed)
            booster = lgb.LGBMClassifier(**CEILING_PARAMS, random_state=seed)
            booster.fit(
                X.iloc[fit],
                y[fit],
                init_score=None if start is None else start[fit],
                eval_X=(X.iloc[stop],),
                eval_y=(y[stop],),
                eval_init_score=None if start is None else [start[stop]],
                callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
            )
            predicted[test] = booster.predict(X.iloc[test], raw_score=True)
            if start is not None:
                predicted[test] += start[test]
        aucs.append(float(roc_auc_score(y, predicted)))
    return aucs


def run_split(
    orders: pd.DataFrame, products: pd.DataFrame | None, as_of: str, seeds: int, folds: int
) -> list[dict[str, object]]:
    """One row per horizon: the model's, Pareto/NBD's and the ceilings' AUC."""
    from training.backtest import run_backtest
    from training.labels import as_of_day

    result = run_backtest(orders, as_of, products)
    assert result.trained is not None  # run_backtest always trains
    model_columns = result.trained.model.feature_columns_
    customers = result.customers.reset_index(drop=True)
    own = customers.reindex(columns=model_columns).astype(float)
    day = as_of_day(result.as_of)
    history = history_columns(orders, day, customers["customer_id"])
    richer = pd.concat([own, history.add_prefix("history_")], axis=1)
    outcomes = result.outcomes.reset_index(drop=True)
    rows = []
    for horizon in HORIZONS:
        quantity = f"p_buy_{horizon}d"
        y = outcomes[f"label_bought_{horizon}d"].to_numpy(dtype=float)
        if np.isnan(y).any() or len(np.unique(y)) < 2:
            continue
        y = y.astype(int)
        row: dict[str, object] = {"as_of": as_of, "horizon": f"{horizon}d"}
        for method in ("model", "pareto_nbd"):
            row[method] = result.metrics.get(f"{method}.{quantity}.roc_auc", np.nan)
        forecast = result.predictions["model"][quantity].reset_index(drop=True)
        # the forecast must line up with the outcomes: its AUC is the backtest's
        assert abs(roc_auc_score(y, forecast) - float(row["model"])) < 1e-9
        start = logit(forecast.to_numpy(dtype=float))
        column_sets = {
            "model": (own, None),
            "model+history": (richer, None),
            "from_forecast": (richer, start),
        }
        for key, (X, init) in column_sets.items():
            name = f"ceiling_{key}"
            aucs = cross_validated_auc(X, y, seeds, folds, init)
            row[name] = float(np.mean(aucs))
            row[f"{name}_spread"] = float(np.max(aucs) - np.min(aucs))
        rows.append(row)
        print(f"{as_of} {horizon}d done", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=Path, required=True)
    parser.add_argument("--products", type=Path)
    parser.add_argument("--as-of", nargs="+", required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the table's rows here")
    args = parser.parse_args()
    from features.tables import read_orders, read_products

    orders = read_orders(args.orders)
    products = read_products(args.products) if args.products is not None else None
    rows: list[dict[str, object]] = []
    for as_of in args.as_of:
        started = time.perf_counter()
        rows.extend(run_split(orders, products, as_of, args.seeds, args.folds))
        print(f"{as_of}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        if args.json is not None:  # after every split: an interrupted run keeps its results
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(rows, indent=1))
    with pd.option_context("display.width", 200):
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
