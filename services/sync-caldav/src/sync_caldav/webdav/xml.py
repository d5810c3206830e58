"""WebDAV / CalDAV request bodies and multistatus parsing as pure functions (no I/O).

RFC 4918 (WebDAV: PROPFIND, 207 multistatus), RFC 4791 (CalDAV: calendar-query,
calendar-multiget), RFC 6578 (sync-collection), RFC 6764 (well-known discovery). Responses are
parsed with defusedxml: the XML comes from servers users point us at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CALSERVER = "http://calendarserver.org/ns/"
APPLE = "http://apple.com/ns/ical/"

_PREFIXES = {DAV: "D", CALDAV: "C", CALSERVER: "CS", APPLE: "A"}
_DECLARATIONS = " ".join(f'xmlns:{p}="{ns}"' for ns, p in _PREFIXES.items())


def qname(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


RESOURCETYPE = qname(DAV, "resourcetype")
DISPLAYNAME = qname(DAV, "displayname")
GETETAG = qname(DAV, "getetag")
SYNC_TOKEN = qname(DAV, "sync-token")
CURRENT_USER_PRINCIPAL = qname(DAV, "current-user-principal")
SUPPORTED_REPORT_SET = qname(DAV, "supported-report-set")
CALENDAR_HOME_SET = qname(CALDAV, "calendar-home-set")
SUPPORTED_COMPONENTS = qname(CALDAV, "supported-calendar-component-set")
CALENDAR_DATA = qname(CALDAV, "calendar-data")
GETCTAG = qname(CALSERVER, "getctag")
CALENDAR_COLOR = qname(APPLE, "calendar-color")

DISCOVERY_PROPS = (RESOURCETYPE, CURRENT_USER_PRINCIPAL, CALENDAR_HOME_SET, DISPLAYNAME)
CALENDAR_PROPS = (
    RESOURCETYPE,
    DISPLAYNAME,
    SUPPORTED_COMPONENTS,
    SUPPORTED_REPORT_SET,
    SYNC_TOKEN,
    GETCTAG,
    CALENDAR_COLOR,
)


def _tag(clark: str) -> str:
    namespace, _, name = clark[1:].partition("}")
    return f"{_PREFIXES[namespace]}:{name}"


def _document(root: str, inner: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><{root} {_DECLARATIONS}>{inner}</{root}>'.encode()
    )


def _props(props: tuple[str, ...]) -> str:
    return "<D:prop>" + "".join(f"<{_tag(p)}/>" for p in props) + "</D:prop>"


def propfind(props: tuple[str, ...]) -> bytes:
    """RFC 4918 §9.1."""
    return _document("D:propfind", _props(props))


def sync_collection(token: str | None) -> bytes:
    """RFC 6578 §3.2: an empty token asks for every member and the current token."""
    token_xml = f"<D:sync-token>{_escape(token)}</D:sync-token>" if token else "<D:sync-token/>"
    inner = token_xml + "<D:sync-level>1</D:sync-level>" + _props((GETETAG,))
    return _document("D:sync-collection", inner)


def calendar_query(start: datetime, end: datetime) -> bytes:
    """RFC 4791 §7.8 with a VEVENT time-range (§9.9): ETags of the events overlapping
    [start, end), series included when any occurrence overlaps."""
    time_range = f'<C:time-range start="{_utc(start)}" end="{_utc(end)}"/>'
    filters = (
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f"{time_range}</C:comp-filter></C:comp-filter></C:filter>"
    )
    return _document("C:calendar-query", _props((GETETAG,)) + filters)


def calendar_multiget(hrefs: list[str]) -> bytes:
    """RFC 4791 §7.9."""
    refs = "".join(f"<D:href>{_escape(h)}</D:href>" for h in hrefs)
    return _document("C:calendar-multiget", _props((GETETAG, CALENDAR_DATA)) + refs)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- parsing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DavResponse:
    href: str
    status: int | None
    """The response-level status (RFC 4918 §14.24), e.g. 404 for a deleted member."""
    props: dict[str, Element] = field(default_factory=dict)
    """Properties found (propstat 200), by Clark name."""

    def text(self, prop: str) -> str | None:
        element = self.props.get(prop)
        if element is None:
            return None
        return (element.text or "").strip() or None

    def href_in(self, prop: str) -> str | None:
        element = self.props.get(prop)
        found = element.find(qname(DAV, "href")) if element is not None else None
        return normalise_href(found.text or "") if found is not None and found.text else None

    def has_type(self, resource_type: str) -> bool:
        element = self.props.get(RESOURCETYPE)
        return element is not None and element.find(resource_type) is not None

    def components(self) -> set[str] | None:
        """Supported components; None when the server does not say (then VEVENT is assumed)."""
        element = self.props.get(SUPPORTED_COMPONENTS)
        if element is None:
            return None
        return {c.get("name", "").upper() for c in element.iter(qname(CALDAV, "comp"))}

    def supports_report(self, report: str) -> bool:
        element = self.props.get(SUPPORTED_REPORT_SET)
        return element is not None and element.find(f".//{report}") is not None


@dataclass(frozen=True, slots=True)
class Multistatus:
    responses: list[DavResponse]
    sync_token: str | None = None


def parse_multistatus(body: bytes) -> Multistatus:
    """Parses a 207 body. Raises ``ValueError`` when it is not a DAV multistatus."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise ValueError(f"not XML: {error}") from error
    if root.tag != qname(DAV, "multistatus"):
        raise ValueError(f"not a DAV multistatus: {root.tag}")
    responses = [_response(r) for r in root.findall(qname(DAV, "response"))]
    token = root.findtext(qname(DAV, "sync-token"))
    return Multistatus(responses, token.strip() if token else None)


def _response(element: Element) -> DavResponse:
    href = normalise_href(element.findtext(qname(DAV, "href")) or "")
    props: dict[str, Element] = {}
    for propstat in element.findall(qname(DAV, "propstat")):
        if parse_status(propstat.findtext(qname(DAV, "status"))) != 200:
            continue
        prop = propstat.find(qname(DAV, "prop"))
        for child in prop if prop is not None else ():
            props[child.tag] = child
    return DavResponse(href, parse_status(element.findtext(qname(DAV, "status"))), props)


def parse_status(line: str | None) -> int | None:
    """``HTTP/1.1 404 Not Found`` → 404."""
    if not line:
        return None
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def normalise_href(href: str) -> str:
    """Servers answer with absolute URLs or absolute paths, percent-encoded or not: one form,
    the decoded absolute path, so an href never looks like two different resources."""
    return unquote(urlsplit(href.strip()).path)
