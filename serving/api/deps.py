"""Dependencies as typed aliases, so a route's signature says what it needs.

def read_customer(customer_id: str, session: SessionDep, today: TodayDep) -> ...

The dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in its
thread pool, and each of those round trips waits for the GIL, which the scoring thread holds
for up to the switch interval at a time. A predict request made seven of them before any
work started.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from repurchase.settings import Settings
from serving.api.limits import RateLimiter
from serving.api.metrics import ApiMetrics
from serving.api.model_holder import ModelHolder
from serving.api.schemas import ErrorPublic
from serving.api.security import ApiKeyring, Principal


@dataclass
class AppState:
    """Everything one app instance owns; kept on ``app.state.repurchase``."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keyring: ApiKeyring
    holder: ModelHolder
    metrics: ApiMetrics
    policy: Any | None  # serving.policy.PolicyConfig; None = the policy's defaults
    open_access: bool  # demo mode without keys: every caller is an admin
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0))  # 0 = no limit


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.repurchase
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """One session per request; the route commits, anything uncommitted is rolled back."""
    with state.sessions() as session:
        yield session


async def get_holder(state: StateDep) -> ModelHolder:
    return state.holder


async def get_metrics(state: StateDep) -> ApiMetrics:
    return state.metrics


async def get_today() -> dt.date:
    """Today in UTC: the default `as_of` of real-time requests (the only clock read here)."""
    return dt.datetime.now(dt.UTC).date()


async def get_now() -> dt.datetime:
    """The current UTC time, for audit columns (received_at, scored_at)."""
    return dt.datetime.now(dt.UTC)


SessionDep = Annotated[Session, Depends(get_session)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
TodayDep = Annotated[dt.date, Depends(get_today)]
NowDep = Annotated[dt.datetime, Depends(get_now)]

_bearer = HTTPBearer(auto_error=False, description="An API key from REPURCHASE_API_KEYS.")


async def require_key(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, identified by a valid `Authorization: Bearer <key>`; else 401.

    Each key has its own rate limit: over it, 429 with ``Retry-After`` seconds.
    """
    if state.open_access:
        principal: Principal | None = Principal(role="admin", fingerprint="demo")
    else:
        principal = state.keyring.authenticate(credentials.credentials) if credentials else None
    if principal is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    state.limiter.check(principal.fingerprint)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_key)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    """The caller, if their key has the admin role; else 403."""
    if not principal.is_admin:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="admin key required")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


async def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the route does not declare (a typo like ``?chanel=sms``
    would otherwise be ignored silently and answer something the caller did not ask for)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    unknown = sorted(set(request.query_params.keys()) - _declared_query(route))
    if unknown:
        detail = [
            {"loc": ["query", name], "msg": "unknown query parameter", "type": "extra_forbidden"}
            for name in unknown
        ]
        raise RequestValidationError(detail)


def _declared_query(route: APIRoute) -> frozenset[str]:
    # Walked per request: a route has a handful of parameters, cheaper than any cache key.
    return frozenset(_query_names(route.dependant))


def _query_names(dependant: Dependant) -> Iterator[str]:
    yield from (param.alias for param in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query_names(sub)


# Answers every keyed endpoint may give besides its own, for the OpenAPI document.
KEYED_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorPublic, "description": "The body is not valid JSON."},
    401: {"model": ErrorPublic, "description": "Missing or invalid API key."},
    413: {"model": ErrorPublic, "description": "Request body too large."},
    429: {
        "model": ErrorPublic,
        "description": "Rate limit of this key exceeded; retry after `Retry-After` seconds.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}
ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorPublic, "description": "The key is not an admin key."}
}
