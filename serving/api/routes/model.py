"""GET /v1/model and POST /v1/model/reload (admin)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from serving.api.deps import ADMIN_RESPONSES, AdminPrincipal, HolderDep, MetricsDep
from serving.api.model_holder import ModelInfo, settle_heap
from serving.api.schemas import ErrorPublic, ModelPublic

router = APIRouter(prefix="/v1/model", tags=["model"])
log = logging.getLogger(__name__)


@router.get("", responses={503: {"model": ErrorPublic, "description": "No model is loaded."}})
def get_model(holder: HolderDep) -> ModelPublic:
    """The model in use: name, version, alias, training date, backtest metrics."""
    info = holder.info
    if info is None:
        raise HTTPException(status_code=503, detail=f"no model: {holder.last_error or 'loading'}")
    return _public(info)


@router.post(
    "/reload",
    responses={
        **ADMIN_RESPONSES,
        503: {"model": ErrorPublic, "description": "Loading failed; the old model is kept."},
    },
)
async def reload_model(
    principal: AdminPrincipal, holder: HolderDep, metrics: MetricsDep
) -> ModelPublic:
    """Load the model the `champion` alias points to now; requests keep being served."""
    log.info("model reload requested by key %s", principal.fingerprint)
    try:
        info = await run_in_threadpool(holder.reload)
    except Exception:
        current = holder.info
        kept = f"; still serving version {current.version}" if current else ""
        raise HTTPException(
            status_code=503, detail=f"reload failed: {holder.last_error}{kept}"
        ) from None
    await run_in_threadpool(settle_heap)
    metrics.set_model(info.uri, info.version)
    return _public(info)


def _public(info: ModelInfo) -> ModelPublic:
    return ModelPublic(
        name=info.name,
        uri=info.uri,
        version=info.version,
        alias=info.alias,
        run_id=info.run_id,
        trained_as_of=info.trained_as_of,
        loaded_at=info.loaded_at,
        metrics=info.metrics,
    )
