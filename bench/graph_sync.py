"""Exchange Online (Graph) sync benchmark: prints figures, asserts nothing (`make bench`).

On a calendar of N events (default 5,000) on the Microsoft stand-in (HTTPS), through MSAL and
httpx and the real PostgreSQL status table, changes going to an in-memory sink:
1. initial import: the engine's first full sync (calendar view delta, pages of 500);
2. incremental sync after 10 events changed in Outlook: time and requests (one delta round);
3. idle poll: requests (1).
The stand-in answers from memory on the loopback address: request counts carry over to Graph,
times are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from bench.provider_report import print_sync_figures
from calsync_contracts import Provider
from calsync_contracts.events import ProviderChange
from calsync_localinfra.microsoft import LocalMicrosoft
from calsync_localinfra.postgres import LocalPostgres
from sync_core.context import ConnectionContext
from sync_core.engine import SyncEngine
from sync_core.window import SyncWindow
from sync_exchange.graph.calendar import GraphCalendar
from sync_exchange.graph.client import (
    AppRegistration,
    Graph,
    MicrosoftEndpoints,
    access_token,
    graph_http,
)
from sync_store.link_store import PgLinkStore
from sync_store.migrate import upgrade

EMAIL = "bench@contoso.test"
WIRE = "%Y-%m-%dT%H:%M:%S"


@dataclass
class ListSink:
    changes: list[ProviderChange] = field(default_factory=list)

    async def publish(self, change: ProviderChange) -> None:
        self.changes.append(change)


@dataclass
class Counted:
    requests: int = 0

    async def __call__(self, request: httpx.Request) -> None:
        self.requests += 1


def body(n: int, start: datetime, subject: str) -> dict[str, Any]:
    begins = start + timedelta(hours=n % 4000)
    return {
        "subject": subject,
        "start": {"dateTime": begins.strftime(WIRE), "timeZone": "UTC"},
        "end": {"dateTime": (begins + timedelta(hours=1)).strftime(WIRE), "timeZone": "UTC"},
    }


async def populate(http: httpx.AsyncClient, calendar: str, count: int) -> list[str]:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    ids: list[str] = []
    for first in range(0, count, 50):
        made = await asyncio.gather(
            *(
                http.post(f"me/calendars/{calendar}/events", json=body(n, start, f"Event {n}"))
                for n in range(first, min(first + 50, count))
            )
        )
        ids += [m.json()["id"] for m in made]
    return ids


async def ours(microsoft: LocalMicrosoft, database_url: str, count: int) -> dict[str, float]:
    await asyncio.to_thread(upgrade, database_url)
    db = create_async_engine(database_url, pool_size=5)
    app = AppRegistration(microsoft.client_id, microsoft.client_secret)
    endpoints = MicrosoftEndpoints(microsoft.authority, microsoft.graph_endpoint, microsoft.ca_file)
    calendar = await asyncio.to_thread(microsoft.add_account, EMAIL)
    theirs_token = await access_token(
        await asyncio.to_thread(microsoft.grant, EMAIL), app, endpoints
    )
    ours_token = await access_token(await asyncio.to_thread(microsoft.grant, EMAIL), app, endpoints)
    figures: dict[str, float] = {}
    async with (
        graph_http(theirs_token, endpoints) as outlook,
        graph_http(ours_token, endpoints) as mine,
    ):
        started = time.perf_counter()
        ids = await populate(outlook, calendar, count)
        print(f"populated {count} events in {time.perf_counter() - started:.1f} s")
        counted = Counted()
        mine.event_hooks = {"request": [counted], "response": []}
        ctx = ConnectionContext(
            connection_id=uuid4(),
            tenant_id=uuid4(),
            user_id=uuid4(),
            provider=Provider.EXCHANGE,
            calendars=(calendar,),
            window=SyncWindow.around(datetime.now(UTC), 3, 12),
        )
        engine = SyncEngine(
            ctx, GraphCalendar(Graph(mine)), PgLinkStore(db, ctx.connection_id), ListSink()
        )

        async def timed(name: str) -> None:
            before = counted.requests
            began = time.perf_counter()
            report = await engine.pull()
            figures[f"{name}_s"] = time.perf_counter() - began
            figures[f"{name}_requests"] = counted.requests - before
            figures[f"{name}_published"] = report.published

        await timed("import")
        moved = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
        for n, event_id in enumerate(ids[:10]):
            await outlook.patch(f"me/events/{event_id}", json=body(n, moved, f"Changed {n}"))
        await timed("incremental")
        await timed("idle")
    await db.dispose()
    return figures


def report(events: int, mine: dict[str, float]) -> None:
    print_sync_figures(
        f"Exchange Online (Graph) sync, {events} events on the Microsoft stand-in", "Graph", mine
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calsync-bench-graph-") as tmp:
        work = Path(tmp)
        with (
            LocalPostgres(work / "pg", durable=False) as postgres,
            LocalMicrosoft(work / "microsoft") as microsoft,
        ):
            database = postgres.create_database("bench")
            mine = asyncio.run(ours(microsoft, database.async_url, args.events))
    report(args.events, mine)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
