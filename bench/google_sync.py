"""Google sync benchmark: prints figures, asserts nothing (`make bench`).

On a calendar of N events (default 5,000) on the Google stand-in, through the real client
library (google-api-python-client) and the real PostgreSQL status table, changes going to an
in-memory sink:
1. initial import: the engine's first full sync; API requests made (events.list pages of 2,500);
2. incremental sync after 10 events changed in Google: time and requests (O(changes): one
   events.list with the sync token);
3. idle poll: requests (1);
4. push: from a change in Google to our webhook being called (the stand-in's delivery; the
   sync pass it starts is figure 2).
The stand-in answers faster than Google does over the internet: the request counts carry over,
the times are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import create_async_engine

from bench.provider_report import print_sync_figures
from calsync_contracts import Provider
from calsync_contracts.events import ProviderChange
from calsync_localinfra.google import LocalGoogle
from calsync_localinfra.postgres import LocalPostgres
from sync_core.context import ConnectionContext
from sync_core.engine import SyncEngine
from sync_core.window import SyncWindow
from sync_google.api import GoogleEndpoints, OAuthClient, calendar_service
from sync_google.calendar import GoogleCalendar
from sync_store.link_store import PgLinkStore
from sync_store.migrate import upgrade

EMAIL = "bench@gmail.test"


@dataclass
class ListSink:
    changes: list[ProviderChange] = field(default_factory=list)

    async def publish(self, change: ProviderChange) -> None:
        self.changes.append(change)


def body(n: int, start: datetime, subject: str) -> dict[str, Any]:
    begins = start + timedelta(hours=n % 4000)
    return {
        "summary": subject,
        "start": {"dateTime": begins.isoformat()},
        "end": {"dateTime": (begins + timedelta(hours=1)).isoformat()},
    }


def populate(google: LocalGoogle, count: int) -> list[str]:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    ids: list[str] = []
    for first in range(0, count, 1000):
        chunk = [body(n, start, f"Event {n}") for n in range(first, min(first + 1000, count))]
        ids += google.put_many(EMAIL, chunk)
    return ids


def change_ten(events: Any, ids: list[str]) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    for n, event_id in enumerate(ids[:10]):
        events.update(
            calendarId=EMAIL, eventId=event_id, body=body(n, start, f"Changed {n}")
        ).execute()


async def ours(google: LocalGoogle, database_url: str, ids: list[str]) -> dict[str, float]:
    await asyncio.to_thread(upgrade, database_url)
    db = create_async_engine(database_url, pool_size=5)
    ctx = ConnectionContext(
        connection_id=uuid4(),
        tenant_id=uuid4(),
        user_id=uuid4(),
        provider=Provider.GOOGLE,
        calendars=(EMAIL,),
        window=SyncWindow.around(datetime.now(UTC), 3, 12),
    )
    client = OAuthClient(google.client_id, google.client_secret)
    endpoints = GoogleEndpoints(google.api_endpoint, google.token_uri, google.auth_uri)
    service = calendar_service(await asyncio.to_thread(google.grant, EMAIL), client, endpoints)
    theirs = calendar_service(await asyncio.to_thread(google.grant, EMAIL), client, endpoints)
    sink = ListSink()
    engine = SyncEngine(ctx, GoogleCalendar(service), PgLinkStore(db, ctx.connection_id), sink)
    figures: dict[str, float] = {}

    async def timed(name: str) -> None:
        before = await asyncio.to_thread(google.requests)
        started = time.perf_counter()
        report = await engine.pull()
        figures[f"{name}_s"] = time.perf_counter() - started
        figures[f"{name}_requests"] = await asyncio.to_thread(google.requests) - before
        figures[f"{name}_published"] = report.published

    await timed("import")
    await asyncio.to_thread(change_ten, theirs.events(), ids)
    await timed("incremental")
    await timed("idle")
    figures["push_ms"] = await push_latency(GoogleCalendar(service), theirs.events())
    service.close()
    theirs.close()
    await db.dispose()
    return figures


async def push_latency(port: GoogleCalendar, theirs: Any, samples: int = 20) -> float:
    """Median milliseconds from an insert's answer to the notification reaching the webhook."""
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.headers.get("X-Goog-Resource-State") == "exists":
                arrived.set()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{server.server_address[1]}/webhooks/google"
    channel = uuid4().hex
    resource, _ = await port.watch(EMAIL, channel, "bench", address)
    start = datetime.now(UTC) + timedelta(days=3)
    delays = []
    for n in range(samples):
        arrived.clear()
        await asyncio.to_thread(
            theirs.insert(calendarId=EMAIL, body=body(n, start, "push")).execute
        )
        answered = time.perf_counter()
        await asyncio.to_thread(arrived.wait, 5)
        delays.append((time.perf_counter() - answered) * 1000)
    await port.stop(channel, resource)
    server.shutdown()
    server.server_close()
    return sorted(delays)[len(delays) // 2]


def report(events: int, mine: dict[str, float]) -> None:
    print_sync_figures(
        f"Google sync, {events} events on the Google stand-in (client library, real status table)",
        "API",
        mine,
    )
    print(f"  push delivered  {mine['push_ms']:8.1f} ms after the change (median of 20)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calsync-bench-google-") as tmp:
        work = Path(tmp)
        with (
            LocalPostgres(work / "pg", durable=False) as postgres,
            LocalGoogle(work / "google", accounts=(EMAIL,)) as google,
        ):
            started = time.perf_counter()
            ids = populate(google, args.events)
            print(f"populated {args.events} events in {time.perf_counter() - started:.1f} s")
            database = postgres.create_database("bench")
            mine = asyncio.run(ours(google, database.async_url, ids))
    report(args.events, mine)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
