"""The internal API the sync services call (libs/contracts ``internal.py``). Authenticated only
by the deployment's ``INTERNAL_API_TOKEN`` (never a user's token), hidden from the public
OpenAPI document. The only place a connection's secret leaves crm-api, decrypted in memory."""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, or_, select

from calsync_contracts import Provider
from crm_api.adapters.orm import CalendarConnection, Meeting
from crm_api.adapters.snapshots import meeting_snapshot
from crm_api.entrypoints.http.deps import SessionDep, StateDep
from crm_api.service_layer.connections import config_of, stored_account

_bearer = HTTPBearer(auto_error=False)


def internal_caller(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    token = state.settings.internal_api_token
    given = credentials.credentials.encode() if credentials else b""
    if token is None or not hmac.compare_digest(given, token.get_secret_value().encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "internal token required")


router = APIRouter(
    prefix="/internal", include_in_schema=False, dependencies=[Depends(internal_caller)]
)


async def _connection(session: SessionDep, connection_id: uuid.UUID) -> CalendarConnection:
    connection = await session.get(CalendarConnection, connection_id)
    if connection is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "connection not found")
    return connection


@router.get("/connections")
async def list_connections(session: SessionDep, provider: Provider) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(CalendarConnection).where(CalendarConnection.provider == provider.value)
    )
    return [
        {
            "tenant_id": str(row.tenant_id),
            "config": (await config_of(session, row)).model_dump(mode="json"),
        }
        for row in rows.all()
    ]


@router.get("/connections/{connection_id}/config")
async def connection_config(connection_id: uuid.UUID, session: SessionDep) -> dict[str, Any]:
    connection = await _connection(session, connection_id)
    config = await config_of(session, connection)
    return {"tenant_id": str(connection.tenant_id), "config": config.model_dump(mode="json")}


@router.get("/connections/{connection_id}/credentials")
async def credentials(connection_id: uuid.UUID, session: SessionDep, state: StateDep) -> Response:
    """``Credentials`` with the secret in clear: never cached, never logged."""
    account = stored_account(await _connection(session, connection_id), state.secrets)
    body = {
        "kind": account.auth_kind.value,
        "username": account.username,
        "secret": account.secret.get_secret_value(),
        "mailbox": account.mailbox,
        "impersonate": account.impersonate,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/connections/{connection_id}/meetings")
async def meetings(
    connection_id: uuid.UUID,
    session: SessionDep,
    start: Annotated[datetime, Query()],
    end: Annotated[datetime, Query()],
) -> list[dict[str, Any]]:
    """The connection user's meetings overlapping [start, end), series that began before end."""
    connection = await _connection(session, connection_id)
    rows = await session.scalars(
        select(Meeting).where(
            Meeting.tenant_id == connection.tenant_id,
            Meeting.owner_user_id == connection.user_id,
            Meeting.starts_at < end,
            # JSONB null is not SQL NULL: a series is a meeting whose recurrence is an object.
            or_(func.jsonb_typeof(Meeting.recurrence) == "object", Meeting.ends_at > start),
        )
    )
    return [meeting_snapshot(row).model_dump(mode="json") for row in rows.all()]
