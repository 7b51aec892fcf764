"""The project config file (TOML): column mapping and tunable thresholds.

Example::

    [columns.orders]          # your column name = canonical name
    "Customer ID" = "customer_id"
    "Order Date" = "ordered_at"

    [features]                # thresholds of features/config.py FeatureConfig
    lifecycle_active_days = 90
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from features.errors import InputError

TABLES = ("orders", "products", "customers", "contacts")


class ProjectConfig(BaseModel):
    """What a brand may change without touching code."""

    columns: dict[str, dict[str, str]] = Field(default_factory=dict)
    features: dict[str, Any] = Field(default_factory=dict)

    def column_map(self, table: str) -> dict[str, str]:
        return self.columns.get(table, {})


def load_project_config(path: Path | None) -> ProjectConfig:
    """Read the project config; no path means the built-in defaults."""
    if path is None:
        return ProjectConfig()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("config file not found", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"is not valid TOML ({exc})", path=path) from None
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{where}: {first['msg']}", path=path) from None
    unknown = set(config.columns) - set(TABLES)
    if unknown:
        raise InputError(
            f"[columns.{sorted(unknown)[0]}] names no table; use one of {', '.join(TABLES)}",
            path=path,
        )
    return config
