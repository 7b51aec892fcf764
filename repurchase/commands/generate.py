"""`repurchase generate`: write the realistic sample shop (with its hidden truth) to a folder."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer

from repurchase.cli_support import exits_cleanly, parse_date


def register(app: typer.Typer) -> None:
    """Add `generate` to the `repurchase` app."""
    app.command("generate")(generate)


@exits_cleanly
def generate(
    customers: Annotated[
        int, typer.Option("--customers", min=1, help="Number of customers to simulate (1 or more).")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for orders.csv, products.csv, customers.csv, contacts.csv, truth.csv.",
        ),
    ],
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed; the same seed gives identical files.")
    ] = 42,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First day, YYYY-MM-DD (default: two years before --end)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Last day, YYYY-MM-DD (default: 2026-10-31).")
    ] = None,
) -> None:
    """Write a realistic synthetic shop and each customer's true generating parameters."""
    from repurchase.sample_shop import generate_shop, write_shop
    from repurchase.sample_shop.shop import DEFAULT_END

    last = parse_date(end, "--end") if end else DEFAULT_END
    first = parse_date(start, "--start") if start else last - dt.timedelta(days=2 * 365 - 1)
    began = time.perf_counter()
    typer.echo(f"simulating {customers:,} customers from {first} to {last} ...", err=True)
    shop = generate_shop(customers, seed=seed, start=first, end=last)
    typer.echo("writing files ...", err=True)
    paths = write_shop(shop, out)
    for name, path in paths.items():
        typer.echo(f"{path}  {len(getattr(shop, name)):,} rows")
    typer.echo(f"done in {time.perf_counter() - began:.1f} s", err=True)
