"""`repurchase demo`: the main job on embedded defaults, with a readable summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from repurchase.cli_support import exits_cleanly
from repurchase.settings import get_settings


def register(app: typer.Typer) -> None:
    """Add `demo` to the `repurchase` app."""
    app.command("demo")(demo)


@exits_cleanly
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's files.")] = Path(
        "var/demo"
    ),
    customers: Annotated[
        int, typer.Option("--customers", min=200, help="Size of the generated sample shop.")
    ] = 3_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample shop.")] = 42,
) -> None:
    """Generate a sample shop, train and promote a model in MLflow, score and plan."""
    from repurchase.demo import run_demo

    console = Console()
    with console.status("running the demo: shop -> train -> promote -> score -> plan"):
        result = run_demo(out, get_settings(), customers=customers, seed=seed)

    console.print(f"[bold]repurchase demo[/bold] as of {result.as_of}")
    console.print(f"  sample shop      {result.shop_dir}/")
    console.print(f"  backtest report  {result.report_path}")
    console.print(f"  scores           {result.scores_path}")
    console.print(f"  contact plan     {result.plan_path}")
    console.print(f"  MLflow store     {result.tracking_uri}  (make mlflow-ui)")
    console.print(f"  model            version {result.version}: {result.promotion}")

    headline = Table(title="Backtest (held-out 90 days): ROC AUC of p_buy_30d / p_buy_90d")
    headline.add_column("model")
    headline.add_column("30 days", justify="right")
    headline.add_column("90 days", justify="right")
    for name in ("model", "pareto_nbd", "bg_nbd", "recency_rank", "median_interval"):
        auc30 = result.metrics.get(f"{name}.p_buy_30d.roc_auc")
        auc90 = result.metrics.get(f"{name}.p_buy_90d.roc_auc")
        if auc30 is not None and auc90 is not None:
            headline.add_row(name, f"{auc30:.3f}", f"{auc90:.3f}")
    console.print(headline)

    segments = result.scores["rfm_segment"].value_counts().sort_index()
    seg_table = Table(title="Customers per RFM segment")
    seg_table.add_column("segment")
    seg_table.add_column("customers", justify="right")
    for segment, count in segments.items():
        seg_table.add_row(str(segment), f"{count:,}")
    console.print(seg_table)

    plan = result.plan
    contacted = plan.loc[~plan["holdout"].astype(bool)]
    first_day = contacted["contact_on"].min()
    today = contacted.loc[contacted["contact_on"] == first_day].head(10)
    plan_table = Table(
        title=f"Top of the plan for {first_day} ({len(contacted):,} contacts planned)"
    )
    for column in ("customer_id", "send_at", "channel", "action", "offer", "priority", "reasons"):
        plan_table.add_column(column, overflow="fold")
    for row in today.itertuples(index=False):
        plan_table.add_row(
            str(row.customer_id),
            str(row.send_at),
            str(row.channel),
            str(row.action),
            str(row.offer),
            f"{float(row.priority):.2f}",
            str(row.reasons)[:80],
        )
    console.print(plan_table)
    console.print(f"  service database {result.database_url}")
    console.print("  start the HTTP API with `make serve`, then ask it for that day's plan:")
    console.print(
        f"    curl -s 'http://127.0.0.1:8000/v1/contact-plan?date={first_day}&limit=5'",
        soft_wrap=True,
        highlight=False,
    )
