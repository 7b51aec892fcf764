"""The `repurchase` console command.

Each topic lives in its own module under `repurchase/commands/` with a `register(app)`
function, so commands stay thin (parse, call one library function, format) and independent.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from repurchase.commands import (
    backtest,
    demo,
    features,
    generate,
    plan,
    serve,
    training,
)

app = typer.Typer(
    name="repurchase",
    help="Forecast when each customer buys again, who is slipping away, and whom to contact.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="REPURCHASE_CONFIG_FILE",
            help="Project config (TOML): column mapping and thresholds.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Repurchase prediction and contact planning for e-commerce brands."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = {"config": config}


for module in (generate, features, backtest, training, plan, serve, demo):
    module.register(app)


def main() -> None:
    """Console entry point."""
    app()
