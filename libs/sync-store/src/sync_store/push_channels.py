"""Push channels kept in the sync service's own database (``tables.push_channels``)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from sync_core.push import PushChannel
from sync_store.tables import push_channels


class PushChannelStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def of_connection(self, connection_id: UUID) -> list[PushChannel]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(push_channels).where(push_channels.c.connection_id == connection_id)
            )
            return [PushChannel(**row._mapping) for row in rows]

    async def connection_of(self, channel_id: str) -> UUID | None:
        async with self._engine.connect() as connection:
            found: UUID | None = await connection.scalar(
                select(push_channels.c.connection_id).where(
                    push_channels.c.channel_id == channel_id
                )
            )
            return found

    async def save(self, channel: PushChannel) -> None:
        values = {
            "channel_id": channel.channel_id,
            "connection_id": channel.connection_id,
            "calendar_id": channel.calendar_id,
            "resource_id": channel.resource_id,
            "address": channel.address,
            "expires_at": channel.expires_at,
        }
        async with self._engine.begin() as connection:
            await connection.execute(insert(push_channels).values(values).on_conflict_do_nothing())

    async def remove(self, channel_id: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(push_channels).where(push_channels.c.channel_id == channel_id)
            )
