"""Exchange Server (EWS) sync benchmark: prints figures, asserts nothing (`make bench`).

On a calendar of N events (default 5,000) on the EWS stand-in (SOAP over HTTP, HTTP Basic),
through exchangelib and the real PostgreSQL status table, changes going to an in-memory sink:
1. initial import: the engine's first full sync (SyncFolderItems rounds of 512 asking for ids,
   change keys and times, then GetItem in exchangelib's batches of 100);
2. incremental sync after 10 events changed in Outlook (exchangelib with a login of its own):
   time and requests (SyncFolderItems from the saved state, GetItem for what changed);
3. idle poll: requests.
Requests are the stand-in's count (every POST to the EWS endpoint, 401s included), split by
operation from exchangelib's request log. The stand-in answers from memory on the loopback
address: request counts carry over to Exchange, times are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from exchangelib import CalendarItem, EWSDateTime
from exchangelib.folders import Calendar
from sqlalchemy.ext.asyncio import create_async_engine

from bench.provider_report import print_sync_figures
from calsync_contracts import Provider
from calsync_contracts.events import ProviderChange
from calsync_contracts.internal import Credentials
from calsync_localinfra.ews import LocalExchangeServer
from calsync_localinfra.postgres import LocalPostgres
from sync_core.context import ConnectionContext
from sync_core.engine import SyncEngine
from sync_core.window import SyncWindow
from sync_exchange.ews.calendar import EwsCalendar
from sync_exchange.ews.session import Mailbox
from sync_store.link_store import PgLinkStore
from sync_store.migrate import upgrade

EMAIL = "bench@corp.test"
PASSWORD = "bench-password"
OPERATION = re.compile(rb"<s:Body><m:(\w+)")


@dataclass
class ListSink:
    changes: list[ProviderChange] = field(default_factory=list)

    async def publish(self, change: ProviderChange) -> None:
        self.changes.append(change)


class Operations(logging.Handler):
    """EWS operations sent, by name, read off exchangelib's request log (`exchangelib.util.xml`
    logs each SOAP request it posted; the 401s of its auth-type guess are not posted there)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sent: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        sent = args.get("xml_request") if isinstance(args, dict) else None
        found = OPERATION.search(sent) if isinstance(sent, bytes) else None
        self.sent[found.group(1).decode() if found else "?"] += 1


def booking(item: CalendarItem, n: int, start: datetime, subject: str) -> CalendarItem:
    begins = start + timedelta(hours=n % 4000)
    item.subject = subject
    item.start = EWSDateTime.from_datetime(begins)
    item.end = EWSDateTime.from_datetime(begins + timedelta(hours=1))
    return item


def populate(outlook: Mailbox, calendar: str, count: int) -> list[str]:
    account = outlook.account
    folder = Calendar(root=account.root, id=calendar)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    items = [
        booking(CalendarItem(account=account, folder=folder), n, start, f"Event {n}")
        for n in range(count)
    ]
    made = account.bulk_create(folder=folder, items=items)
    return [str(m.id) for m in made]


def change_ten(outlook: Mailbox, ids: list[str]) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    for n, item in enumerate(outlook.account.fetch(ids=[(i, None) for i in ids[:10]])):
        booking(item, n, start, f"Changed {n}").save(update_fields=["subject", "start", "end"])


async def ours(exchange: LocalExchangeServer, database_url: str, count: int) -> dict[str, float]:
    await asyncio.to_thread(upgrade, database_url)
    db = create_async_engine(database_url, pool_size=5)
    calendar = await asyncio.to_thread(exchange.add_account, EMAIL, PASSWORD)
    credentials = Credentials(kind="basic", username=EMAIL, secret=PASSWORD)
    outlook = await asyncio.to_thread(Mailbox, exchange.ews_url, credentials)
    mine = await asyncio.to_thread(Mailbox, exchange.ews_url, credentials)
    figures: dict[str, float] = {}
    started = time.perf_counter()
    ids = await asyncio.to_thread(populate, outlook, calendar, count)
    print(f"populated {count} events in {time.perf_counter() - started:.1f} s")
    operations = Operations()
    request_log = logging.getLogger("exchangelib.util.xml")
    request_log.addHandler(operations)
    request_log.setLevel(logging.DEBUG)
    request_log.propagate = False  # the request bodies are megabytes: counted, never printed
    ctx = ConnectionContext(
        connection_id=uuid4(),
        tenant_id=uuid4(),
        user_id=uuid4(),
        provider=Provider.EXCHANGE,
        calendars=(calendar,),
        window=SyncWindow.around(datetime.now(UTC), 3, 12),
    )
    engine = SyncEngine(ctx, EwsCalendar(mine), PgLinkStore(db, ctx.connection_id), ListSink())

    async def timed(name: str) -> None:
        before = await asyncio.to_thread(exchange.requests)
        operations.sent.clear()
        began = time.perf_counter()
        report = await engine.pull()
        figures[f"{name}_s"] = time.perf_counter() - began
        figures[f"{name}_requests"] = await asyncio.to_thread(exchange.requests) - before
        figures[f"{name}_published"] = report.published
        sent = ", ".join(f"{op} {n}" for op, n in operations.sent.most_common())
        print(f"{name}: {sent or 'nothing'} (exchangelib's log)")

    try:
        await timed("import")
        await asyncio.to_thread(change_ten, outlook, ids)
        await timed("incremental")
        await timed("idle")
    finally:
        request_log.removeHandler(operations)
        request_log.propagate = True
        mine.close()
        outlook.close()
        await db.dispose()
    return figures


def report(events: int, mine: dict[str, float]) -> None:
    print_sync_figures(
        f"Exchange Server (EWS) sync, {events} events on the EWS stand-in", "EWS", mine
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calsync-bench-ews-") as tmp:
        work = Path(tmp)
        with (
            LocalPostgres(work / "pg", durable=False) as postgres,
            LocalExchangeServer(work / "ews") as exchange,
        ):
            database = postgres.create_database("bench")
            mine = asyncio.run(ours(exchange, database.async_url, args.events))
    report(args.events, mine)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
