"""Sync status per user (the web app's indicator) and the refresh it asks for on page load and
on the refresh button."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict

from calsync_contracts.events import SyncReason
from crm_api.entrypoints.http.deps import CallerDep, SessionDep
from crm_api.service_layer import sync_status
from crm_api.service_layer.sync_status import SyncStatus

router = APIRouter(tags=["sync status"])

State = Literal[
    "not_configured", "pending", "syncing", "in_sync", "throttled", "failed", "needs_reauth"
]


class SyncStatusOut(BaseModel):
    user_id: uuid.UUID
    state: State
    message: str
    provider: str | None
    last_success_at: datetime | None

    @classmethod
    def of(cls, value: SyncStatus) -> SyncStatusOut:
        return cls.model_validate(value, from_attributes=True)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Literal["page_load", "manual_refresh"] = "manual_refresh"


class RefreshOut(BaseModel):
    requested: bool
    status: SyncStatusOut


@router.get("/users/{user_id}/sync-status", summary="A user's calendar sync status")
async def get_status(user_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> SyncStatusOut:
    return SyncStatusOut.of(await sync_status.status_of(session, caller, user_id))


@router.get("/sync-status", summary="Sync status of several users' calendars at once")
async def get_statuses(
    caller: CallerDep,
    session: SessionDep,
    users: Annotated[list[uuid.UUID], Query(min_length=1, max_length=50)],
) -> list[SyncStatusOut]:
    return [SyncStatusOut.of(s) for s in await sync_status.statuses_of(session, caller, users)]


@router.post(
    "/users/{user_id}/sync-status/refresh",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask the user's sync service to synchronise now (page load, refresh button)",
    responses={409: {"description": "No calendar is connected"}},
)
async def refresh(
    user_id: uuid.UUID, caller: CallerDep, session: SessionDep, body: RefreshIn | None = None
) -> RefreshOut:
    reason = SyncReason((body or RefreshIn()).reason)
    async with session.begin():
        current = await sync_status.request_refresh(session, caller, user_id, reason)
    return RefreshOut(requested=True, status=SyncStatusOut.of(current))
