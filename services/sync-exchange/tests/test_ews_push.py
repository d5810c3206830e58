"""EWS push notifications end to end, on the EWS stand-in: sync-exchange's real webhook (the
shared route with its reader, on a local server) and the real channel store (PostgreSQL). A
change in Outlook makes the webhook ask for a sync of the connection; a status ping does not;
a channel no longer kept is answered Unsubscribe, which ends the subscription at Exchange."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import exchangelib
import pytest
import uvicorn
from exchangelib.folders import Calendar as CalendarFolder
from sqlalchemy.ext.asyncio import create_async_engine

from calsync_contracts.internal import Credentials
from calsync_localinfra.ews import LocalExchangeServer
from calsync_localinfra.ports import LOCALHOST, free_port
from sync_exchange.ews.calendar import EwsCalendar
from sync_exchange.ews.session import Mailbox
from sync_exchange.push import WEBHOOK_PATH, read_notification
from sync_runtime.push import PushConfig, keep_channels, webhook_route
from sync_store.migrate import upgrade
from sync_store.push_channels import PushChannelStore

pytestmark = pytest.mark.integration

PASSWORD = "mailbox-password"
KEY = b"internal-token-for-the-tests-0123456789"


class Webhook:
    """sync-exchange's webhook on a local address Exchange can call."""

    def __init__(self, store: PushChannelStore) -> None:
        self.asked: list[UUID] = []
        port = free_port(LOCALHOST)
        self.address = f"http://{LOCALHOST}:{port}{WEBHOOK_PATH}"
        self.config = PushConfig(self.address, KEY, WEBHOOK_PATH, read_notification)
        app = webhook_route(store, self.config, self._request_sync)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=LOCALHOST, port=port, log_level="warning", lifespan="off")
        )

    async def _request_sync(self, connection_id: UUID) -> None:
        self.asked.append(connection_id)


@pytest.fixture
async def store(fresh_database: str) -> AsyncIterator[PushChannelStore]:
    await asyncio.to_thread(upgrade, fresh_database)
    engine = create_async_engine(fresh_database)
    yield PushChannelStore(engine)
    await engine.dispose()


@pytest.fixture
async def webhook(store: PushChannelStore) -> AsyncIterator[Webhook]:
    made = Webhook(store)
    serving = asyncio.create_task(made.server.serve())
    await until(lambda: bool(made.server.started))
    yield made
    made.server.should_exit = True
    await serving


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    for _ in range(int(within / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)


def make_in_outlook(mailbox: Mailbox, folder_id: str, subject: str) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    exchangelib.CalendarItem(
        account=mailbox.account,
        folder=CalendarFolder(root=mailbox.account.root, id=folder_id),
        subject=subject,
        start=exchangelib.EWSDateTime.from_datetime(start),
        end=exchangelib.EWSDateTime.from_datetime(start + timedelta(hours=1)),
    ).save()


async def test_changes_are_pushed_until_the_channel_is_dropped(
    exchange_server: LocalExchangeServer, store: PushChannelStore, webhook: Webhook
) -> None:
    email = f"p{uuid4().hex[:10]}@corp.test"
    folder_id = await asyncio.to_thread(exchange_server.add_account, email, PASSWORD)
    credentials = Credentials(kind="basic", username=email, secret=PASSWORD)
    ours, outlook = (Mailbox(exchange_server.ews_url, credentials) for _ in range(2))
    connection = uuid4()
    try:
        calendar = EwsCalendar(ours)
        await keep_channels(
            calendar, store, webhook.config, connection, [folder_id], datetime.now(UTC)
        )
        [channel] = await store.of_connection(connection)
        [subscription] = [
            s
            for s in await asyncio.to_thread(exchange_server.subscriptions)
            if s["mailbox"] == email
        ]
        assert (subscription["id"], subscription["alive"]) == (channel.resource_id, True)

        await asyncio.to_thread(make_in_outlook, outlook, folder_id, "Made in Outlook")
        await until(lambda: webhook.asked == [connection])
        assert webhook.asked == [connection]

        await asyncio.to_thread(exchange_server.ping_subscriptions)  # nothing changed
        await asyncio.sleep(0.5)
        assert webhook.asked == [connection]

        await store.remove(channel.channel_id)  # replaced, or its connection removed
        await asyncio.to_thread(make_in_outlook, outlook, folder_id, "After")

        for _ in range(50):
            listed = await asyncio.to_thread(exchange_server.subscriptions)
            if any(s["id"] == channel.resource_id and not s["alive"] for s in listed):
                break
            await asyncio.sleep(0.1)
        [after] = [
            s
            for s in await asyncio.to_thread(exchange_server.subscriptions)
            if s["id"] == channel.resource_id
        ]
        assert (after["alive"], after["ended"]) == (False, "Unsubscribe")
        assert webhook.asked == [connection]
    finally:
        ours.close()
        outlook.close()


def test_the_reader_refuses_what_is_not_a_notification() -> None:
    xml = {"content-type": "text/xml; charset=utf-8"}
    assert read_notification(xml, {"channel": "c", "token": "t"}, b"<not-soap/>") is None
    assert read_notification(xml, {}, b"<x/>") is None  # no channel in the address
