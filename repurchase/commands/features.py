"""`repurchase features`: one row of features per customer as of a date."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from features.config import FeatureConfig
from features.errors import InputError
from features.pipeline import features_from_prepared
from features.prepared import prepare_orders
from features.tables import read_orders, read_products
from repurchase.cli_support import (
    check_output_path,
    exits_cleanly,
    parse_date,
    project_config,
    write_frame,
)
from repurchase.touch_input import ContactsOption, with_touches


def register(app: typer.Typer) -> None:
    """Add `features` to the `repurchase` app."""
    app.command("features")(features)


@exits_cleanly
def features(
    ctx: typer.Context,
    orders: Annotated[
        Path, typer.Option("--orders", help="Orders file (CSV or Parquet).", show_default=False)
    ],
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of",
            help="Snapshot date YYYY-MM-DD; data up to and including this day only.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="Output file: .csv or .parquet.", show_default=False),
    ],
    products: Annotated[
        Path | None,
        typer.Option("--products", help="Products file (sku, category, days_of_supply)."),
    ] = None,
    contacts: ContactsOption = None,
) -> None:
    """Compute one row of features per customer (RFM, cycle, windows, segments) as of a date."""
    day = parse_date(as_of)
    check_output_path(out)
    config = project_config(ctx)
    try:
        feature_config = FeatureConfig(**config.features)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"[features] {where}: {first['msg']}") from None
    product_frame = read_products(products, config.column_map("products")) if products else None
    # encoded into arrays, the orders frame is let go before the feature columns need room
    order_frame = read_orders(orders, config.column_map("orders"))
    prepared = prepare_orders(with_touches(order_frame, contacts, config, feature_config), day)
    del order_frame
    frame = features_from_prepared(prepared, product_frame, feature_config)
    del prepared
    write_frame(frame, out)
    typer.echo(f"wrote {len(frame):,} customers x {frame.shape[1]} columns to {out}")
