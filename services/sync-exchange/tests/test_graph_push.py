"""Graph change notifications on the Microsoft stand-in: a subscription checks our address
first (validationToken, echoed), then every change to the calendar is notified with our
clientState, until the subscription is deleted."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest

from calsync_localinfra.microsoft import LocalMicrosoft
from sync_core.errors import ItemRefused
from sync_exchange.graph.calendar import GraphCalendar
from sync_exchange.graph.client import (
    AppRegistration,
    Graph,
    MicrosoftEndpoints,
    access_token,
    graph_http,
)
from sync_exchange.push import read_notification


class Receiver:
    """Our webhook's part: echo the check, keep the notifications."""

    def __init__(self, echo: bool = True) -> None:
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if "validationToken" in query:
                    answer = query["validationToken"][0].encode() if echo else b"no"
                    self.send_response(200)
                    self.send_header("content-type", "text/plain")
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                receiver.bodies.append(body)
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/microsoft"

    def wait(self, count: int, within: float = 5.0) -> list[bytes]:
        deadline = time.monotonic() + within
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.bodies


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    threading.Thread(target=made.server.serve_forever, daemon=True).start()
    yield made
    made.server.shutdown()
    made.server.server_close()


async def test_a_subscription_notifies_changes_until_deleted(
    microsoft: LocalMicrosoft, receiver: Receiver
) -> None:
    app = AppRegistration(microsoft.client_id, microsoft.client_secret)
    endpoints = MicrosoftEndpoints(microsoft.authority, microsoft.graph_endpoint, microsoft.ca_file)
    email = f"u{uuid4().hex[:8]}@contoso.test"
    calendar_id = await asyncio.to_thread(microsoft.add_account, email)
    token = await access_token(await asyncio.to_thread(microsoft.grant, email), app, endpoints)
    event = {
        "subject": "x",
        "start": {"dateTime": "2026-12-24T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-24T11:00:00", "timeZone": "UTC"},
    }
    async with graph_http(token, endpoints) as http:
        port = GraphCalendar(Graph(http))
        channel = uuid4().hex
        subscription, expires = await port.watch(calendar_id, channel, "sealed", receiver.address)
        assert expires.timestamp() > time.time() + 2 * 86400  # Outlook allows ~2.9 days
        made = await http.post(f"me/calendars/{calendar_id}/events", json=event)
        assert made.status_code == 201
        [body] = await asyncio.to_thread(receiver.wait, 1)
        delivery = read_notification({}, {}, body)
        assert delivery is not None
        [note] = delivery.notifications
        assert (note.channel_id, note.token) == (channel, "sealed")
        assert json.loads(body)["value"][0]["changeType"] == "created"

        await port.stop(channel, subscription)
        await port.stop(channel, subscription)  # already gone: fine
        await http.post(f"me/calendars/{calendar_id}/events", json=event)
        await asyncio.sleep(0.5)
        assert len(receiver.bodies) == 1


async def test_an_address_that_fails_the_check_gets_no_subscription(
    microsoft: LocalMicrosoft,
) -> None:
    silent = Receiver(echo=False)
    threading.Thread(target=silent.server.serve_forever, daemon=True).start()
    app = AppRegistration(microsoft.client_id, microsoft.client_secret)
    endpoints = MicrosoftEndpoints(microsoft.authority, microsoft.graph_endpoint, microsoft.ca_file)
    email = f"u{uuid4().hex[:8]}@contoso.test"
    calendar_id = await asyncio.to_thread(microsoft.add_account, email)
    token = await access_token(await asyncio.to_thread(microsoft.grant, email), app, endpoints)
    try:
        async with graph_http(token, endpoints) as http:
            with pytest.raises(ItemRefused):
                await GraphCalendar(Graph(http)).watch(calendar_id, "c", "t", silent.address)
    finally:
        silent.server.shutdown()
        silent.server.server_close()


def test_the_reader_echoes_the_check_and_refuses_nonsense() -> None:
    check = read_notification({}, {"validationToken": "abc"}, b"")
    assert check is not None
    assert check.handshake is not None
    assert check.handshake.echo == "abc"
    assert read_notification({}, {}, b"not json") is None
    assert read_notification({}, {}, b'{"value": []}') is None
