"""``--contacts`` of the modelling commands (features, backtest, train, score): the touch
history that marks prompted purchases (:mod:`features.prompted`), so that a purchase made
in answer to a reminder does not teach the consumption cycle a customer's pace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from features.prompted import mark_prompted
from features.tables import read_contacts
from repurchase.config import ProjectConfig

ContactsOption = Annotated[
    Path | None,
    typer.Option(
        "--contacts",
        help="Touch history (customer_id, contacted_at, ...): purchases within "
        "[features] prompted_within_days after a touch answered it and do not teach the "
        "consumption cycle.",
    ),
]


def read_touches(path: Path | None, config: ProjectConfig) -> pd.DataFrame | None:
    """The ``--contacts`` file with the project's column map (None without one)."""
    return read_contacts(path, config.column_map("contacts")) if path is not None else None


def with_touches(
    orders: pd.DataFrame, path: Path | None, config: ProjectConfig, feature_config: Any
) -> pd.DataFrame:
    """`orders` marked from the ``--contacts`` file; unchanged without one."""
    if path is None:
        return orders
    days = float(feature_config.prompted_within_days)
    return mark_prompted(orders, read_touches(path, config), days)
