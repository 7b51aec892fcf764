"""Benchmark: model quality against the baselines on several time splits (issue #3).

    python bench/bench_quality.py --work var/bench-quality [--splits cdnow-1997-09-30 ...]

Splits: CDNOW (``--cdnow``) at as_of 1997-06-30, 1997-09-30, 1997-12-31 and 1998-03-31, and
a generated sample shop (5,000 customers, seed 11, with products; cached in ``--work``) at
2026-05-31 and 2026-08-02. Each split is one :func:`training.backtest.run_backtest`. Prints
one table: split x horizon (and churn) x {model, best baseline, Pareto/NBD} ROC AUC and Brier
score, with ``LOSS`` where the model's AUC is below the best baseline's or its Brier above
Pareto/NBD's. ``--json`` also writes every metric, per split, for comparing runs.

It takes minutes (every split trains a model), so it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

CDNOW = Path(__file__).resolve().parents[2] / "shared" / "data" / "cdnow_master.csv"
CDNOW_AS_OF = ("1997-06-30", "1997-09-30", "1997-12-31", "1998-03-31")
SHOP_AS_OF = ("2026-05-31", "2026-08-02")
SHOP_CUSTOMERS = 5000
SHOP_SEED = 11
BASELINES = ("bg_nbd", "pareto_nbd", "recency_rank", "median_interval")
QUANTITIES = ("p_buy_7d", "p_buy_14d", "p_buy_30d", "p_buy_60d", "p_buy_90d", "p_churn")


def shop_folder(work: Path) -> Path:
    """The generated sample shop (generated once, then reused)."""
    folder = work / f"shop_{SHOP_CUSTOMERS}_{SHOP_SEED}"
    if not (folder / "orders.csv").exists():
        repurchase = Path(sys.executable).parent / "repurchase"
        subprocess.run(
            [
                str(repurchase),
                "generate",
                "--customers",
                str(SHOP_CUSTOMERS),
                "--out",
                str(folder),
                "--seed",
                str(SHOP_SEED),
            ],
            check=True,
        )
    return folder


def splits(work: Path, cdnow: Path) -> dict[str, tuple[Path, Path | None, str]]:
    """name -> (orders file, products file or None, as_of)."""
    out: dict[str, tuple[Path, Path | None, str]] = {
        f"cdnow-{day}": (cdnow, None, day) for day in CDNOW_AS_OF
    }
    for day in SHOP_AS_OF:
        out[f"shop-{day}"] = (work / f"shop_{SHOP_CUSTOMERS}_{SHOP_SEED}" / "orders.csv", None, day)
    return out


def run_split(orders_path: Path, products_path: Path | None, as_of: str) -> dict[str, float]:
    """Every metric of one backtest."""
    from features.tables import read_orders, read_products
    from training.backtest import run_backtest

    orders = read_orders(orders_path)
    products = read_products(products_path) if products_path is not None else None
    return run_backtest(orders, as_of, products).metrics


def table(metrics_by_split: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One row per split and quantity: model, best baseline and Pareto/NBD AUC and Brier."""
    rows = []
    for split, metrics in metrics_by_split.items():
        for quantity in QUANTITIES:
            if f"model.{quantity}.roc_auc" not in metrics:
                continue

            def get(method: str, metric: str, m: dict = metrics, q: str = quantity) -> float:
                return float(m.get(f"{method}.{q}.{metric}", np.nan))

            aucs = {name: get(name, "roc_auc") for name in BASELINES}
            best = max(aucs, key=lambda name: -np.inf if np.isnan(aucs[name]) else aucs[name])
            model_auc, model_brier = get("model", "roc_auc"), get("model", "brier")
            pareto_auc, pareto_brier = get("pareto_nbd", "roc_auc"), get("pareto_nbd", "brier")
            losses = []
            if model_auc < aucs[best]:
                losses.append("auc")
            if model_brier > pareto_brier:
                losses.append("brier")
            rows.append(
                {
                    "split": split,
                    "quantity": quantity.removeprefix("p_"),
                    "model_auc": model_auc,
                    "best_baseline": best,
                    "best_auc": aucs[best],
                    "pareto_auc": pareto_auc,
                    "model_brier": model_brier,
                    "best_brier": get(best, "brier"),
                    "pareto_brier": pareto_brier,
                    "loses": "LOSS " + "+".join(losses) if losses else "",
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("var/bench-quality"))
    parser.add_argument("--cdnow", type=Path, default=CDNOW, help="cdnow_master.csv")
    parser.add_argument("--splits", nargs="*", help="only these split names (default: all)")
    parser.add_argument("--json", type=Path, help="write every metric per split here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    chosen = splits(args.work, args.cdnow)
    if args.splits:
        unknown = set(args.splits) - set(chosen)
        if unknown:
            parser.error(f"unknown splits {sorted(unknown)}; known: {sorted(chosen)}")
        chosen = {name: chosen[name] for name in args.splits}
    if any(name.startswith("shop-") for name in chosen):
        folder = shop_folder(args.work)
        for name in chosen:
            if name.startswith("shop-"):
                chosen[name] = (folder / "orders.csv", folder / "products.csv", chosen[name][2])
    results: dict[str, dict[str, float]] = {}
    for name, (orders_path, products_path, as_of) in chosen.items():
        started = time.perf_counter()
        results[name] = run_split(orders_path, products_path, as_of)
        print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        if args.json is not None:  # after every split: a long run interrupted keeps its results
            args.json.write_text(json.dumps(results, indent=1, sort_keys=True))
    frame = table(results)
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    losses = frame["loses"].ne("").sum()
    print(f"\nmodel loses on {losses} of {len(frame)} split x quantity rows")


if __name__ == "__main__":
    main()
