"""A thin async CalDAV client over httpx: each method is one protocol step, every response goes
through ``errors.raise_for_status`` and is parsed by ``xml``. Counts its requests (benchmarks
require an idle poll to cost one request and an incremental sync O(changes))."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpx

from calsync_contracts.internal import AuthKind, CalendarInfo, Credentials
from sync_caldav.webdav import xml
from sync_caldav.webdav.errors import raise_for_status
from sync_core.errors import CursorInvalid, NotACalendarServer, PreconditionFailed, Unreachable

MULTIGET_CHUNK = 100
Resource = tuple[str, str | None, bytes]
"""(href, ETag, iCalendar data) of one calendar object resource."""
MAX_REDIRECTS = 3
TOKEN_INVALID = frozenset({403, 409, 410, 412, 418})
"""RFC 6578 §3.2 says 403 with DAV:valid-sync-token; servers also answer 409, 410, 412 and
(Nextcloud, after deletions) 418."""


@dataclass(frozen=True, slots=True)
class SyncResult:
    changed: list[tuple[str, str | None]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    token: str = ""


class DavClient:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.request_count = 0
        secret = credentials.secret.get_secret_value()
        auth: httpx.Auth | None = None
        headers = {"User-Agent": "calsync/1"}
        match credentials.kind:
            case AuthKind.BASIC:
                auth = httpx.BasicAuth(credentials.username, secret)
            case AuthKind.DIGEST:
                auth = httpx.DigestAuth(credentials.username, secret)
            case AuthKind.BEARER:
                headers["Authorization"] = f"Bearer {secret}"  # RFC 6750 §2.1
        self._http = httpx.AsyncClient(
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            follow_redirects=False,  # redirects are followed by hand, on the same host only
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    # --- discovery (RFC 6764, RFC 4791 §6.2.1, RFC 5397) ---------------------------------------

    async def discover_calendars(self) -> list[CalendarInfo]:
        """The account's VEVENT calendars. The URL may be the server, a principal, a calendar
        home or a calendar itself."""
        start = await self._propfind(self.base_url, xml.DISCOVERY_PROPS + xml.CALENDAR_PROPS, 0)
        if start is None and urlsplit(self.base_url).path in ("", "/"):
            start = await self._propfind(
                urljoin(self.base_url, "/.well-known/caldav"), xml.DISCOVERY_PROPS, 0
            )
        if start is None:
            raise NotACalendarServer("the address does not answer as a CalDAV server")
        if start.has_type(xml.qname(xml.CALDAV, "calendar")):
            return [_calendar_info(self.base_url, start)]
        home = start.href_in(xml.CALENDAR_HOME_SET) or await self._home_of(start)
        if home is None:
            raise NotACalendarServer("no calendar home found (RFC 4791 §6.2.1)")
        return await self._calendars_in(urljoin(self.base_url, home))

    async def _home_of(self, start: xml.DavResponse) -> str | None:
        principal = start.href_in(xml.CURRENT_USER_PRINCIPAL)
        if principal is None:
            return None
        found = await self._propfind(urljoin(self.base_url, principal), (xml.CALENDAR_HOME_SET,), 0)
        return found.href_in(xml.CALENDAR_HOME_SET) if found else None

    async def _calendars_in(self, home: str) -> list[CalendarInfo]:
        response = await self._request(
            "PROPFIND", home, xml.propfind(xml.CALENDAR_PROPS), depth="1"
        )
        raise_for_status(response, "listing calendars")
        calendars = []
        for member in xml.parse_multistatus(response.content).responses:
            components = member.components()
            if not member.has_type(xml.qname(xml.CALDAV, "calendar")):
                continue
            if components is not None and "VEVENT" not in components:
                continue
            calendars.append(_calendar_info(urljoin(home, member.href), member))
        return calendars

    async def _propfind(
        self, url: str, props: tuple[str, ...], depth: int
    ) -> xml.DavResponse | None:
        response = await self._request("PROPFIND", url, xml.propfind(props), depth=str(depth))
        if response.status_code in (404, 405, 501) or (
            response.status_code == 207 and not response.content
        ):
            return None
        raise_for_status(response, "discovery")
        if response.status_code != 207:
            return None
        try:
            responses = xml.parse_multistatus(response.content).responses
        except ValueError:
            return None
        return responses[0] if responses else None

    # --- reading --------------------------------------------------------------------------------

    async def collection_state(self, calendar_url: str) -> tuple[str | None, str | None]:
        """(sync token, CTag) of a collection. The token is asked for alone: servers compute each
        property over the whole collection (Radicale, 5,000 items: token 0.46 s, both 0.80 s), and
        the CTag only matters where there is no token (then a second PROPFIND asks for it)."""
        token = await self._collection_prop(calendar_url, xml.SYNC_TOKEN)
        if token:
            return token, None
        return None, await self.ctag(calendar_url)

    async def ctag(self, calendar_url: str) -> str | None:
        """The collection's CTag (calendarserver.org's getctag): one PROPFIND, depth 0."""
        return await self._collection_prop(calendar_url, xml.GETCTAG)

    async def _collection_prop(self, calendar_url: str, prop: str) -> str | None:
        found = await self._propfind(calendar_url, (prop,), 0)
        if found is None:
            raise NotACalendarServer(f"{calendar_url} is not a collection")
        return found.text(prop)

    async def sync_collection(self, calendar_url: str, token: str | None) -> SyncResult:
        """RFC 6578 §3.2, continued while the server truncates (507, §3.6)."""
        changed: dict[str, str | None] = {}
        deleted: list[str] = []
        collection = xml.normalise_href(calendar_url)
        while True:
            response = await self._request(
                "REPORT", calendar_url, xml.sync_collection(token), depth="0"
            )
            if response.status_code in TOKEN_INVALID:
                raise CursorInvalid(f"sync token refused ({response.status_code})")
            raise_for_status(response, "sync-collection")
            status = xml.parse_multistatus(response.content)
            truncated = False
            for member in status.responses:
                if member.href.rstrip("/") == collection.rstrip("/"):
                    truncated = truncated or member.status == 507
                elif member.status == 404:
                    deleted.append(member.href)
                    changed.pop(member.href, None)
                else:
                    changed[member.href] = member.text(xml.GETETAG)
            token = status.sync_token or token
            if not truncated:
                return SyncResult(list(changed.items()), deleted, token or "")

    async def list_etags(
        self, calendar_url: str, start: datetime, end: datetime
    ) -> dict[str, str | None]:
        response = await self._request(
            "REPORT", calendar_url, xml.calendar_query(start, end), depth="1"
        )
        raise_for_status(response, "calendar-query")
        return {
            member.href: member.text(xml.GETETAG)
            for member in xml.parse_multistatus(response.content).responses
            if member.status in (None, 200) and not member.href.endswith("/")
        }

    async def multiget(
        self, calendar_url: str, hrefs: Sequence[str]
    ) -> AsyncIterator[list[Resource]]:
        """Resources with their data, ``MULTIGET_CHUNK`` per request, one list per request;
        absent ones are left out. The next request is already in flight while the caller works
        on a chunk (parsing 5,000 items costs about as long as the server takes to serve them)."""
        chunks = [list(hrefs[i : i + MULTIGET_CHUNK]) for i in range(0, len(hrefs), MULTIGET_CHUNK)]
        if not chunks:
            return
        in_flight = asyncio.ensure_future(self._multiget_chunk(calendar_url, chunks[0]))
        try:
            for following in [*chunks[1:], None]:
                found = await in_flight
                if following is not None:
                    in_flight = asyncio.ensure_future(self._multiget_chunk(calendar_url, following))
                yield found
        finally:
            in_flight.cancel()

    async def _multiget_chunk(self, calendar_url: str, hrefs: list[str]) -> list[Resource]:
        response = await self._request(
            "REPORT", calendar_url, xml.calendar_multiget(hrefs), depth="1"
        )
        raise_for_status(response, "calendar-multiget")
        return [
            (member.href, member.text(xml.GETETAG), data.encode())
            for member in xml.parse_multistatus(response.content).responses
            if (data := member.text(xml.CALENDAR_DATA)) is not None
        ]

    async def get(self, url: str) -> tuple[str | None, bytes] | None:
        response = await self._request("GET", url)
        if response.status_code in (404, 410):
            return None
        raise_for_status(response, "reading an event")
        return response.headers.get("etag"), response.content

    # --- writing (RFC 4791 §5.3.2, RFC 9110 §13.1) -----------------------------------------------

    async def put(
        self, url: str, body: bytes, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str | None:
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        if if_none_match:
            headers["If-None-Match"] = "*"
        elif if_match is not None:
            headers["If-Match"] = if_match
        response = await self._request("PUT", url, body, headers=headers)
        if response.status_code == 412:
            raise PreconditionFailed(f"{url} changed or exists")
        raise_for_status(response, "writing an event")
        etag: str | None = response.headers.get("etag")
        if etag is None or etag.startswith("W/"):
            # RFC 4791 §5.3.4: a server that changed what we sent returns no strong ETag.
            found = await self._propfind(url, (xml.GETETAG,), 0)
            etag = found.text(xml.GETETAG) if found else None
        return etag

    async def delete(self, url: str, *, if_match: str | None = None) -> None:
        headers = {"If-Match": if_match} if if_match else {}
        response = await self._request("DELETE", url, headers=headers)
        if response.status_code in (404, 410):
            return  # already gone: the goal is reached
        if response.status_code == 412:
            raise PreconditionFailed(f"{url} changed")
        raise_for_status(response, "deleting an event")

    # --- transport -------------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        *,
        depth: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = dict(headers or {})
        if depth is not None:
            headers["Depth"] = depth
        if body is not None and "Content-Type" not in headers:
            headers["Content-Type"] = "application/xml; charset=utf-8"
        for _ in range(MAX_REDIRECTS + 1):
            self.request_count += 1
            try:
                response = await self._http.request(method, url, content=body, headers=headers)
            except httpx.TimeoutException as error:
                raise Unreachable("the calendar server did not answer in time") from error
            except httpx.TransportError as error:
                raise Unreachable("the calendar server cannot be reached") from error
            location = response.headers.get("location")
            if response.status_code not in (301, 302, 307, 308) or not location:
                return response
            target = urljoin(url, location)
            if urlsplit(target).netloc != urlsplit(url).netloc:
                raise NotACalendarServer("the server redirects to another host; use that address")
            url = target
        raise NotACalendarServer("too many redirects")


def _calendar_info(url: str, member: xml.DavResponse) -> CalendarInfo:
    return CalendarInfo(
        id=url,
        name=member.text(xml.DISPLAYNAME) or url.rstrip("/").rsplit("/", 1)[-1],
        color=member.text(xml.CALENDAR_COLOR),
        supports_sync_token=member.text(xml.SYNC_TOKEN) is not None
        or member.supports_report(xml.qname(xml.DAV, "sync-collection")),
    )
