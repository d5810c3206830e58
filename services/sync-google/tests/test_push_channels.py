"""Google push channels on the Google stand-in: ``events.watch`` opens one (a ``sync``
handshake first), a change is notified with our token, ``channels.stop`` ends it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import uuid4

import pytest

from calsync_localinfra.google import LocalGoogle
from sync_google.api import GoogleEndpoints, OAuthClient, calendar_service
from sync_google.calendar import GoogleCalendar
from sync_google.push import read_notification


class Receiver:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/google"

    def states(self, within: float = 5.0, count: int = 1) -> list[str]:
        deadline = time.monotonic() + within
        while len(self.headers) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return [h["x-goog-resource-state"] for h in self.headers]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    thread = threading.Thread(target=made.server.serve_forever, daemon=True)
    thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()


async def test_a_channel_notifies_changes_until_stopped(
    google: LocalGoogle, receiver: Receiver
) -> None:
    email = f"u{uuid4().hex[:8]}@example.com"
    await asyncio.to_thread(google.add_account, email)
    client = OAuthClient(google.client_id, google.client_secret)
    endpoints = GoogleEndpoints(google.api_endpoint, google.token_uri, google.auth_uri)
    service = calendar_service(await asyncio.to_thread(google.grant, email), client, endpoints)
    port = GoogleCalendar(service)
    try:
        channel_id = uuid4().hex
        resource_id, expires = await port.watch(email, channel_id, "our-token", receiver.address)
        assert await asyncio.to_thread(receiver.states) == ["sync"]
        assert expires.timestamp() > time.time() + 6 * 86400  # a week, Google's default

        body = {"summary": "x", "start": {"date": "2026-12-24"}, "end": {"date": "2026-12-25"}}
        await asyncio.to_thread(service.events().insert(calendarId=email, body=body).execute)
        assert await asyncio.to_thread(receiver.states, 5.0, 2) == ["sync", "exists"]
        delivery = read_notification(receiver.headers[1], {}, b"")
        assert delivery is not None
        [note] = delivery.notifications
        assert (note.channel_id, note.token, note.initial) == (channel_id, "our-token", False)

        await port.stop(channel_id, resource_id)
        await port.stop(channel_id, resource_id)  # already stopped: fine
        await asyncio.to_thread(service.events().insert(calendarId=email, body=body).execute)
        await asyncio.sleep(0.5)
        assert len(receiver.headers) == 2
    finally:
        service.close()
