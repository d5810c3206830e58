"""``sync_core.ports.LinkStore`` on PostgreSQL: the status table of one connection.

Every call is its own short transaction: the engine orders its writes so that a crash between
two calls is always safe (see ``sync_core.engine``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from sync_core.items import OCCURRENCE_SEPARATOR
from sync_core.links import Link
from sync_store.tables import bad_items, cursors, forgotten_meetings, links

_LINK_FIELDS = tuple(Link.__dataclass_fields__)


class PgLinkStore:
    def __init__(self, engine: AsyncEngine, connection_id: UUID) -> None:
        self._engine = engine
        self._connection_id = connection_id

    async def by_external_id(self, external_id: str) -> Link | None:
        return await self._one(links.c.external_id == external_id)

    async def by_meeting(self, meeting_id: UUID) -> Link | None:
        return await self._one(links.c.crm_meeting_id == meeting_id)

    async def by_uid(self, ical_uid: str) -> Link | None:
        return await self._one(links.c.ical_uid == ical_uid)

    async def in_calendar(self, calendar_id: str) -> list[Link]:
        return await self._many(links.c.calendar_id == calendar_id)

    async def all_links(self) -> list[Link]:
        return await self._many(None)

    async def with_pending(self) -> list[Link]:
        return await self._many(links.c.pending.is_not(None))

    async def outside(self, calendar_ids: tuple[str, ...]) -> list[Link]:
        return await self._many(links.c.calendar_id.not_in(calendar_ids))

    async def occurrences_of(self, external_id: str) -> list[Link]:
        prefix = external_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return await self._many(links.c.external_id.like(prefix + OCCURRENCE_SEPARATOR + "%"))

    async def count(self) -> int:
        return len(await self._many(None))

    async def save(self, link: Link, replaces: str | None = None) -> None:
        async with self._engine.begin() as connection:
            if replaces is not None and replaces != link.external_id:
                await connection.execute(
                    delete(links).where(self._mine(), links.c.external_id == replaces)
                )
            await connection.execute(_UPSERT, self._row(link))

    def _row(self, link: Link) -> dict[str, Any]:
        # Shallow on purpose: ``dataclasses.asdict`` deep-copies the JSON fields (measured: a
        # seventh of an initial import's time).
        return {"connection_id": self._connection_id} | {
            name: getattr(link, name) for name in _LINK_FIELDS
        }

    async def save_many(self, many: list[Link]) -> None:
        if not many:
            return
        async with self._engine.begin() as connection:
            await connection.execute(_UPSERT, [self._row(link) for link in many])

    async def remove(self, external_id: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(links).where(self._mine(), links.c.external_id == external_id)
            )

    async def forget_meeting(self, meeting_id: UUID, version: int) -> None:
        upsert = insert(forgotten_meetings).values(
            connection_id=self._connection_id, meeting_id=meeting_id, version=version
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[forgotten_meetings.c.connection_id, forgotten_meetings.c.meeting_id],
            set_={"version": func.greatest(forgotten_meetings.c.version, upsert.excluded.version)},
        )
        async with self._engine.begin() as connection:
            await connection.execute(upsert)

    async def forgotten_at(self, meeting_id: UUID) -> int | None:
        async with self._engine.connect() as connection:
            version: int | None = await connection.scalar(
                select(forgotten_meetings.c.version).where(
                    forgotten_meetings.c.connection_id == self._connection_id,
                    forgotten_meetings.c.meeting_id == meeting_id,
                )
            )
        return version

    async def cursor(self, calendar_id: str) -> str | None:
        async with self._engine.connect() as connection:
            value: str | None = await connection.scalar(
                select(cursors.c.cursor).where(
                    cursors.c.connection_id == self._connection_id,
                    cursors.c.calendar_id == calendar_id,
                )
            )
        return value

    async def save_cursor(self, calendar_id: str, cursor: str | None) -> None:
        upsert = insert(cursors).values(
            connection_id=self._connection_id, calendar_id=calendar_id, cursor=cursor
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[cursors.c.connection_id, cursors.c.calendar_id],
            set_={"cursor": upsert.excluded.cursor},
        )
        async with self._engine.begin() as connection:
            await connection.execute(upsert)

    async def record_bad_item(self, calendar_id: str, external_id: str, error: str) -> None:
        upsert = insert(bad_items).values(
            connection_id=self._connection_id,
            external_id=external_id,
            calendar_id=calendar_id,
            error=error[:2000],
        )
        upsert = upsert.on_conflict_do_update(
            index_elements=[bad_items.c.connection_id, bad_items.c.external_id],
            set_={"error": upsert.excluded.error, "seen_at": upsert.excluded.seen_at},
        )
        async with self._engine.begin() as connection:
            await connection.execute(upsert)

    async def clear_bad_item(self, external_id: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(bad_items).where(
                    bad_items.c.connection_id == self._connection_id,
                    bad_items.c.external_id == external_id,
                )
            )

    async def bad_item_ids(self) -> list[str]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(bad_items.c.external_id).where(
                    bad_items.c.connection_id == self._connection_id
                )
            )
            return [row[0] for row in rows]

    async def bad_item_errors(self) -> list[str]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(bad_items.c.external_id, bad_items.c.error)
                .where(bad_items.c.connection_id == self._connection_id)
                .order_by(bad_items.c.external_id)
            )
            return [f"{external_id}: {error}" for external_id, error in rows]

    def _mine(self) -> ColumnElement[bool]:
        return links.c.connection_id == self._connection_id

    async def _one(self, condition: ColumnElement[bool]) -> Link | None:
        found = await self._many(condition, limit=1)
        return found[0] if found else None

    async def _many(
        self, condition: ColumnElement[bool] | None, limit: int | None = None
    ) -> list[Link]:
        query = select(*(links.c[name] for name in _LINK_FIELDS)).where(self._mine())
        if condition is not None:
            query = query.where(condition)
        if limit is not None:
            query = query.limit(limit)
        async with self._engine.connect() as connection:
            rows = await connection.execute(query)
            return [_link(row._mapping) for row in rows]


def _upsert() -> Any:
    """Built once: compiling an upsert per row cost more than running it."""
    statement = insert(links)
    return statement.on_conflict_do_update(
        index_elements=[links.c.connection_id, links.c.external_id],
        set_={name: statement.excluded[name] for name in _LINK_FIELDS if name != "external_id"},
    )


_UPSERT = _upsert()


def _link(row: Any) -> Link:
    return Link(**{name: row[name] for name in _LINK_FIELDS})
