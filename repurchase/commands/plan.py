"""`repurchase plan` (who to contact, when, how and why) and `repurchase policy show`."""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from features.tables import read_contacts, read_customers, read_orders, read_products
from repurchase.cli_support import (
    check_output_path,
    exits_cleanly,
    parse_date,
    project_config,
    write_frame,
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


def scores_for_plan(
    orders: pd.DataFrame,
    products: pd.DataFrame | None,
    as_of: dt.date,
    model: str = AUTO,
) -> pd.DataFrame:
    """Scores at `as_of` when no score file is given, from the model `--model` chooses.

    Imported lazily: the model stack is heavy and `plan --scores` does not need it.
    """
    from repurchase.settings import get_settings
    from training.labels import orders_up_to

    score_customers = importlib.import_module("training.predict").score_customers
    history = orders_up_to(orders, as_of)
    chosen = choose_model(model, as_of, history, products, get_settings())
    typer.echo(f"no --scores given; scoring with {chosen.why}", err=True)
    scores: pd.DataFrame = score_customers(
        chosen.model, history, as_of, chosen.products, model_version=chosen.version
    )
    return scores


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
) -> None:
    """Plan whom to contact from --as-of onwards: day, send time, channel, action, offer, why."""
    from serving.policy import build_plan, load_policy
    from serving.policy.scores import read_scores

    day = parse_date(as_of)
    check_output_path(out)
    effective_policy = load_policy(policy)
    config = project_config(ctx)
    order_frame = read_orders(orders, config.column_map("orders"))
    customer_frame = (
        read_customers(customers, config.column_map("customers")) if customers else None
    )
    contact_frame = read_contacts(contacts, config.column_map("contacts")) if contacts else None
    if scores is not None:
        score_frame = read_scores(scores)
    else:
        product_frame = read_products(products, config.column_map("products")) if products else None
        score_frame = scores_for_plan(order_frame, product_frame, day, model)
    frame = build_plan(
        score_frame,
        as_of=day,
        orders=order_frame,
        customers=customer_frame,
        contacts=contact_frame,
        policy=effective_policy,
    )
    write_frame(frame, out)
    typer.echo(_summary(frame, out, len(score_frame)))


@exits_cleanly
def policy_show(policy: PolicyOption = None) -> None:
    """Print the effective contact policy as TOML (defaults merged with --policy)."""
    from serving.policy import load_policy, policy_to_toml

    typer.echo(policy_to_toml(load_policy(policy)), nl=False)


def _summary(frame: pd.DataFrame, out: Path, n_scored: int) -> str:
    held = frame["holdout"].astype(bool)
    contacted = frame.loc[~held]
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
