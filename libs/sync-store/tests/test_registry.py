"""The sync state on real PostgreSQL: leases shared by replicas, config versions, pending changes,
and the status table."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from calsync_contracts import Provider
from calsync_contracts.events import ConnectionConfig, ConnectionState
from sync_core.health import Health
from sync_core.links import Link
from sync_store.link_store import PgLinkStore
from sync_store.migrate import upgrade
from sync_store.registry import PendingChange, Registry
from sync_store.tables import connections

LEASE = timedelta(seconds=30)


@pytest.fixture
async def db(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade, fresh_database)
    engine = create_async_engine(fresh_database)
    yield engine
    await engine.dispose()


def config(
    version: int = 1, connection_id: UUID | None = None, provider: Provider = Provider.CALDAV
) -> ConnectionConfig:
    return ConnectionConfig(
        connection_id=connection_id or uuid4(),
        provider=provider,
        user_id=uuid4(),
        calendars=["/c/"],
        config_version=version,
    )


async def test_a_new_connection_is_due_and_claimed_by_one_replica_only(db: AsyncEngine) -> None:
    registry = Registry(db)
    await registry.apply_config(uuid4(), config(), removed=False)
    first = await registry.claim_due("replica-a", LEASE, 10)
    second = await registry.claim_due("replica-b", LEASE, 10)
    assert len(first) == 1
    assert first[0].full_requested
    assert first[0].requested
    assert second == []


async def test_services_sharing_a_database_claim_only_their_own_connections(
    db: AsyncEngine,
) -> None:
    """Seen end to end: sync-caldav claimed a Google connection and failed it ("no server
    URL") when both services were given one DATABASE_URL."""
    tenant = uuid4()
    caldav, google = Registry(db, Provider.CALDAV), Registry(db, Provider.GOOGLE)
    theirs = config(provider=Provider.GOOGLE)
    await google.apply_config(tenant, theirs, removed=False)
    assert await caldav.claim_due("caldav-replica", LEASE, 10) == []
    assert await caldav.connection_of_user(tenant, theirs.user_id) is None
    [claimed] = await google.claim_due("google-replica", LEASE, 10)
    assert claimed.id == theirs.connection_id
    assert await google.connection_of_user(tenant, theirs.user_id) == theirs.connection_id


async def test_a_crashed_replicas_lease_expires_and_another_takes_over(db: AsyncEngine) -> None:
    registry = Registry(db)
    await registry.apply_config(uuid4(), config(), removed=False)
    [claimed] = await registry.claim_due("replica-a", timedelta(milliseconds=1), 10)
    async with db.begin() as connection:  # replica-a dies; its sync request is still open
        await connection.execute(update(connections).values(next_poll_at=None))
    await registry.request_sync(claimed.id, full=False)
    [taken] = await registry.claim_due("replica-b", LEASE, 10)
    assert taken.id == claimed.id


async def test_finish_schedules_the_next_poll_and_releases(db: AsyncEngine) -> None:
    registry = Registry(db)
    await registry.apply_config(uuid4(), config(), removed=False)
    [claimed] = await registry.claim_due("a", LEASE, 10)
    later = claimed.started_at + timedelta(minutes=5)
    await registry.finish(claimed.id, "a", Health(ConnectionState.IN_SYNC), later)
    assert await registry.claim_due("b", LEASE, 10) == []
    await registry.request_sync(claimed.id, full=True)
    [again] = await registry.claim_due("b", LEASE, 10)
    assert again.full_requested
    assert again.health.state is ConnectionState.IN_SYNC


async def test_throttled_connection_waits_for_its_retry_time(db: AsyncEngine) -> None:
    registry = Registry(db)
    await registry.apply_config(uuid4(), config(), removed=False)
    [claimed] = await registry.claim_due("a", LEASE, 10)
    throttled = Health(ConnectionState.THROTTLED, 1, claimed.started_at + timedelta(hours=1))
    await registry.finish(claimed.id, "a", throttled, claimed.started_at)
    await registry.request_sync(claimed.id, full=False)
    assert await registry.claim_due("a", LEASE, 10) == []


async def test_older_config_versions_never_win(db: AsyncEngine) -> None:
    registry = Registry(db)
    tenant = uuid4()
    newer = config(version=3)
    assert await registry.apply_config(tenant, newer, removed=False)
    older = newer.model_copy(update={"config_version": 2, "calendars": ["/old/"]})
    assert not await registry.apply_config(tenant, older, removed=False)
    [claimed] = await registry.claim_due("a", LEASE, 10)
    assert claimed.config.calendars == ["/c/"]


async def test_pending_changes_keep_the_newest_version(db: AsyncEngine) -> None:
    registry = Registry(db)
    c = config()
    await registry.apply_config(uuid4(), c, removed=False)
    meeting_id = uuid4()
    await registry.enqueue(c.connection_id, meeting_id, 3, {"v": 3})
    await registry.enqueue(c.connection_id, meeting_id, 2, {"v": 2})  # redelivered, older
    [pending] = await registry.pending(c.connection_id)
    assert pending == PendingChange(meeting_id, 3, {"v": 3})
    await registry.enqueue(c.connection_id, meeting_id, 4, {"v": 4})
    await registry.done(c.connection_id, pending)  # version 3 done; 4 must stay
    assert [p.version for p in await registry.pending(c.connection_id)] == [4]


async def test_an_import_link_survives_a_newer_pending_version(db: AsyncEngine) -> None:
    """The CRM's import (v1, with the provider item it came from) and the user's quick edit
    (v2, without) are coalesced: the edit keeps the link, or the pass finds no item to edit."""
    registry = Registry(db)
    c = config()
    await registry.apply_config(uuid4(), c, removed=False)
    meeting_id = uuid4()
    link = {"connection_id": str(c.connection_id), "external_id": "/cal/s.ics#20261130T090000Z"}
    await registry.enqueue(c.connection_id, meeting_id, 1, {"v": 1, "provider_link": link})
    await registry.enqueue(c.connection_id, meeting_id, 2, {"v": 2, "provider_link": None})
    [pending] = await registry.pending(c.connection_id)
    assert pending.change == {"v": 2, "provider_link": link}
    other = {"connection_id": str(c.connection_id), "external_id": "/cal/other.ics"}
    await registry.enqueue(c.connection_id, meeting_id, 3, {"v": 3, "provider_link": other})
    [pending] = await registry.pending(c.connection_id)
    assert pending.change == {"v": 3, "provider_link": other}  # a newer link wins


async def test_removing_a_connection_forgets_its_links(db: AsyncEngine) -> None:
    registry = Registry(db)
    c = config()
    tenant = uuid4()
    await registry.apply_config(tenant, c, removed=False)
    links = PgLinkStore(db, c.connection_id)
    await links.save(Link("/c/", "a.ics", '"1"', "h", crm_meeting_id=uuid4()))
    removed = c.model_copy(update={"config_version": 2})
    await registry.apply_config(tenant, removed, removed=True)
    assert await links.all_links() == []
    assert await registry.connection_of_user(tenant, c.user_id) is None


async def test_link_store_matches_by_external_id_meeting_and_uid(db: AsyncEngine) -> None:
    links = PgLinkStore(db, uuid4())
    meeting_id = uuid4()
    link = Link("/c/", "a.ics", '"1"', "h", crm_meeting_id=meeting_id, ical_uid="u1", base={"x": 1})
    await links.save(link)
    assert await links.by_external_id("a.ics") == link
    assert await links.by_meeting(meeting_id) == link
    assert await links.by_uid("u1") == link
    moved = Link("/c/", "b.ics", '"2"', "h", crm_meeting_id=meeting_id, ical_uid="u1")
    await links.save(moved, replaces="a.ics")
    assert [x.external_id for x in await links.all_links()] == ["b.ics"]
    await links.save_cursor("/c/", "token-1")
    assert await links.cursor("/c/") == "token-1"
    await links.record_bad_item("/c/", "bad.ics", "unreadable")
    assert await links.bad_item_errors() == ["bad.ics: unreadable"]
    await links.clear_bad_item("bad.ics")
    assert await links.bad_item_errors() == []
