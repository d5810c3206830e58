"""The internal crm-api calls a sync service makes (libs/contracts ``internal.py``): credentials,
decrypted only in memory, and the CRM's meetings of a user for a full sync."""

from __future__ import annotations

from uuid import UUID

import httpx
from pydantic import TypeAdapter

from calsync_contracts import Provider
from calsync_contracts.events import ConnectionConfig
from calsync_contracts.internal import Credentials
from calsync_contracts.meeting import MeetingSnapshot
from sync_core.errors import AuthError, TemporaryError
from sync_core.window import SyncWindow

_MEETINGS = TypeAdapter(list[MeetingSnapshot])


class CrmClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    @classmethod
    def create(cls, base_url: str, token: str) -> CrmClient:
        return cls(
            httpx.AsyncClient(
                base_url=base_url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(20.0, connect=5.0),
            )
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def credentials(self, connection_id: UUID) -> Credentials:
        try:
            response = await self._get(f"/internal/connections/{connection_id}/credentials")
        except httpx.HTTPStatusError as error:
            # No stored credentials (or the connection is gone): only the user can fix it.
            raise AuthError("no usable credentials are stored: reconnect the calendar") from error
        return Credentials.model_validate_json(response.content)

    async def connection_config(self, connection_id: UUID) -> ConnectionConfig | None:
        try:
            response = await self._get(f"/internal/connections/{connection_id}/config")
        except httpx.HTTPStatusError as error:
            if error.response.status_code == 404:
                return None
            raise
        return ConnectionConfig.model_validate(response.json()["config"])

    async def connections(self, provider: Provider) -> list[tuple[UUID, ConnectionConfig]]:
        """Every connection of a provider, as (tenant id, config): a cold start's catch-up."""
        response = await self._get("/internal/connections", params={"provider": provider.value})
        return [
            (UUID(entry["tenant_id"]), ConnectionConfig.model_validate(entry["config"]))
            for entry in response.json()
        ]

    def reader(self, connection_id: UUID) -> ConnectionMeetings:
        return ConnectionMeetings(self, connection_id)

    async def meetings(self, connection_id: UUID, window: SyncWindow) -> list[MeetingSnapshot]:
        response = await self._get(
            f"/internal/connections/{connection_id}/meetings",
            params={"start": window.start.isoformat(), "end": window.end.isoformat()},
        )
        return _MEETINGS.validate_json(response.content)

    async def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as error:
            raise TemporaryError(f"crm-api unreachable: {type(error).__name__}") from error
        if response.status_code >= 500:
            raise TemporaryError(f"crm-api answered {response.status_code}")
        response.raise_for_status()
        return response


class ConnectionMeetings:
    """``sync_core.ports.CrmReader`` bound to one connection."""

    def __init__(self, client: CrmClient, connection_id: UUID) -> None:
        self._client = client
        self._connection_id = connection_id

    async def meetings_in_window(self, user_id: UUID, window: SyncWindow) -> list[MeetingSnapshot]:
        return await self._client.meetings(self._connection_id, window)
