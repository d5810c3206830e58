"""The CTag + ETag-diff mode, on a real Radicale made to answer as the servers that need it:
servers without RFC 6578 (no DAV:sync-token property, no sync-collection REPORT) and servers
whose tokens are broken (refused at their first use). The engine and the adapter are the real
ones; only the status table and the sink are the in-memory fakes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from calsync_contracts import Provider
from calsync_contracts.events import ProviderChangeKind
from calsync_contracts.internal import Credentials, ProbeRequest, ProbeVerdict
from calsync_localinfra.radicale import LocalRadicale
from sync_caldav.calendar import CalDavCalendar
from sync_caldav.webdav.client import DavClient
from sync_caldav.webdav.probe import probe
from sync_core.context import ConnectionContext
from sync_core.engine import SyncEngine
from sync_core.fakes import InMemoryLinkStore, RecordingSink
from sync_core.window import SyncWindow

USER, PASSWORD = "etag-mode", "etag-mode-password"
SYNC_TOKEN_ELEMENT = re.compile(rb"<(\w+:)?sync-token[^>]*>[^<]*</(\w+:)?sync-token>")
SYNC_REPORT_ELEMENT = re.compile(
    rb"<(\w+:)?supported-report>\s*<(\w+:)?report>\s*<(\w+:)?sync-collection\s*/>\s*"
    rb"</(\w+:)?report>\s*</(\w+:)?supported-report>"
)
ANY_TOKEN = re.compile(rb"<(\w+:)?sync-token>[^<]+</")


class WithoutSyncTokens(httpx.AsyncBaseTransport):
    """Radicale as a server without RFC 6578: PROPFIND answers carry no DAV:sync-token nor the
    sync-collection report among the supported ones, and that REPORT is not implemented (501)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        if request.method == "REPORT" and b"sync-collection" in body:
            return httpx.Response(501, request=request)
        request.headers["Accept-Encoding"] = "identity"  # the body is rewritten below
        response = await self.inner.handle_async_request(request)
        if request.method != "PROPFIND":
            return response
        content = SYNC_TOKEN_ELEMENT.sub(b"", await response.aread())
        content = SYNC_REPORT_ELEMENT.sub(b"", content)
        headers = {"Content-Type": response.headers.get("Content-Type", "text/xml")}
        return httpx.Response(response.status_code, headers=headers, content=content)

    async def aclose(self) -> None:
        await self.inner.aclose()


class RefusingTokens(httpx.AsyncBaseTransport):
    """Radicale as a server with broken tokens: it hands them out, then refuses every one
    (403 DAV:valid-sync-token, RFC 6578 §3.2) while ``refusing``."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.refused = 0
        self.refusing = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        token_given = b"sync-collection" in body and ANY_TOKEN.search(body)
        if request.method == "REPORT" and token_given and self.refusing:
            self.refused += 1
            error = b'<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>'
            return httpx.Response(403, request=request, content=error)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def event(uid: str, subject: str) -> str:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//another program//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261122T100000Z\r\nSUMMARY:{subject}\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


class Account:
    """One calendar on Radicale, our engine syncing it through ``transport``, and a plain HTTP
    client standing for the user's calendar program."""

    def __init__(self, radicale: LocalRadicale, transport: httpx.AsyncBaseTransport) -> None:
        self.calendar_url = radicale.make_calendar(USER, f"c{uuid4().hex[:10]}")
        credentials = Credentials(kind="basic", username=USER, secret=PASSWORD)
        self.client = DavClient(radicale.url, credentials, transport=transport)
        self.links = InMemoryLinkStore()
        self.sink = RecordingSink()
        self.ctx = ConnectionContext(
            connection_id=uuid4(),
            tenant_id=uuid4(),
            user_id=uuid4(),
            provider=Provider.CALDAV,
            calendars=(self.calendar_url,),
            window=SyncWindow.around(datetime.now(UTC), 3, 12),
        )
        self.user = httpx.AsyncClient(auth=(USER, PASSWORD))

    async def pull(self) -> tuple[list[tuple[ProviderChangeKind, str]], int]:
        """One pass with a fresh adapter (as each worker pass makes): what it published, and
        the requests it made."""
        before, self.sink.published = self.client.request_count, []
        engine = SyncEngine(self.ctx, CalDavCalendar(self.client), self.links, self.sink)
        await engine.pull()
        published = sorted((c.kind, c.external_id.rsplit("/", 1)[-1]) for c in self.sink.published)
        return published, self.client.request_count - before

    async def cursor(self) -> str:
        cursor = await self.links.cursor(self.calendar_url)
        assert cursor is not None
        return cursor

    async def put(self, name: str, subject: str) -> None:
        uid = name.removesuffix(".ics")
        response = await self.user.put(self.calendar_url + name, content=event(uid, subject))
        assert response.status_code in (201, 204), response.text

    async def delete(self, name: str) -> None:
        assert (await self.user.delete(self.calendar_url + name)).status_code in (200, 204)


