"""Request and response bodies. Types climb a small ladder per topic:
``OrderIn -> OrdersIn -> IngestResult``, ``ContactIn -> ContactsIn``,
``CustomerIn -> CustomerPublic``, ``ScorePublic``, ``PlanItemPublic -> ContactPlanPublic``.

Validation happens here, once, at the edge: a malformed body is answered 422 naming the field
before any work is done, so nothing downstream can fail with a 500 on bad input.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

MAX_BATCH = 5000
MAX_HISTORY = 5000

Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$"
    ),
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=64, pattern=r"^[^\x00-\x1f]*$")
]
Channel = Literal["email", "sms", "wechat"]
Money = Annotated[float, Field(allow_inf_nan=False, ge=-1e12, le=1e12)]
# Output only: not range-checked here, so a model's 1.0000000002 cannot turn into a 500.
Probability = Annotated[float | None, Field(description="Probability in [0, 1].")]
TagValue = (
    Annotated[str, StringConstraints(max_length=256, pattern=r"^[^\x00]*$")]
    | bool
    | int
    | float
    | None
)

# pandas stores nanosecond timestamps, which end in 2262; earlier than 1900 is a typo. The
# bound is on the year as written (before any UTC offset), so the OpenAPI `pattern` below
# states exactly what is accepted and a generated client never sends a refused date.
FIRST_YEAR, LAST_YEAR = 1900, 2199
# Whole-value patterns (not just the year prefix): a generator can build matching values
# directly instead of drawing any date and throwing away those out of range.
_DAY = r"(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = r"[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_OFFSET = r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])"
DAY_PATTERN = f"^{_DAY}$"
TIMESTAMP_PATTERN = f"^{_DAY}({_TIME}{_OFFSET}?)?$"
YEAR_RULE = f"must be between {FIRST_YEAR}-01-01 and {LAST_YEAR}-12-31"


def _utc_in_range(value: dt.datetime) -> dt.datetime:
    """Naive means UTC (as in the files); refuse dates pandas cannot hold."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(YEAR_RULE)
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC)


def _date_in_range(value: dt.date | None) -> dt.date | None:
    if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(YEAR_RULE)
    return value


Timestamp = Annotated[
    dt.datetime,
    Field(json_schema_extra={"pattern": TIMESTAMP_PATTERN}),
    AfterValidator(_utc_in_range),
]
Day = Annotated[
    dt.date, Field(json_schema_extra={"pattern": DAY_PATTERN}), AfterValidator(_date_in_range)
]


@cache
def _time_zones() -> list[str]:
    return sorted(available_timezones() | {"UTC"})


def _zone_enum(schema: dict[str, Any]) -> None:
    # Built when the OpenAPI document is, not at import: the IANA names this host knows.
    schema["enum"] = _time_zones()


# --------------------------------------------------------------------------- orders


class OrderBase(BaseModel):
    """One order line, as in the `orders` input table."""

    customer_id: Identifier
    ordered_at: Timestamp = Field(description="ISO 8601; naive means UTC.")
    amount: Money = Field(description="Net revenue of the line after discounts; negative = return.")
    order_id: Identifier = Field(description="Lines sharing an order_id are one order.")
    sku: Identifier | None = None
    quantity: float = Field(default=1.0, gt=0, le=1e6, allow_inf_nan=False)
    discount: float = Field(default=0.0, ge=0, le=1e12, allow_inf_nan=False)
    channel: ShortText | None = Field(default=None, description="Where the order came from.")
    status: Literal["paid", "refunded", "cancelled"] = "paid"

    @field_validator("channel")
    @classmethod
    def _lower_channel(cls, value: str | None) -> str | None:
        return value.lower() or None if value is not None else None


