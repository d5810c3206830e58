"""A write-through, in-memory view of one connection's status table, used for the length of a
full listing: every item of a calendar is matched by external id, CRM id and UID, and one query
up front beats three per item (5,000 items: 15,000 round trips saved)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from uuid import UUID

from sync_core.items import OCCURRENCE_SEPARATOR
from sync_core.links import Link
from sync_core.ports import LinkStore


@dataclass
class CachedLinks:
    store: LinkStore
    rows: dict[str, Link] = field(default_factory=dict)
    bad: set[str] = field(default_factory=set)
    later: dict[str, Link] = field(default_factory=dict)
    """Rows whose only change is bookkeeping (a published change marked done), written in one
    transaction at the end: if a crash loses them, the next pass publishes those changes again,
    which the CRM recognises (an echo changes nothing)."""

    @classmethod
    async def load(cls, store: LinkStore) -> CachedLinks:
        cached = cls(store, {link.external_id: link for link in await store.all_links()})
        cached.bad = set(await store.bad_item_ids())
        return cached

    async def by_external_id(self, external_id: str) -> Link | None:
        return self.rows.get(external_id)

    async def by_meeting(self, meeting_id: UUID) -> Link | None:
        return next((v for v in self.rows.values() if v.crm_meeting_id == meeting_id), None)

    async def by_uid(self, ical_uid: str) -> Link | None:
        return next((v for v in self.rows.values() if v.ical_uid == ical_uid), None)

    async def in_calendar(self, calendar_id: str) -> list[Link]:
        return [v for v in self.rows.values() if v.calendar_id == calendar_id]

    async def all_links(self) -> list[Link]:
        return list(self.rows.values())

    async def with_pending(self) -> list[Link]:
        return [v for v in self.rows.values() if v.pending is not None]

    async def outside(self, calendar_ids: tuple[str, ...]) -> list[Link]:
        return [v for v in self.rows.values() if v.calendar_id not in calendar_ids]

    async def occurrences_of(self, external_id: str) -> list[Link]:
        prefix = external_id + OCCURRENCE_SEPARATOR
        return [v for v in self.rows.values() if v.external_id.startswith(prefix)]

    async def save(self, link: Link, replaces: str | None = None) -> None:
        stored = self.rows.get(link.external_id)
        if replaces is None and stored is not None and replace(stored, pending=None) == link:
            self.later[link.external_id] = link  # only "published": bookkeeping, batched
            self.rows[link.external_id] = link
            return
        self.later.pop(link.external_id, None)
        await self.store.save(link, replaces)
        if replaces is not None:
            self.rows.pop(replaces, None)
        self.rows[link.external_id] = link

    async def save_many(self, links: list[Link]) -> None:
        await self.store.save_many(links)
        for link in links:
            self.rows[link.external_id] = link

    async def flush(self) -> None:
        await self.store.save_many(list(self.later.values()))
        self.later.clear()

    async def remove(self, external_id: str) -> None:
        self.later.pop(external_id, None)
        await self.store.remove(external_id)
        self.rows.pop(external_id, None)

    async def forget_meeting(self, meeting_id: UUID, version: int) -> None:
        await self.store.forget_meeting(meeting_id, version)

    async def forgotten_at(self, meeting_id: UUID) -> int | None:
        return await self.store.forgotten_at(meeting_id)

    async def cursor(self, calendar_id: str) -> str | None:
        return await self.store.cursor(calendar_id)

    async def save_cursor(self, calendar_id: str, cursor: str | None) -> None:
        await self.store.save_cursor(calendar_id, cursor)

    async def record_bad_item(self, calendar_id: str, external_id: str, error: str) -> None:
        await self.store.record_bad_item(calendar_id, external_id, error)
        self.bad.add(external_id)

    async def clear_bad_item(self, external_id: str) -> None:
        if external_id in self.bad:
            await self.store.clear_bad_item(external_id)
            self.bad.discard(external_id)

    async def bad_item_ids(self) -> list[str]:
        return sorted(self.bad)
