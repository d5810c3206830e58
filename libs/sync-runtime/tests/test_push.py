"""Push channels kept open after a pass, and the webhook, on real PostgreSQL (the channel
store) with a provider that records what it was asked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from sync_core.errors import TemporaryError
from sync_runtime.push import (
    Delivery,
    Handshake,
    Notification,
    PushConfig,
    channel_token,
    keep_channels,
    webhook_route,
)
from sync_store.migrate import upgrade
from sync_store.push_channels import PushChannelStore

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
KEY = b"internal-token-for-the-tests-0123456789"


def read(headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> Delivery | None:
    if "check" in query:
        return Delivery([], Handshake(query["check"]))
    if "x-channel" not in headers:
        return None
    note = Notification(
        headers["x-channel"], headers.get("x-token", ""), headers.get("x-state") == "sync"
    )
    return Delivery([note])


PUSH = PushConfig("https://sync.example.com/hook", KEY, "/hook", read)


class Provider:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.watched: list[tuple[str, str, str]] = []
        self.stopped: list[str] = []
        self.refuse = refuse or set()

    async def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str
    ) -> tuple[str, datetime]:
        if calendar_id in self.refuse:
            raise TemporaryError("no channels today")
        self.watched.append((calendar_id, channel_id, token))
        return f"res-{calendar_id}", NOW + timedelta(days=7)

    async def stop(self, channel_id: str, resource_id: str) -> None:
        self.stopped.append(channel_id)


@pytest.fixture
async def store(fresh_database: str) -> AsyncIterator[PushChannelStore]:
    await asyncio.to_thread(upgrade, fresh_database)
    engine: AsyncEngine = create_async_engine(fresh_database)
    yield PushChannelStore(engine)
    await engine.dispose()


async def test_channels_open_once_move_with_the_calendars_and_survive_a_refusal(
    store: PushChannelStore,
) -> None:
    connection, provider = uuid4(), Provider(refuse={"c"})
    await keep_channels(provider, store, PUSH, connection, ["a", "b", "c"], NOW)
    assert sorted(c for c, _, _ in provider.watched) == ["a", "b"]  # "c" refused: polled only
    assert all(token == channel_token(KEY, channel) for _, channel, token in provider.watched)
    await keep_channels(provider, store, PUSH, connection, ["a", "b"], NOW + timedelta(hours=1))
    assert len(provider.watched) == 2  # nothing to renew yet
    await keep_channels(provider, store, PUSH, connection, ["a"], NOW + timedelta(days=6, hours=1))
    assert [c for c, _, _ in provider.watched[2:]] == ["a"]  # "a" expiring: replaced
    assert len(provider.stopped) == 2  # the old "a" and the dropped "b"
    assert [c.calendar_id for c in await store.of_connection(connection)] == ["a"]


async def test_the_webhook_asks_for_a_sync_of_the_channels_connection_only(
    store: PushChannelStore,
) -> None:
    connection = uuid4()
    await keep_channels(Provider(), store, PUSH, connection, ["a"], NOW)
    [channel] = await store.of_connection(connection)
    asked: list[UUID] = []

    async def request_sync(connection_id: UUID) -> None:
        asked.append(connection_id)

    app = webhook_route(store, PUSH, request_sync)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        token = channel_token(KEY, channel.channel_id)
        handshake = {"x-channel": channel.channel_id, "x-token": token, "x-state": "sync"}
        assert (await client.post("/", headers=handshake)).status_code == 200
        assert asked == []
        changed = {"x-channel": channel.channel_id, "x-token": token, "x-state": "exists"}
        assert (await client.post("/", headers=changed)).status_code == 200
        assert asked == [connection]
        forged = changed | {"x-token": "0" * 64}
        assert (await client.post("/", headers=forged)).status_code == 401
        unknown = {"x-channel": "nope", "x-token": channel_token(KEY, "nope"), "x-state": "exists"}
        assert (await client.post("/", headers=unknown)).status_code == 200
        assert (await client.post("/", headers={})).status_code == 400
        checked = await client.post("/?check=echo-me")  # a provider checking the address
        assert (checked.status_code, checked.text) == (200, "echo-me")
    assert asked == [connection]


async def test_a_provider_that_wants_an_answer_hears_whether_the_channel_is_kept(
    store: PushChannelStore,
) -> None:
    """EWS ends a push subscription only when told Unsubscribe in the answer."""
    connection = uuid4()
    await keep_channels(Provider(), store, PUSH, connection, ["a"], NOW)
    [channel] = await store.of_connection(connection)

    def answering(headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> Delivery:
        note = Notification(query["channel"], channel_token(KEY, query["channel"]), False)
        return Delivery([note], reply=lambda kept: (b"OK" if kept else b"Unsubscribe", b"text/x"))

    async def request_sync(connection_id: UUID) -> None:
        return None

    app = webhook_route(store, PushConfig(PUSH.address, KEY, "/hook", answering), request_sync)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        kept = await client.post(f"/?channel={channel.channel_id}", content=b"<x/>")
        assert (kept.status_code, kept.text, kept.headers["content-type"]) == (200, "OK", "text/x")
        gone = await client.post("/?channel=forgotten", content=b"<x/>")
        assert (gone.status_code, gone.text) == (200, "Unsubscribe")
