"""The contact policy an operator tunes in a TOML file, and how it is read and printed.

The keys fixed by the product contract (SPEC.md) and their defaults::

    quiet_days_after_purchase = 7     # no contact within N days after a paid order
    min_days_between_contacts = 7     # counting touches in the contacts history too
    max_contacts_per_30_days = 4      # any rolling 30 days, history included
    allowed_hours = [9, 21]           # local hours [start, end) in the customer's time zone
    holdout_fraction = 0.1            # stable per customer across runs
    lead_days = 3                     # contact this many days before the predicted purchase
    plan_days = 30                    # the plan covers (as_of, as_of + plan_days]
    [daily_capacity]                  # contacts per channel per day; missing = unlimited
    wechat = 500

Everything else (hold-out salt, capacity overflow, targeting and offer thresholds, action
weights) is this product's own design; :class:`PolicyConfig` documents each key. Unknown keys
are refused, so a typo in the file never silently falls back to a default.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from features.errors import InputError

CHANNELS = ("email", "sms", "wechat")
ACTIONS = (
    "winback",
    "replenish_reminder",
    "first_repeat_nudge",
    "vip_care",
    "promo_notice",
    "purchase_reminder",
)
# Timely reminders answer best; promotions are deliberately ranked low (they cost margin).
DEFAULT_ACTION_WEIGHTS = {
    "winback": 1.0,
    "replenish_reminder": 1.3,
    "first_repeat_nudge": 1.2,
    "vip_care": 1.1,
    "promo_notice": 0.7,
    "purchase_reminder": 1.0,
}


class PolicyConfig(BaseModel):
    """Everything the planner obeys. Defaults are the SPEC defaults plus this product's rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # ---- fixed keys (SPEC.md)
    quiet_days_after_purchase: int = Field(
        default=7, ge=0, le=365, description="No contact within N days after a paid order."
    )
    min_days_between_contacts: int = Field(
        default=7, ge=0, le=365, description="Days between two touches, history included."
    )
    max_contacts_per_30_days: int = Field(
        default=4, ge=0, le=30, description="Touches in any rolling 30 days, history included."
    )
    allowed_hours: tuple[int, int] = Field(
        default=(9, 21), description="Local hours [start, end) in the customer's time zone."
    )
    holdout_fraction: float = Field(
        default=0.1, ge=0.0, lt=1.0, description="Share of customers in the control group."
    )
    lead_days: int = Field(
        default=3, ge=0, le=90, description="Contact this many days before purchase/depletion."
    )
    plan_days: int = Field(default=30, ge=1, le=366, description="Plan covers (as_of, +N].")
    daily_capacity: dict[str, int] = Field(
        default_factory=lambda: {"wechat": 500},
        description="Contacts per channel per day; a missing channel is unlimited.",
    )

    # ---- this product's design
    holdout_salt: str = Field(
        default="repurchase-holdout-v1",
        min_length=1,
        description="Salt of the hold-out hash; change it to draw a fresh control group.",
    )
    capacity_overflow: Literal["next_day", "drop"] = Field(
        default="next_day",
        description="Contacts beyond a day's capacity move to the next day or are dropped.",
    )
    channel_order: tuple[str, ...] = Field(
        default=("wechat", "email", "sms"),
        description="Fallback channel order when the preferred channel has no consent.",
    )
    high_value_threshold: float | None = Field(
        default=None,
        ge=0.0,
        description=(
            "predicted_value_365d from which a customer counts as high value; "
            "customers in an `important_*` RFM segment always do."
        ),
    )
    winback_stages: tuple[str, ...] = Field(
        default=("at_risk", "lapsed"),
        description="Lifecycle stages in which a high-value customer gets a win-back now.",
    )
    replenish_grace_days: int = Field(
        default=14,
        ge=0,
        le=365,
        description="A supply that ran out at most N days ago still gets a reminder (now).",
    )
    promo_min_days_since_contact: int = Field(
        default=30,
        ge=0,
        le=365,
        description="Promotions are rare: only if no touch in the last N days.",
    )
    contact_uplift: float = Field(
        default=0.1,
        gt=0.0,
        le=1.0,
        description="Assumed lift in purchase probability for a customer on the edge.",
    )
    min_expected_value: float = Field(
        default=0.0, ge=0.0, description="Contacts worth less than this are left out."
    )
    action_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_ACTION_WEIGHTS),
        description="Priority multiplier per action (timely reminders answer best).",
    )

    @field_validator("allowed_hours")
    @classmethod
    def _hours_in_a_day(cls, value: tuple[int, int]) -> tuple[int, int]:
        start, end = value
        if not 0 <= start < end <= 24:
            raise ValueError("must be [start, end) with 0 <= start < end <= 24")
        return value

    @field_validator("daily_capacity")
    @classmethod
    def _known_channels(cls, value: dict[str, int]) -> dict[str, int]:
        for channel, capacity in value.items():
            if channel not in CHANNELS:
                raise ValueError(f"'{channel}' is not a channel; use {', '.join(CHANNELS)}")
            if capacity < 0:
                raise ValueError(f"capacity of '{channel}' must be >= 0")
        return value

    @field_validator("channel_order")
    @classmethod
    def _order_of_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in CHANNELS]
        if unknown or len(set(value)) != len(value):
            raise ValueError(f"must list distinct channels among {', '.join(CHANNELS)}")
        return value

    @field_validator("action_weights")
    @classmethod
    def _known_actions(cls, value: dict[str, float]) -> dict[str, float]:
        for action, weight in value.items():
            if action not in ACTIONS:
                raise ValueError(f"'{action}' is not an action; use {', '.join(ACTIONS)}")
            if not (math.isfinite(weight) and weight >= 0):
                raise ValueError(f"weight of '{action}' must be a finite number >= 0")
        # A file may set a few weights; the others keep their defaults.
        return {**DEFAULT_ACTION_WEIGHTS, **value}


def load_policy(path: Path | str | None) -> PolicyConfig:
    """Read a policy TOML file; ``None`` gives the defaults. A bad file raises InputError."""
    if path is None:
        return PolicyConfig()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("policy file not found", path=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, expected a policy TOML file", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"is not valid TOML ({exc})", path=path) from None
    return policy_from_mapping(data, path=path)


def policy_from_mapping(data: dict[str, Any], *, path: Path | str | None = None) -> PolicyConfig:
    """Validate an already-parsed policy mapping (e.g. from an API body) into a PolicyConfig."""
    try:
        return PolicyConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "policy"
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            known = ", ".join(PolicyConfig.model_fields)
            message = f"unknown key (known keys: {known})"
        raise InputError(f"policy key '{where}': {message}", path=path) from None


def policy_to_toml(policy: PolicyConfig) -> str:
    """The effective policy as TOML text that :func:`load_policy` reads back unchanged."""
    lines = ["# effective contact policy (repurchase policy show)"]
    tables: list[tuple[str, dict[str, Any]]] = []
    for name, field in PolicyConfig.model_fields.items():
        value = getattr(policy, name)
        if isinstance(value, dict):
            tables.append((name, value))
            continue
        if value is None:
            lines.append(f"# {name} is not set: {field.description}")
            continue
        lines.append(f"{name} = {_toml_value(value)}  # {field.description}")
    for name, table in tables:
        lines.append("")
        lines.append(f"[{name}]  # {PolicyConfig.model_fields[name].description}")
        lines.extend(f"{key} = {_toml_value(item)}" for key, item in table.items())
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")  # pragma: no cover
