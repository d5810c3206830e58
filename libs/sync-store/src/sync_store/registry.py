"""Connections known to a sync service, their health, their pending CRM changes, and the leases
that let any number of replicas share them: one connection is synced by one replica at a time,
and a crashed replica's lease simply expires (``FOR UPDATE SKIP LOCKED`` claim)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, case, delete, exists, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from calsync_contracts import Provider
from calsync_contracts.events import ConnectionConfig, ConnectionState
from sync_core.health import Health
from sync_store.tables import (
    bad_items,
    connections,
    cursors,
    forgotten_meetings,
    links,
    pending_changes,
)


@dataclass(frozen=True, slots=True)
class ClaimedConnection:
    id: UUID
    tenant_id: UUID
    config: ConnectionConfig
    health: Health
    full_requested: bool
    requested: bool
    """Someone asked for this pass (page load, refresh, new config): show it as syncing."""
    started_at: datetime


@dataclass(frozen=True, slots=True)
class PendingChange:
    meeting_id: UUID
    version: int
    change: dict[str, Any]


class Registry:
    def __init__(self, engine: AsyncEngine, provider: Provider | None = None) -> None:
        """``provider``: this service's own connections only, so sync services that share one
        database (a deployment with a single DATABASE_URL) never claim each other's."""
        self._engine = engine
        self._provider = provider

    def _own(self) -> list[Any]:
        return [] if self._provider is None else [connections.c.provider == self._provider.value]

    # --- fed by the subscribers ----------------------------------------------------------------

    async def apply_config(self, tenant_id: UUID, config: ConnectionConfig, removed: bool) -> bool:
        """Newer config versions win; a redelivered or reordered older one changes nothing.
        A new or changed config clears the health (the user may have fixed the credentials)."""
        values = {
            "id": config.connection_id,
            "tenant_id": tenant_id,
            "user_id": config.user_id,
            "provider": config.provider.value,
            "config": config.model_dump(mode="json"),
            "config_version": config.config_version,
            "removed": removed,
            "state": ConnectionState.PENDING.value,
            "failures": 0,
            "retry_at": None,
            "message": "",
            "sync_requested_at": func.now(),
            "full_requested": True,
        }
        upsert = insert(connections).values(values)
        upsert = upsert.on_conflict_do_update(
            index_elements=[connections.c.id],
            set_={k: upsert.excluded[k] for k in values if k != "id"},
            where=connections.c.config_version < upsert.excluded.config_version,
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(upsert)
            if removed:
                await self._forget(connection, config.connection_id)
            return bool(result.rowcount)

    async def _forget(self, connection: Any, connection_id: UUID) -> None:
        """A disconnected user's links are dropped: logical unlink, nothing is deleted anywhere
        (the CRM dropped its own links with the connection)."""
        for table in (links, cursors, bad_items, pending_changes, forgotten_meetings):
            await connection.execute(delete(table).where(table.c.connection_id == connection_id))

    async def request_sync(self, connection_id: UUID, full: bool) -> bool:
        """False when the connection is unknown here."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(connections)
                .where(connections.c.id == connection_id)
                .values(
                    sync_requested_at=func.now(),
                    full_requested=connections.c.full_requested | full,
                )
            )
            return bool(result.rowcount)

    async def connection_of_user(self, tenant_id: UUID, user_id: UUID) -> UUID | None:
        async with self._engine.connect() as connection:
            found: UUID | None = await connection.scalar(
                select(connections.c.id).where(
                    connections.c.tenant_id == tenant_id,
                    connections.c.user_id == user_id,
                    connections.c.removed.is_(False),
                    *self._own(),
                )
            )
        return found

    async def linked_connections(self, meeting_id: UUID) -> list[UUID]:
        """Connections holding a link to the meeting (e.g. its previous owner's calendar)."""
        async with self._engine.connect() as connection:
            query = select(links.c.connection_id).where(links.c.crm_meeting_id == meeting_id)
            if self._provider is not None:
                query = query.join(connections, connections.c.id == links.c.connection_id).where(
                    *self._own()
                )
            rows = await connection.execute(query)
            return [row[0] for row in rows]

    async def enqueue(
        self, connection_id: UUID, meeting_id: UUID, version: int, change: dict[str, Any]
    ) -> None:
        """Keeps only the newest version per meeting: an older, redelivered event never
        overwrites a newer one (the pass always pushes the latest state). The provider link an
        older event carried (an import's: which provider item the meeting came from) is kept
        when the newer one has none, else a quick edit after an import finds no item to edit."""
        upsert = insert(pending_changes).values(
            connection_id=connection_id, meeting_id=meeting_id, version=version, change=change
        )
        newer, older = upsert.excluded.change, pending_changes.c.change
        merged = case(
            (func.jsonb_typeof(newer["provider_link"]) == "object", newer),
            (
                func.jsonb_typeof(older["provider_link"]) == "object",
                func.jsonb_set(newer, literal_column("'{provider_link}'"), older["provider_link"]),
            ),
            else_=newer,
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[pending_changes.c.connection_id, pending_changes.c.meeting_id],
            set_={"version": upsert.excluded.version, "change": merged},
            where=pending_changes.c.version <= upsert.excluded.version,
        )
        async with self._engine.begin() as connection:
            await connection.execute(upsert)

    # --- used by the worker ----------------------------------------------------------------------

    async def claim_due(self, owner: str, lease: timedelta, limit: int) -> list[ClaimedConnection]:
        now = func.now()
        has_pending = exists().where(pending_changes.c.connection_id == connections.c.id)
        due = (
            select(
                connections.c.id,
                connections.c.full_requested.label("was_full"),
                or_(
                    and_(
                        connections.c.sync_requested_at.is_not(None),
                        or_(
                            connections.c.last_started_at.is_(None),
                            connections.c.sync_requested_at > connections.c.last_started_at,
                        ),
                    ),
                    # taken over from a crashed replica, which may have shown "syncing"
                    connections.c.lease_owner.is_not(None),
                ).label("was_requested"),
            )
            .where(
                connections.c.removed.is_(False),
                *self._own(),
                or_(connections.c.lease_until.is_(None), connections.c.lease_until < now),
                connections.c.state != ConnectionState.NEEDS_REAUTH.value,
                or_(connections.c.retry_at.is_(None), connections.c.retry_at <= now),
                or_(
                    has_pending,
                    connections.c.next_poll_at <= now,
                    connections.c.lease_owner.is_not(None),  # abandoned by a crashed replica
                    and_(
                        connections.c.sync_requested_at.is_not(None),
                        or_(
                            connections.c.last_started_at.is_(None),
                            connections.c.sync_requested_at > connections.c.last_started_at,
                        ),
                    ),
                ),
            )
            .order_by(connections.c.next_poll_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        claim = (
            update(connections)
            .where(connections.c.id == due.c.id)
            .values(
                lease_owner=owner,
                lease_until=now + lease,
                last_started_at=now,
                full_requested=False,
            )
            .returning(*connections.c, due.c.was_full, due.c.was_requested)
        )
        async with self._engine.begin() as connection:
            rows = (await connection.execute(claim)).mappings().all()
        return [_claimed(row) for row in rows]

    async def finish(
        self, connection_id: UUID, owner: str, health: Health, next_poll_at: datetime
    ) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(connections)
                .where(connections.c.id == connection_id, connections.c.lease_owner == owner)
                .values(
                    state=health.state.value,
                    failures=health.failures,
                    retry_at=health.retry_at,
                    message=health.message,
                    last_success_at=health.last_success_at,
                    next_poll_at=next_poll_at,
                    lease_owner=None,
                    lease_until=None,
                )
            )

    async def renew(self, connection_id: UUID, owner: str, lease: timedelta) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(connections)
                .where(connections.c.id == connection_id, connections.c.lease_owner == owner)
                .values(lease_until=func.now() + lease)
            )

    async def pending(self, connection_id: UUID) -> list[PendingChange]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(
                    pending_changes.c.meeting_id,
                    pending_changes.c.version,
                    pending_changes.c.change,
                )
                .where(pending_changes.c.connection_id == connection_id)
                .order_by(pending_changes.c.received_at)
            )
            return [PendingChange(*row) for row in rows]

    async def done(self, connection_id: UUID, change: PendingChange) -> None:
        """Removes the pending change unless a newer version arrived meanwhile."""
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(pending_changes).where(
                    pending_changes.c.connection_id == connection_id,
                    pending_changes.c.meeting_id == change.meeting_id,
                    pending_changes.c.version == change.version,
                )
            )


def _claimed(row: Any) -> ClaimedConnection:
    health = Health(
        state=ConnectionState(row["state"]),
        failures=row["failures"],
        retry_at=row["retry_at"],
        message=row["message"],
        last_success_at=row["last_success_at"],
    )
    return ClaimedConnection(
        id=row["id"],
        tenant_id=row["tenant_id"],
        config=ConnectionConfig.model_validate(row["config"]),
        health=health,
        full_requested=bool(row["was_full"]),
        requested=bool(row["was_requested"]),
        started_at=row["last_started_at"],
    )
