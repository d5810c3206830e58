"""The connection test against real servers: one verdict per way a set-up can go wrong."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator

import pytest

from calsync_contracts.internal import Credentials, ProbeRequest, ProbeVerdict
from calsync_localinfra import free_port
from calsync_localinfra.radicale import LocalRadicale
from calsync_localinfra.xandikos import LocalXandikos
from sync_caldav.webdav.probe import probe

USER, PASSWORD = "probe", "probe-password"


def request(url: str, password: str = PASSWORD, user: str = USER) -> ProbeRequest:
    return ProbeRequest(
        server_url=url, credentials=Credentials(kind="basic", username=user, secret=password)
    )


def allow(url: str) -> list[str]:
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    return [host_port]


@pytest.fixture(scope="module")
def plain_web_server() -> Iterator[str]:
    """An HTTP server that is no CalDAV server (answers 501 to PROPFIND)."""
    port = free_port()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), http.server.SimpleHTTPRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/"
    server.shutdown()
    server.server_close()


async def test_a_working_account_lists_its_calendars(radicale: LocalRadicale) -> None:
    radicale.add_user(USER, PASSWORD)
    calendar = radicale.make_calendar(USER, "work", "Work")
    result = await probe(request(radicale.url), allow(radicale.url))
    assert result.verdict is ProbeVerdict.OK
    assert [(c.id, c.name, c.supports_sync_token) for c in result.calendars] == [
        (calendar, "Work", True)
    ]


async def test_a_calendar_url_itself_works_too(xandikos: LocalXandikos) -> None:
    calendar = xandikos.make_calendar("probe")
    result = await probe(request(calendar, user="any"), allow(calendar))
    assert result.verdict is ProbeVerdict.OK
    assert [c.id for c in result.calendars] == [calendar]


async def test_a_wrong_password_is_named(radicale: LocalRadicale) -> None:
    radicale.add_user(USER, PASSWORD)
    result = await probe(request(radicale.url, password="wrong"), allow(radicale.url))
    assert result.verdict is ProbeVerdict.WRONG_CREDENTIALS
    assert "password" in result.message


async def test_an_account_without_calendars_is_named(radicale: LocalRadicale) -> None:
    radicale.add_user("empty", PASSWORD)
    result = await probe(request(radicale.url, user="empty"), allow(radicale.url))
    assert result.verdict is ProbeVerdict.NO_CALENDAR


async def test_a_closed_port_is_unreachable_within_seconds() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    started = asyncio.get_running_loop().time()
    result = await probe(request(url), allow(url))
    assert result.verdict is ProbeVerdict.UNREACHABLE
    assert asyncio.get_running_loop().time() - started < 8


async def test_a_web_server_that_is_not_caldav_is_named(plain_web_server: str) -> None:
    result = await probe(request(plain_web_server), allow(plain_web_server))
    assert result.verdict is ProbeVerdict.NOT_CALDAV


async def test_an_internal_address_not_allow_listed_is_refused(radicale: LocalRadicale) -> None:
    result = await probe(request(radicale.url), allow=[])
    assert result.verdict is ProbeVerdict.FORBIDDEN_ADDRESS
    assert "internal address" in result.message