@pytest.fixture
async def account_factory(radicale: LocalRadicale) -> AsyncIterator[type[Account]]:
    radicale.add_user(USER, PASSWORD)
    made: list[Account] = []

    class Made(Account):
        def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
            super().__init__(radicale, transport)
            made.append(self)

    yield Made  # type: ignore[misc]
    for account in made:
        await account.client.__aexit__(None, None, None)
        await account.user.aclose()


UPSERT, DELETE = ProviderChangeKind.UPSERT, ProviderChangeKind.DELETED


async def test_without_sync_tokens_changes_are_found_by_ctag_and_etags(
    account_factory: type[Account],
) -> None:
    account = account_factory(WithoutSyncTokens())
    for name in ("a.ics", "b.ics", "c.ics"):
        await account.put(name, f"Event {name}")
    published, _ = await account.pull()
    assert published == [(UPSERT, "a.ics"), (UPSERT, "b.ics"), (UPSERT, "c.ics")]
    assert (await account.cursor()).startswith("ctag:")

    assert await account.pull() == ([], 1)  # idle: one PROPFIND of the CTag

    await account.put("a.ics", "Edited by the user")
    await account.put("d.ics", "Added by the user")
    await account.delete("c.ics")
    published, requests = await account.pull()
    assert published == [(DELETE, "c.ics"), (UPSERT, "a.ics"), (UPSERT, "d.ics")]
    # CTag (changed); CTag before listing; the ETag listing; ONE multiget (a and d only); a GET
    # confirming that c, missing from the listing, is gone.
    assert requests == 5
    assert await account.pull() == ([], 1)


async def test_a_server_refusing_its_fresh_tokens_is_synced_by_ctag_from_then_on(
    account_factory: type[Account],
) -> None:
    transport = RefusingTokens()
    account = account_factory(transport)
    await account.put("a.ics", "First")
    assert (await account.pull())[0] == [(UPSERT, "a.ics")]
    assert (await account.cursor()).startswith("sync:fresh:")

    assert (await account.pull())[0] == []  # the token is refused: a full listing instead
    assert transport.refused == 1
    assert (await account.cursor()).startswith("sync:suspect:")  # once may be bad luck
    assert (await account.pull())[0] == []  # refused again at its first use: broken
    assert transport.refused == 2
    assert (await account.cursor()).startswith("ctag:")

    await account.put("a.ics", "Edited")
    assert (await account.pull())[0] == [(UPSERT, "a.ics")]
    assert await account.pull() == ([], 1)
    assert transport.refused == 2  # never asked again


async def test_one_refused_fresh_token_is_not_yet_broken(account_factory: type[Account]) -> None:
    """A server restored from a backup refuses the token once; the next one works."""
    transport = RefusingTokens()
    account = account_factory(transport)
    await account.put("a.ics", "First")
    await account.pull()
    await account.pull()  # refused
    transport.refusing = False
    await account.pull()
    cursor = await account.cursor()
    assert cursor.startswith("sync:")
    assert not cursor.startswith(("sync:fresh:", "sync:suspect:"))


async def test_a_working_token_stays_in_sync_collection_mode(
    account_factory: type[Account],
) -> None:
    """The control: Radicale as it is keeps RFC 6578; an idle poll is one sync-collection."""
    account = account_factory(httpx.AsyncHTTPTransport())
    await account.put("a.ics", "First")
    await account.pull()
    await account.pull()
    cursor = await account.cursor()
    assert cursor.startswith("sync:")
    assert not cursor.startswith("sync:fresh:")
    await account.put("b.ics", "Second")
    assert await account.pull() == ([(UPSERT, "b.ics")], 2)  # sync-collection + one multiget


async def test_the_connection_test_warns_of_the_slower_mode(radicale: LocalRadicale) -> None:
    radicale.add_user(USER, PASSWORD)
    radicale.make_calendar(USER, "probed")
    credentials = Credentials(kind="basic", username=USER, secret=PASSWORD)
    request = ProbeRequest(server_url=radicale.url, credentials=credentials)
    allow = [radicale.url.split("//", 1)[1].split("/", 1)[0]]
    plain = await probe(request, allow)
    without = await probe(request, allow, transport=WithoutSyncTokens())
    assert (plain.verdict, without.verdict) == (ProbeVerdict.OK, ProbeVerdict.NO_SYNC_TOKEN)
    assert "slower" in without.message
