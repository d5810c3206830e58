"""CalDAV sync benchmark: prints figures, asserts nothing (`make bench`).

On a real Radicale calendar of N events (default 5,000):
1. initial import: the engine's first full sync through the real CalDAV adapter, the real
   PostgreSQL status table and an in-memory sink for the changes (crm-api's side of applying
   them is not in this figure); requests made;
2. incremental sync after 10 events changed on the server: time and requests (must be
   O(changes));
3. idle poll: requests (must be 1);
4. the same calendar mirrored by vdirsyncer (PyPI) to a local folder, its first sync and its
   sync after the same 10 changes, timed in the same run, as the peer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from calsync_contracts import Provider
from calsync_contracts.events import ProviderChange
from calsync_contracts.internal import Credentials
from calsync_localinfra.postgres import LocalPostgres
from calsync_localinfra.radicale import LocalRadicale
from sync_caldav.calendar import CalDavCalendar
from sync_caldav.webdav.client import DavClient
from sync_core.context import ConnectionContext
from sync_core.engine import SyncEngine
from sync_core.window import SyncWindow
from sync_store.link_store import PgLinkStore
from sync_store.migrate import upgrade

USER, PASSWORD = "bench", "bench-password"


@dataclass
class ListSink:
    changes: list[ProviderChange] = field(default_factory=list)

    async def publish(self, change: ProviderChange) -> None:
        self.changes.append(change)


def event(uid: str, subject: str, start: datetime) -> str:
    end = start + timedelta(hours=1)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261122T100000Z\r\nSUMMARY:{subject}\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{end:%Y%m%dT%H%M%SZ}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def populate(radicale: LocalRadicale, calendar: str, count: int) -> list[str]:
    """``count`` events spread over the next months, written straight into Radicale's storage
    folder (one file per resource, as Radicale keeps them): a PUT each would take minutes, and
    Radicale slows down as a collection grows."""
    folder = radicale.base_dir / "collections" / "collection-root" / USER / calendar
    names = [f"{uuid4().hex}.ics" for _ in range(count)]
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    for i, name in enumerate(names):
        uid = name.removesuffix(".ics")
        (folder / name).write_text(event(uid, f"Event {i}", start + timedelta(hours=i % 4000)))
    return names


async def warm_up(calendar_url: str) -> float:
    """Radicale builds its item cache on the first listing: paid here, once per calendar, so
    neither tool under test pays it."""
    started = time.perf_counter()
    async with httpx.AsyncClient(auth=(USER, PASSWORD), timeout=600) as client:
        body = (
            '<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token/>'
            "<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"
        )
        response = await client.request("REPORT", calendar_url, content=body)
        response.raise_for_status()
    return time.perf_counter() - started


async def change_ten(calendar_url: str, names: list[str]) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    async with httpx.AsyncClient(auth=(USER, PASSWORD), timeout=60) as client:
        for i, name in enumerate(names[:10]):
            body = event(name.removesuffix(".ics"), f"Changed {i}", start + timedelta(hours=i))
            (await client.put(calendar_url + name, content=body)).raise_for_status()


async def ours(
    radicale: LocalRadicale, calendar_url: str, database_url: str, names: list[str]
) -> dict[str, float]:
    await asyncio.to_thread(upgrade, database_url)
    db = create_async_engine(database_url, pool_size=5)
    now = datetime.now(UTC)
    ctx = ConnectionContext(
        connection_id=uuid4(),
        tenant_id=uuid4(),
        user_id=uuid4(),
        provider=Provider.CALDAV,
        calendars=(calendar_url,),
        window=SyncWindow.around(now, 3, 12),
    )
    links = PgLinkStore(db, ctx.connection_id)
    credentials = Credentials(kind="basic", username=USER, secret=PASSWORD)
    figures: dict[str, float] = {}
    async with DavClient(radicale.url, credentials, timeout=120) as client:
        sink = ListSink()
        engine = SyncEngine(ctx, CalDavCalendar(client), links, sink)
        started = time.perf_counter()
        report = await engine.pull()
        figures["import_s"] = time.perf_counter() - started
        figures["import_requests"] = client.request_count
        figures["imported"] = report.published

        await change_ten(calendar_url, names)
        before, sink.changes = client.request_count, []
        started = time.perf_counter()
        await engine.pull()
        figures["incremental_s"] = time.perf_counter() - started
        figures["incremental_requests"] = client.request_count - before
        figures["incremental_published"] = len(sink.changes)

        before = client.request_count
        started = time.perf_counter()
        await engine.pull()
        figures["idle_s"] = time.perf_counter() - started
        figures["idle_requests"] = client.request_count - before
    await db.dispose()
    return figures


def vdirsyncer(
    radicale: LocalRadicale, calendar_url: str, work: Path, names: list[str]
) -> dict[str, float]:
    mirror = work / "mirror"
    mirror.mkdir()
    config = work / "vdirsyncer.conf"
    config.write_text(
        f"""[general]
