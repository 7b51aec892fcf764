"""`repurchase backtest` and `repurchase score`: judge the model, score customers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import joblib
import typer
from pydantic import ValidationError
from rich.console import Console

from features.errors import InputError
from features.tables import read_orders, read_products
from repurchase.cli_support import (
    atomic_path,
    check_output_path,
    exits_cleanly,
    parse_date,
    project_config,
    write_frame,
)

OrdersOption = Annotated[
    Path, typer.Option("--orders", help="Orders file (CSV or Parquet).", show_default=False)
]
ProductsOption = Annotated[
    Path | None,
    typer.Option("--products", help="Products file (sku, category, days_of_supply)."),
]
AsOfOption = Annotated[
    str,
    typer.Option(
        "--as-of", help="Date YYYY-MM-DD: the model sees data up to this day.", show_default=False
    ),
]


def register(app: typer.Typer) -> None:
    """Add `backtest` and `score` to the `repurchase` app."""
    app.command("backtest")(backtest)
    app.command("score")(score)


def _inputs(ctx: typer.Context, orders: Path, products: Path | None) -> tuple[Any, Any, Any]:
    """Read orders/products with the project's column map; the feature config from it."""
    from features.config import FeatureConfig

    config = project_config(ctx)
    try:
        feature_config = FeatureConfig(**config.features)
    except ValidationError as exc:
        raise InputError(f"[features] {exc.errors()[0]['msg']}") from None
    order_frame = read_orders(orders, config.column_map("orders"))
    product_frame = (
        read_products(products, config.column_map("products")) if products is not None else None
    )
    return order_frame, product_frame, feature_config


def load_model(ref: str | Path) -> Any:
    """The fitted model saved at `ref` (a joblib file written by `score --save-model`)."""
    path = Path(ref)
    if not path.is_file():
        raise InputError("model file not found", path=path)
    return joblib.load(path)


@exits_cleanly
def backtest(
    ctx: typer.Context,
    orders: OrdersOption,
    as_of: AsOfOption,
    products: ProductsOption = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the HTML backtest report here.")
    ] = None,
    metrics: Annotated[
        Path | None, typer.Option("--metrics", help="Write the flat metrics as JSON here.")
    ] = None,
) -> None:
    """Train on data up to --as-of, judge model and baselines on what happened after it."""
    from training.backtest import headline_table, run_backtest

    day = parse_date(as_of)
    order_frame, product_frame, feature_config = _inputs(ctx, orders, products)
    console = Console(stderr=True)
    with console.status("backtest") as status:
        result = run_backtest(
            order_frame,
            day,
            product_frame,
            config=feature_config,
            progress=lambda message: status.update(message),
        )
    typer.echo(f"Backtest as of {result.as_of} (outcomes up to {result.data_end})")
    typer.echo(headline_table(result).to_string(float_format=lambda v: f"{v:.4f}"))
    for note in result.notes:
        typer.echo(f"note: {note}")
    if metrics is not None:
        with atomic_path(metrics) as tmp:
            clean = {k: (None if math.isnan(v) else v) for k, v in result.metrics.items()}
            tmp.write_text(json.dumps(clean, indent=2, sort_keys=True), encoding="utf-8")
        typer.echo(f"metrics: {metrics}")
    if report is not None:
        from training.report import write_report

        write_report(result, report)
        typer.echo(f"report: {report}")


@exits_cleanly
def score(
    ctx: typer.Context,
    orders: OrdersOption,
    as_of: AsOfOption,
    out: Annotated[
        Path, typer.Option("--out", help="Output file: .csv or .parquet.", show_default=False)
    ],
    products: ProductsOption = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Fitted model to use (a joblib file); absent: train on data up to --as-of.",
        ),
    ] = None,
    save_model: Annotated[
        Path | None,
        typer.Option("--save-model", hidden=True, help="Also save the model trained here."),
    ] = None,
) -> None:
    """Score every customer known at --as-of (the SPEC score columns)."""
    from training.labels import orders_up_to
    from training.predict import score_customers
    from training.train import fit_model

    day = parse_date(as_of)
    check_output_path(out)
    order_frame, product_frame, feature_config = _inputs(ctx, orders, products)
    history = orders_up_to(order_frame, day)
    with Console(stderr=True).status("scoring"):
        if model is not None:
            fitted = load_model(model)
        else:
            fitted = fit_model(history, day, product_frame, config=feature_config)
        scores = score_customers(fitted, history, day, product_frame)
    if save_model is not None:
        with atomic_path(save_model) as tmp:
            joblib.dump(fitted, tmp)
    write_frame(scores, out)
    typer.echo(f"scored {len(scores)} customers -> {out}")