class OrderIn(OrderBase):
    """An order line posted by a CRM (idempotent on order_id + sku)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "c-1001",
                    "ordered_at": "2025-03-01T10:15:00+08:00",
                    "amount": 59.0,
                    "order_id": "o-77812",
                    "sku": "vitamin-d-60",
                    "quantity": 2,
                    "discount": 5.0,
                    "channel": "wecom",
                    "status": "paid",
                }
            ]
        }
    )


class OrdersIn(BaseModel):
    """A batch of order lines; `as_of` is the scoring date (default: today, UTC)."""

    orders: list[OrderIn] = Field(min_length=1, max_length=MAX_BATCH)
    as_of: Day | None = Field(default=None, description="Score as of this date (YYYY-MM-DD).")


ScoringStatus = Literal["updated", "unchanged", "no_model", "failed"]


class IngestResult(BaseModel):
    """What an ingest did. A 2xx means every accepted row is durably stored."""

    received: int
    inserted: int
    duplicates: int
    customers: list[str] = Field(description="Customers that got new rows.")
    scoring: ScoringStatus = Field(
        description="updated: their scores and plan were refreshed; unchanged: nothing new; "
        "no_model: stored, but no model is loaded; failed: stored, scoring failed (logged)."
    )
    model_version: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "received": 2,
                    "inserted": 1,
                    "duplicates": 1,
                    "customers": ["c-1001"],
                    "scoring": "updated",
                    "model_version": "3",
                }
            ]
        }
    )


# --------------------------------------------------------------------------- contacts


class ContactIn(BaseModel):
    """A touch: a message sent to a customer (counts for caps and spacing)."""

    customer_id: Identifier
    contacted_at: Timestamp = Field(description="ISO 8601; naive means UTC.")
    channel: ShortText | None = None
    campaign: Identifier | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "c-1001",
                    "contacted_at": "2025-03-05T11:00:00+08:00",
                    "channel": "wechat",
                    "campaign": "spring-replenish",
                }
            ]
        }
    )


class ContactsIn(BaseModel):
    """A batch of touches (a re-sent touch is stored once)."""

    contacts: list[ContactIn] = Field(min_length=1, max_length=MAX_BATCH)


class ContactsResult(BaseModel):
    """What recording touches did; `replanned`: customers whose planned contact was rebuilt."""

    received: int
    inserted: int
    duplicates: int
    replanned: int = 0


# --------------------------------------------------------------------------- customers


class CustomerBase(BaseModel):
    """A customer's contact permissions and attributes (PUT replaces them all)."""

    timezone: str = Field(
        default="UTC", max_length=64, description="IANA time zone.", json_schema_extra=_zone_enum
    )
    consent_email: bool = False
    consent_sms: bool = False
    consent_wechat: bool = False
    preferred_channel: Channel | None = None
    birthday: Day | None = None
    tags: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], TagValue] = Field(
        default_factory=dict, max_length=50
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Asia/Shanghai") from None
        return value


class CustomerIn(CustomerBase):
    """Body of PUT /v1/customers/{customer_id}."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "timezone": "Asia/Shanghai",
                    "consent_email": False,
                    "consent_sms": True,
                    "consent_wechat": True,
                    "preferred_channel": "wechat",
                    "birthday": "1990-05-17",
                    "tags": {"store": "shanghai-1", "vip": True},
                }
            ]
        }
    )


class ScorePublic(BaseModel):
    """A customer's forecast: the SPEC score columns."""

    customer_id: str
    as_of: dt.date
    p_buy_7d: Probability
    p_buy_14d: Probability
    p_buy_30d: Probability
    p_buy_60d: Probability
    p_buy_90d: Probability
    next_purchase_date: dt.date | None = None
    next_purchase_low: dt.date | None = None
    next_purchase_high: dt.date | None = None
    p_churn: Probability
    predicted_value_365d: float | None
    rfm_segment: str | None = None
    lifecycle_stage: str | None = None
    price_sensitivity: str | None = None
    depletion_date: dt.date | None = None
    reasons: str | None = None
    model_version: str | None = None

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "c-1001",
                    "as_of": "2025-04-01",
                    "p_buy_7d": 0.18,
                    "p_buy_14d": 0.31,
                    "p_buy_30d": 0.55,
                    "p_buy_60d": 0.74,
                    "p_buy_90d": 0.83,
                    "next_purchase_date": "2025-04-27",
                    "next_purchase_low": "2025-04-09",
                    "next_purchase_high": "2025-06-02",
                    "p_churn": 0.09,
                    "predicted_value_365d": 412.0,
                    "rfm_segment": "important_value",
                    "lifecycle_stage": "active",
                    "price_sensitivity": "low",
                    "depletion_date": "2025-04-30",
                    "reasons": "last order 28 days ago (30-day cycle); 6 orders in 180 days",
                    "model_version": "3",
                }
            ]
        },
    )