status_path = "{work / "status"}"

[pair bench]
a = "radicale"
b = "folder"
collections = null
conflict_resolution = "a wins"

[storage radicale]
type = "caldav"
url = "{calendar_url}"
username = "{USER}"
password = "{PASSWORD}"

[storage folder]
type = "filesystem"
path = "{mirror}"
fileext = ".ics"
"""
    )
    binary = str(Path(sys.executable).parent / "vdirsyncer")
    env = {**os.environ, "VDIRSYNCER_CONFIG": str(config)}

    def run(*args: str) -> float:
        started = time.perf_counter()
        done = subprocess.run([binary, *args], env=env, capture_output=True, text=True, input="")
        if done.returncode != 0:
            raise RuntimeError(f"vdirsyncer {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return time.perf_counter() - started

    run("discover")  # one-off set-up, not timed
    figures = {"import_s": run("sync")}
    asyncio.run(change_ten(calendar_url, names))
    figures["incremental_s"] = run("sync")
    figures["idle_s"] = run("sync")
    figures["mirrored"] = float(len(list(mirror.glob("*.ics"))))
    return figures


def report(events: int, mine: dict[str, float], peer: dict[str, float]) -> None:
    rate = mine["imported"] / mine["import_s"]
    print(f"\nCalDAV sync, {events} events on Radicale (ours | vdirsyncer | vdirsyncer/ours)")
    print(
        f"  initial import  {mine['import_s']:8.2f} s | {peer['import_s']:8.2f} s | "
        f"{peer['import_s'] / mine['import_s']:5.1f}x   ours: {mine['imported']:.0f} items, "
        f"{mine['import_requests']:.0f} requests, {rate:.0f} items/s"
    )
    print(
        f"  10 changes      {mine['incremental_s']:8.3f} s | {peer['incremental_s']:8.3f} s | "
        f"{peer['incremental_s'] / mine['incremental_s']:5.1f}x   ours: "
        f"{mine['incremental_requests']:.0f} requests, "
        f"{mine['incremental_published']:.0f} published"
    )
    print(
        f"  idle poll       {mine['idle_s']:8.3f} s | {peer['idle_s']:8.3f} s | "
        f"{peer['idle_s'] / mine['idle_s']:5.1f}x   ours: {mine['idle_requests']:.0f} request"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calsync-bench-caldav-") as tmp:
        work = Path(tmp)
        with (
            LocalPostgres(work / "pg", durable=False) as postgres,
            LocalRadicale(work / "radicale") as radicale,
        ):
            radicale.add_user(USER, PASSWORD)
            ours_url = radicale.make_calendar(USER, "ours")
            peer_url = radicale.make_calendar(USER, "peer")
            started = time.perf_counter()
            names = populate(radicale, "ours", args.events)
            peer_names = populate(radicale, "peer", args.events)
            warm = asyncio.run(warm_up(ours_url)) + asyncio.run(warm_up(peer_url))
            print(
                f"populated 2 x {args.events} events in {time.perf_counter() - started:.1f} s "
                f"(Radicale's cache warm-up {warm:.1f} s)"
            )
            database = postgres.create_database("bench")
            mine = asyncio.run(ours(radicale, ours_url, database.async_url, names))
            peer = vdirsyncer(radicale, peer_url, work, peer_names)
    report(args.events, mine, peer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
