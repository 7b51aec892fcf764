"""`repurchase plan` (who to contact, when, how and why) and `repurchase policy show`."""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from features.errors import InputError
from features.prompted import mark_prompted
from features.tables import read_contacts, read_customers, read_orders, read_products
from repurchase.cli_support import (
    check_output_path,
    exits_cleanly,
    parse_date,
    project_config,
)
from repurchase.commands.backtest import (
    Engine,
    EngineOption,
    FitRowsOption,
    PartitionRowsOption,
    SchedulerOption,
    ToStoreOption,
    WorkersOption,
    feature_config_of,
)
from repurchase.model_choice import AUTO, choose_model

policy_app = typer.Typer(
    name="policy",
    help="Inspect the contact policy (quiet periods, caps, hours, hold-out, capacity).",
    no_args_is_help=True,
)

PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="Contact policy TOML (see `repurchase policy show` for every key); default: built-in.",
    ),
]


def register(app: typer.Typer) -> None:
    """Add `plan` and `policy show` to the `repurchase` app."""
    app.command("plan")(plan)
    policy_app.command("show")(policy_show)
    app.add_typer(policy_app, name="policy")


@exits_cleanly
def plan(
    ctx: typer.Context,
    orders: Annotated[
        Path,
        typer.Option("--orders", help="Orders file (CSV or Parquet).", show_default=False),
    ],
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of", help="Plan from the day after this date (YYYY-MM-DD).", show_default=False
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="Plan file to write: .csv or .parquet.", show_default=False),
    ],
    customers: Annotated[
        Path | None,
        typer.Option(
            "--customers",
            help="Customers file: consent per channel, time zone, preferred channel. "
            "Without it the plan has no channel and send times are in UTC.",
        ),
    ] = None,
    contacts: Annotated[
        Path | None,
        typer.Option(
            "--contacts", help="Touch history (customer_id, contacted_at, ...) for caps/spacing."
        ),
    ] = None,
    policy: PolicyOption = None,
    scores: Annotated[
        Path | None,
        typer.Option(
            "--scores",
            help="Score file written by `repurchase score`; without it the customers are "
            "scored here with the model --model chooses.",
        ),
    ] = None,
    scores_out: Annotated[
        Path | None,
        typer.Option(
            "--scores-out",
            help="Without --scores: also write the scores computed here to this file (what "
            "`repurchase score` writes), in the same pass: the nightly job in one command.",
        ),
    ] = None,
    products: Annotated[
        Path | None,
        typer.Option(
            "--products", help="Products file (sku, days_of_supply); used only without --scores."
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Without --scores: auto (the champion if trained up to --as-of, else fit "
            "now), fit, a models:/ URI or a .joblib file.",
        ),
    ] = AUTO,
    partition_rows: PartitionRowsOption = None,
    fit_rows: FitRowsOption = 3_000_000,
    to_store: ToStoreOption = False,
    engine: EngineOption = Engine.local,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = 0,  # auto (serving.batch.workers.AUTO)
) -> None:
    """Plan whom to contact from --as-of onwards: day, send time, channel, action, offer, why."""
    from repurchase.settings import get_settings
    from serving.batch import plan_file
    from serving.batch.output import write_table
    from serving.batch.scoring import store_writer
    from serving.batch.workers import keep_freed_memory
    from serving.policy import load_policy

    day = parse_date(as_of)
    check_output_path(out)
    if scores_out is not None:
        check_output_path(scores_out)
        if scores is not None:
            raise InputError("--scores-out writes the scores computed here; drop --scores")
        if scores_out.absolute() == out.absolute():
            raise InputError("--scores-out and --out are the same file", path=out)
    effective_policy = load_policy(policy)
    config = project_config(ctx)
    customer_frame = (
        read_customers(customers, config.column_map("customers")) if customers else None
    )
    contact_frame = read_contacts(contacts, config.column_map("contacts")) if contacts else None
    product_frame = read_products(products, config.column_map("products")) if products else None
    score_source: pd.DataFrame | Path | None = scores  # a file is read by plan_file
    if scores is None and engine is Engine.dask:
        score_source = _scores_with_dask(
            ctx, orders, product_frame, day, model, scheduler, contact_frame
        )
        if scores_out is not None:  # scored in memory on Dask: written whole, atomically
            write_table(score_source, scores_out)
            store = store_writer(get_settings().resolved_database_url if to_store else None)
            if store is not None:
                store(score_source)
            scores_out = None
    keep_freed_memory()  # this process is the batch's: see serving.batch.workers
    result = plan_file(
        orders,
        day,
        out,
        policy=effective_policy,
        model=model,
        scores=score_source,
        products=product_frame,
        customers=customer_frame,
        contacts=contact_frame,
        column_map=config.column_map("orders"),
        feature_config=feature_config_of(config),
        partition_rows=partition_rows,
        fit_rows=fit_rows,
        store_url=get_settings().resolved_database_url if to_store else None,
        workers=workers,
        scores_out=scores_out,
    )
    typer.echo(_summary(result.plan, out, result.batch.customers))
    typer.echo(result.batch.summary("planned"), err=True)


def _scores_with_dask(
    ctx: typer.Context,
    orders: Path,
    products: pd.DataFrame | None,
    as_of: dt.date,
    model: str,
    scheduler: str | None,
    contacts: pd.DataFrame | None,
) -> pd.DataFrame:
    """`plan --engine dask` without --scores: score the whole orders frame on Dask first
    (its purchases marked from the touches, as the local engine does)."""
    from repurchase.settings import get_settings
    from training.labels import orders_up_to

    score_with_dask = importlib.import_module("serving.batch.dask_engine").score_with_dask
    config = project_config(ctx)
    feature_config = feature_config_of(config)
    order_frame = mark_prompted(
        read_orders(orders, config.column_map("orders")),
        contacts,
        feature_config.prompted_within_days,
    )
    history = orders_up_to(order_frame, as_of)
    chosen = choose_model(model, as_of, history, products, get_settings(), feature_config)
    typer.echo(f"no --scores given; scoring on Dask with {chosen.why}", err=True)
    scores: pd.DataFrame = score_with_dask(
        history, as_of, chosen.model, chosen.products, model_version=chosen.version,
        scheduler=scheduler,
    )  # fmt: skip
    return scores


@exits_cleanly
def policy_show(policy: PolicyOption = None) -> None:
    """Print the effective contact policy as TOML (defaults merged with --policy)."""
    from serving.policy import load_policy, policy_to_toml

    typer.echo(policy_to_toml(load_policy(policy)), nl=False)


def _summary(frame: pd.DataFrame, out: Path, n_scored: int) -> str:
    held = frame["holdout"].astype(bool)
    # only the columns counted: a copy of whole rows would copy millions of reasons
    contacted = frame.loc[~held, ["action", "channel", "contact_on"]]
    lines = [
        f"wrote {len(frame):,} plan rows for {n_scored:,} scored customers to {out}: "
        f"{len(contacted):,} to contact, {int(held.sum()):,} in the hold-out",
    ]
    if len(contacted):
        actions = contacted["action"].value_counts()
        channels = contacted["channel"].astype("string").fillna("(any)").value_counts()
        lines.append("by action:  " + ", ".join(f"{k} {v:,}" for k, v in actions.items()))
        lines.append("by channel: " + ", ".join(f"{k} {v:,}" for k, v in channels.items()))
        first = contacted["contact_on"].min()
        lines.append(
            f"first day {first}: {int((contacted['contact_on'] == first).sum()):,} contacts"
        )
    return "\n".join(lines)