class PlanItemPublic(BaseModel):
    """One planned contact: the SPEC plan columns."""

    customer_id: str
    contact_on: dt.date
    send_at: str | None = Field(
        default=None, description="Timestamp with offset; empty for hold-out."
    )
    channel: str | None = None
    action: str | None = None
    offer: str | None = None
    priority: float | None = None
    expected_value: float | None = None
    reasons: str | None = None
    holdout: bool

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "c-1001",
                    "contact_on": "2025-04-24",
                    "send_at": "2025-04-24T10:00:00+08:00",
                    "channel": "wechat",
                    "action": "replenish_reminder",
                    "offer": "content",
                    "priority": 226.6,
                    "expected_value": 48.3,
                    "reasons": "replenish: the last purchase runs out around 2025-04-30",
                    "holdout": False,
                }
            ]
        },
    )


class CustomerPublic(CustomerBase):
    """A customer's attributes, current score and next recommended contact."""

    customer_id: str
    known: bool = Field(description="False when only orders (no attributes) were ever posted.")
    score: ScorePublic | None = None
    next_contact: PlanItemPublic | None = None


# --------------------------------------------------------------------------- predict


class HistoryOrderIn(BaseModel):
    """One line of the order history posted to /v1/predict (customer_id is implied)."""

    ordered_at: Timestamp
    amount: Money
    order_id: Identifier | None = None
    sku: Identifier | None = None
    quantity: float = Field(default=1.0, gt=0, le=1e6, allow_inf_nan=False)
    discount: float = Field(default=0.0, ge=0, le=1e12, allow_inf_nan=False)
    channel: ShortText | None = None
    status: Literal["paid", "refunded", "cancelled"] = "paid"


class PredictIn(BaseModel):
    """A customer's history in, a score and a recommendation out; nothing is stored."""

    customer_id: Identifier = "anonymous"
    as_of: Day | None = Field(default=None, description="Default: today (UTC).")
    orders: list[HistoryOrderIn] = Field(min_length=1, max_length=MAX_HISTORY)
    customer: CustomerBase | None = Field(default=None, description="Consent and time zone.")
    contacts: list[Timestamp] = Field(
        default_factory=list, max_length=1000, description="Past touch times (caps, spacing)."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "c-1001",
                    "as_of": "2025-04-01",
                    "orders": [
                        {"ordered_at": "2025-01-03", "amount": 59.0, "sku": "vitamin-d-60"},
                        {"ordered_at": "2025-02-02", "amount": 61.0, "sku": "vitamin-d-60"},
                    ],
                    "customer": {"timezone": "Asia/Shanghai", "consent_wechat": True},
                }
            ]
        }
    )


class PredictOut(BaseModel):
    """The stateless forecast and, when the policy allows one, the next contact."""

    score: ScorePublic
    recommendation: PlanItemPublic | None = None


# --------------------------------------------------------------------------- plan, model, health


class ContactPlanPublic(BaseModel):
    """Whom to contact on a date, highest priority first."""

    date: dt.date
    channel: Channel | None = None
    count: int
    items: list[PlanItemPublic]


class ModelPublic(BaseModel):
    """The model in use."""

    name: str
    uri: str
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    trained_as_of: str | None = None
    loaded_at: dt.datetime
    metrics: dict[str, float] = Field(default_factory=dict)


class ErrorPublic(BaseModel):
    """An error answer other than a validation error (401, 403, 413, 429, 503)."""

    detail: str


class HealthPublic(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"


class ReadyPublic(BaseModel):
    """Readiness: can this instance answer model-backed requests now?"""

    status: Literal["ready", "not_ready"]
    database: bool
    model: bool
    model_version: str | None = None
    detail: str | None = None


def dump(model: BaseModel) -> dict[str, Any]:
    """A model as plain Python values (used to hand bodies to library code)."""
    return model.model_dump()
