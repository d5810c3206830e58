"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import text

from crm_api.entrypoints.http.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database answers")
async def readyz(state: StateDep) -> dict[str, str]:
    try:
        async with state.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not ready"; the reason is logged, not leaked
        raise HTTPException(503, "database unavailable") from error
    return {"status": "ready"}
