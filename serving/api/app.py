"""The FastAPI application factory.

    app = create_app(get_settings())

`create_app` refuses to build an app without API keys unless demo mode is on, opens the
database (SQLite by default, PostgreSQL when configured), and on start-up applies the
migrations and loads the model in the background, so `/health` answers at once and `/ready`
turns 200 when the model is usable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from features.errors import InputError
from repurchase.settings import Settings
from serving.api.deps import KEYED_RESPONSES, AppState, reject_unknown_query, require_key
from serving.api.limits import BodySizeLimit, RateLimiter
from serving.api.metrics import ApiMetrics, MeasuredRequests, route_template
from serving.api.model_holder import ModelHolder, ModelNotLoaded, settle_heap
from serving.api.routes import contacts, customers, health, model, orders, plan, predict
from serving.api.security import ApiKeyring
from serving.store import make_engine, make_session_factory, migrate

log = logging.getLogger(__name__)

API_DESCRIPTION = (
    "Repurchase forecasts and contact plans for e-commerce brands. Every endpoint except "
    "`/health`, `/ready` and `/metrics` needs `Authorization: Bearer <API key>`."
)


def create_app(
    settings: Settings,
    *,
    holder: ModelHolder | None = None,
    policy_path: Path | None = None,
) -> FastAPI:
    """Build the API. A given `holder` is used as is (tests); otherwise the configured model
    is loaded in the background at start-up. `policy_path`: the contact policy TOML."""
    keyring = ApiKeyring.from_setting(settings.api_keys)
    if len(keyring) == 0 and not settings.demo_mode:
        raise InputError(
            "no API key configured: set REPURCHASE_API_KEYS (comma-separated, `key:admin` for "
            "an admin key), or REPURCHASE_DEMO_MODE=true for a local demo without keys"
        )
    engine = make_engine(
        settings.resolved_database_url,
        statement_timeout_s=settings.database_statement_timeout_s,
    )
    load_in_background = holder is None
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        keyring=keyring,
        holder=holder or ModelHolder(settings),
        metrics=ApiMetrics(),
        policy=_load_policy(policy_path),
        open_access=len(keyring) == 0,
        limiter=RateLimiter(settings.rate_limit_per_minute),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.open_access:
            log.warning("demo mode without API keys: every caller is an admin")
        migrate(state.engine)
        if state.holder.info is not None:
            state.metrics.set_model(state.holder.uri, state.holder.info.version)
        elif load_in_background:
            threading.Thread(target=_load_model, args=(state,), daemon=True).start()
        yield
        state.engine.dispose()

    app = FastAPI(
        title="repurchase",
        description=API_DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.repurchase = state
    app.add_middleware(MeasuredRequests, metrics=state.metrics)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    _add_exception_handlers(app)
    app.include_router(health.router)
    for router in (orders, contacts, customers, predict, plan, model):
        app.include_router(
            router.router,
            dependencies=[Depends(require_key), Depends(reject_unknown_query)],
            responses=KEYED_RESPONSES,
        )
    return app


def _load_model(state: AppState) -> None:
    try:
        info = state.holder.load()
    except Exception:
        # One line an operator can act on, no traceback: the cause is in last_error. The API
        # keeps serving what needs no model; /ready says 503 until a reload succeeds.
        log.error(
            "NOT READY: model %s could not be loaded (%s); model endpoints answer 503 until "
            "POST /v1/model/reload succeeds",
            state.holder.uri,
            state.holder.last_error,
        )
        return
    settle_heap()
    state.metrics.set_model(info.uri, info.version)


def _load_policy(path: Path | None) -> Any | None:
    try:
        from serving.policy import load_policy
    except ImportError:  # pragma: no cover - the policy ships with the package
        return None
    return load_policy(path)


def _add_exception_handlers(app: FastAPI) -> None:
    async def input_error(request: Request, exc: Exception) -> JSONResponse:
        detail = [{"loc": ["body"], "msg": str(exc), "type": "input_error"}]
        return JSONResponse(status_code=422, content={"detail": detail})

    async def no_model(request: Request, exc: Exception) -> JSONResponse:
        if request.app.state.repurchase.holder.ready:
            # A model is loaded but had nothing to score: the history has no paid order on
            # or before `as_of` (all in the future, or all refunds). The input, not the
            # service, must change: 422, not 503.
            msg = f"nothing to score: no paid order on or before as_of ({exc})"
            detail = [{"loc": ["body", "orders"], "msg": msg, "type": "input_error"}]
            return JSONResponse(status_code=422, content={"detail": detail})
        return JSONResponse(status_code=503, content={"detail": f"no model: {exc}"})

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only real bugs get here: bad input is answered 422 before any work starts.
        # The route template, never the raw path (it holds customer ids), and the traceback
        # only at debug level: exception messages can quote the data being processed.
        route = route_template(request)
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, route)
        log.debug("traceback of the unhandled error on %s %s", request.method, route, exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal error"})

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's default echoes the offending input, which may be unserialisable (NaN,
        # Infinity): answer with where and what only, so bad input can never become a 500.
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        detail = [
            {
                "loc": list(error.get("loc", ())),
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
            for error in errors
        ]
        return JSONResponse(status_code=422, content={"detail": detail})

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # A lost connection, a locked or missing file, a full pool: the database is away,
        # not the request wrong. 503 + Retry-After tells the client to send it again (writes
        # are idempotent). Other DBAPI errors (integrity, programming) are bugs: 500.
        lost = isinstance(exc, PoolTimeoutError) or (
            isinstance(exc, DBAPIError)
            and (exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError))
        )
        if not lost:
            return await unexpected(request, exc)
        # The driver's first line only: SQLAlchemy's message quotes the SQL and its parameters.
        cause = getattr(exc, "orig", None) or exc
        first_line = str(cause).splitlines()[0] if str(cause) else ""
        log.warning(
            "database unavailable on %s %s: %s: %s",
            request.method,
            route_template(request),
            type(cause).__name__,
            first_line,
        )
        return JSONResponse(
            status_code=503,
            content={"detail": "database unavailable; retry later"},
            headers={"Retry-After": "2"},  # seconds; the pool reconnects on the next request
        )

    app.add_exception_handler(DBAPIError, database_unavailable)
    app.add_exception_handler(PoolTimeoutError, database_unavailable)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(InputError, input_error)
    app.add_exception_handler(ModelNotLoaded, no_model)
    app.add_exception_handler(Exception, unexpected)
