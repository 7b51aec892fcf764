"""`repurchase train` and `repurchase promote`: the MLflow side of the model lifecycle."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from features.tables import read_orders, read_products
from repurchase.cli_support import exits_cleanly, parse_date, project_config
from repurchase.settings import get_settings
from repurchase.touch_input import ContactsOption, with_touches

OrdersOption = Annotated[
    Path, typer.Option("--orders", help="Orders file (CSV or Parquet).", show_default=False)
]
ProductsOption = Annotated[
    Path | None, typer.Option("--products", help="Products file with days_of_supply.")
]


class Engine(StrEnum):
    """Where the model trains."""

    local = "local"
    dask = "dask"


def register(app: typer.Typer) -> None:
    """Add `train` and `promote` to the `repurchase` app."""
    app.command("train")(train)
    app.command("promote")(promote)


@exits_cleanly
def train(
    ctx: typer.Context,
    orders: OrdersOption,
    products: ProductsOption = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Train on data up to this day (default: last order day)."),
    ] = None,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="local: this process; dask: build features and train the boosters on a Dask "
            "cluster (the backtest stays local).",
        ),
    ] = Engine.local,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Dask scheduler address, e.g. tcp://host:8786 (with --engine dask; "
            "default: a local cluster of two worker processes).",
        ),
    ] = None,
    contacts: ContactsOption = None,
) -> None:
    """Backtest, train on data up to AS_OF, log the run to MLflow, register a challenger."""
    from repurchase.commands.backtest import feature_config_of
    from training.registry import train_and_register

    config = project_config(ctx)
    order_frame = with_touches(
        read_orders(orders, config.column_map("orders")),
        contacts,
        config,
        feature_config_of(config),
    )
    product_frame = read_products(products, config.column_map("products")) if products else None
    cutoff = parse_date(as_of) if as_of else order_frame["ordered_at"].max().date()
    if cutoff < order_frame["ordered_at"].min().date() + dt.timedelta(days=180):
        from features.errors import InputError

        raise InputError(
            "needs at least 180 days of orders before --as-of to train and backtest",
            path=orders,
        )
    if scheduler is not None and engine is not Engine.dask:
        from features.errors import InputError

        raise InputError("--scheduler needs --engine dask")
    fit = None
    if engine is Engine.dask:
        from functools import partial

        from training.distributed import train_with_dask

        fit = partial(train_with_dask, scheduler=scheduler)
    outcome = train_and_register(
        order_frame, cutoff, get_settings(), products=product_frame, source=orders, fit=fit
    )
    auc30 = outcome.metrics.get("model.p_buy_30d.roc_auc", float("nan"))
    typer.echo(
        f"registered {get_settings().model_name} version {outcome.version} as challenger "
        f"(run {outcome.run_id}; backtest ROC AUC p_buy_30d {auc30:.3f})"
    )


@exits_cleanly
def promote(
    version: Annotated[
        str | None, typer.Option("--version", help="Version to promote (default: challenger).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if its metrics are worse.")
    ] = False,
) -> None:
    """Move the `champion` alias to the challenger when it is at least as good."""
    from training.registry import promote as promote_version

    promoted, decision = promote_version(get_settings(), version=version, force=force)
    verdict = "promoted" if decision.promote else "kept the champion; not promoted"
    typer.echo(f"version {promoted}: {verdict} ({decision.reason})")
