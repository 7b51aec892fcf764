"""`repurchase backtest` and `repurchase score`: judge the model, score customers."""

from __future__ import annotations

import json
import math
from enum import StrEnum
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
from repurchase.model_choice import AUTO, choose_model
from repurchase.touch_input import ContactsOption, read_touches, with_touches

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


def _inputs(
    ctx: typer.Context, orders: Path, products: Path | None, contacts: Path | None
) -> tuple[Any, Any, Any]:
    """Read orders (marked from the contacts) and products with the project's column map;
    the feature config from it."""
    config = project_config(ctx)
    feature_config = feature_config_of(config)
    order_frame = with_touches(
        read_orders(orders, config.column_map("orders")), contacts, config, feature_config
    )
    product_frame = (
        read_products(products, config.column_map("products")) if products is not None else None
    )
    return order_frame, product_frame, feature_config


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
    contacts: ContactsOption = None,
) -> None:
    """Train on data up to --as-of, judge model and baselines on what happened after it."""
    from training.backtest import headline_table, run_backtest

    day = parse_date(as_of)
    order_frame, product_frame, feature_config = _inputs(ctx, orders, products, contacts)
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


ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        help="auto: the registry's champion if it was trained up to --as-of, else fit now; "
        "fit: fit on the orders up to --as-of; a models:/ URI; or a .joblib file.",
    ),
]


PartitionRowsOption = Annotated[
    int | None,
    typer.Option(
        "--partition-rows",
        min=1,
        help="Order rows per partition (all orders of a customer in one): peak memory grows "
        "with this and --workers, not with the file. Default: 1,000,000 divided by --workers.",
        show_default=False,
    ),
]
WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers",
        min=0,
        help="With --engine local: score this many partitions at a time in worker processes. "
        "0 (auto): one per core for files of 2 million order rows or more, else 1. Same "
        "output whatever the number.",
    ),
]
FitRowsOption = Annotated[
    int,
    typer.Option(
        "--fit-rows",
        min=1,
        help="A model fitted now learns from at most about this many order rows (a hashed "
        "sample of whole customers beyond it).",
    ),
]
ToStoreOption = Annotated[
    bool,
    typer.Option(
        "--to-store",
        help="Also upsert the result into the service database (REPURCHASE_DATABASE_URL), "
        "one transaction per partition.",
    ),
]


class Engine(StrEnum):
    """Where batch scoring runs."""

    local = "local"
    dask = "dask"


EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="local: partitions one after another in this process; dask: on a Dask cluster.",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler", help="With --engine dask: the scheduler address (default: a local cluster)."
    ),
]


@exits_cleanly
def score(
    ctx: typer.Context,
    orders: OrdersOption,
    as_of: AsOfOption,
    out: Annotated[
        Path, typer.Option("--out", help="Output file: .csv or .parquet.", show_default=False)
    ],
    products: ProductsOption = None,
    model: ModelOption = AUTO,
    partition_rows: PartitionRowsOption = None,
    fit_rows: FitRowsOption = 3_000_000,
    to_store: ToStoreOption = False,
    engine: EngineOption = Engine.local,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = 0,  # auto (serving.batch.workers.AUTO)
    save_model: Annotated[
        Path | None,
        typer.Option("--save-model", hidden=True, help="Also save the model used here."),
    ] = None,
    contacts: ContactsOption = None,
) -> None:
    """Score every customer known at --as-of (the SPEC score columns), partition by partition."""
    from repurchase.settings import get_settings
    from serving.batch import score_file
    from serving.batch.workers import keep_freed_memory

    day = parse_date(as_of)
    check_output_path(out)
    if engine is Engine.dask:
        _score_with_dask(ctx, orders, day, out, products, model, scheduler, save_model, contacts)
        return
    config = project_config(ctx)
    product_frame = (
        read_products(products, config.column_map("products")) if products is not None else None
    )
    touches = read_touches(contacts, config)
    keep_freed_memory()  # this process is the batch's: see serving.batch.workers
    result = score_file(
        orders,
        day,
        out,
        model=model,
        products=product_frame,
        column_map=config.column_map("orders"),
        feature_config=feature_config_of(config),
        partition_rows=partition_rows,
        fit_rows=fit_rows,
        store_url=get_settings().resolved_database_url if to_store else None,
        save_model=(lambda fitted: _save_model(fitted, save_model)) if save_model else None,
        workers=workers,
        contacts=touches,
    )
    typer.echo(result.summary())


def feature_config_of(config: Any) -> Any:
    """The project config's ``[features]`` table as a FeatureConfig (InputError if bad)."""
    from features.config import FeatureConfig

    try:
        return FeatureConfig(**config.features)
    except ValidationError as exc:
        raise InputError(f"[features] {exc.errors()[0]['msg']}") from None


def _save_model(model: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        joblib.dump(model, tmp)


def _score_with_dask(
    ctx: typer.Context,
    orders: Path,
    day: Any,
    out: Path,
    products: Path | None,
    model: str,
    scheduler: str | None,
    save_model: Path | None,
    contacts: Path | None,
) -> None:
    """`score --engine dask`: the whole orders frame, scored on a Dask cluster."""
    import importlib

    from repurchase.settings import get_settings
    from training.labels import orders_up_to

    score_with_dask = importlib.import_module("serving.batch.dask_engine").score_with_dask
    order_frame, product_frame, feature_config = _inputs(ctx, orders, products, contacts)
    history = orders_up_to(order_frame, day)
    console = Console(stderr=True)
    with console.status("loading or fitting the model"):
        chosen = choose_model(model, day, history, product_frame, get_settings(), feature_config)
    console.print(f"model: {chosen.why}")
    scores = score_with_dask(
        history, day, chosen.model, chosen.products, model_version=chosen.version,
        scheduler=scheduler,
    )  # fmt: skip
    if save_model is not None:
        _save_model(chosen.model, save_model)
    write_frame(scores, out)
    typer.echo(f"scored {len(scores)} customers -> {out}")
