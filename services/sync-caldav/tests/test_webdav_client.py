"""What the CalDAV client does with answers the local servers never give: a truncated
sync-collection (507, RFC 6578 §3.6), token refusals in every form servers use, Retry-After,
redirects to another host, and the SSRF guard."""

from __future__ import annotations

import httpx
import pytest

from calsync_contracts.internal import Credentials
from sync_caldav.webdav.client import DavClient
from sync_core.errors import (
    AuthError,
    CursorInvalid,
    NotACalendarServer,
    TemporaryError,
    Unreachable,
)
from sync_runtime.ssrf import ForbiddenAddress, check_url

CAL = "http://dav.test/cal/"
CREDENTIALS = Credentials(kind="basic", username="u", secret="p")


def multistatus(*responses: str, token: str) -> str:
    return (
        '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">'
        + "".join(responses)
        + f"<d:sync-token>{token}</d:sync-token></d:multistatus>"
    )


def member(href: str, etag: str) -> str:
    return (
        f"<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:getetag>{etag}</d:getetag>"
        "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )


def gone(href: str) -> str:
    status = "<d:status>HTTP/1.1 404 Not Found</d:status>"
    return f"<d:response><d:href>{href}</d:href>{status}</d:response>"


TRUNCATED = (
    "<d:response><d:href>/cal/</d:href>"
    "<d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>"
)


def client_for(handler) -> DavClient:
    return DavClient("http://dav.test/", CREDENTIALS, transport=httpx.MockTransport(handler))


async def test_a_truncated_sync_collection_is_continued_with_the_new_token() -> None:
    pages = {
        "t0": multistatus(member("/cal/a.ics", '"1"'), gone("/cal/x.ics"), TRUNCATED, token="t1"),
        "t1": multistatus(member("/cal/b.ics", '"2"'), member("/cal/a%20b.ics", '"3"'), token="t2"),
    }
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.content.decode().split("<D:sync-token>")[1].split("<")[0]
        asked.append(token)
        return httpx.Response(207, text=pages[token])

    async with client_for(handler) as client:
        result = await client.sync_collection(CAL, "t0")
        assert asked == ["t0", "t1"]
        assert result.changed == [
            ("/cal/a.ics", '"1"'),
            ("/cal/b.ics", '"2"'),
            ("/cal/a b.ics", '"3"'),
        ]
        assert result.deleted == ["/cal/x.ics"]
        assert result.token == "t2"
        assert client.request_count == 2


@pytest.mark.parametrize("status", [403, 409, 410, 412, 418])
async def test_every_form_of_token_refusal_means_list_again(status: int) -> None:
    async with client_for(lambda request: httpx.Response(status)) as client:
        with pytest.raises(CursorInvalid):
            await client.sync_collection(CAL, "old")


async def test_busy_servers_are_temporary_and_retry_after_is_read() -> None:
    answer = httpx.Response(503, headers={"Retry-After": "120"})
    async with client_for(lambda request: answer) as client:
        with pytest.raises(TemporaryError) as busy:
            await client.get(CAL + "a.ics")
    assert busy.value.retry_after_seconds == 120


async def test_refused_credentials_are_an_auth_error() -> None:
    async with client_for(lambda request: httpx.Response(401)) as client:
        with pytest.raises(AuthError):
            await client.get(CAL + "a.ics")


async def test_a_redirect_to_another_host_is_not_followed() -> None:
    answer = httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})
    async with client_for(lambda request: answer) as client:
        with pytest.raises(NotACalendarServer):
            await client.get(CAL + "a.ics")


async def test_a_closed_port_is_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client_for(refuse) as client:
        with pytest.raises(Unreachable):
            await client.get(CAL + "a.ics")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5232/",
        "http://localhost/",
        "http://10.1.2.3/dav/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "ftp://dav.example.com/",
        "file:///etc/passwd",
    ],
)
async def test_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(ForbiddenAddress):
        await check_url(url, allow=())


async def test_the_allow_list_admits_a_host_port_or_a_network() -> None:
    await check_url("http://127.0.0.1:5232/", allow=["127.0.0.1:5232"])
    await check_url("http://10.1.2.3/dav/", allow=["10.0.0.0/8"])
    with pytest.raises(ForbiddenAddress):
        await check_url("http://127.0.0.1:5233/", allow=["127.0.0.1:5232"])
