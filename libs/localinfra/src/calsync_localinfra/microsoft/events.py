"""Events of one calendar as Microsoft Graph v1.0 keeps them: create, read, update, delete, and
the calendar view's delta query. Pure functions over ``Calendar``; the caller holds the lock.

Documented behaviour this keeps (learn.microsoft.com/graph/api/resources/event, "Get
incremental changes to events in a calendar view", "Use the delta query"):
- ``POST …/events`` with a ``transactionId`` already used answers the event made the first time
  (201) instead of making a second one;
- ``@odata.etag`` / ``changeKey`` change on every write; ``If-Match`` on PATCH / DELETE answers
  412 ``ErrorIrresolvableConflict`` when stale; a missing event is 404 ``ErrorItemNotFound``;
- times are answered in UTC (no ``Prefer: outlook.timezone``), as ``dateTime`` without offset
  and ``timeZone``; ``originalStartTimeZone`` keeps the zone the event was made in;
- ``calendarView/delta``: pages with ``@odata.nextLink`` (``$skiptoken``), the last with
  ``@odata.deltaLink`` (``$deltatoken``); a round with a delta token gives what changed and
  ``{"id", "@removed": {"reason": "deleted"}}`` for what went, and also for what moved out of
  (or was made outside) the round's window; a token no longer valid answers
  410 ``SyncStateNotFound``; ``Prefer: odata.maxpagesize`` sets the page size.
Not kept: recurring series (Graph expands them into occurrences in a calendar view; this
stand-in stores single events only).
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync_localinfra.microsoft.store import Calendar, Event, GraphError, graph_id

PAGE_SIZE = 100
WIRE = "%Y-%m-%dT%H:%M:%S.0000000"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def create(calendar: Calendar, body: Event) -> Event:
    transaction = body.get("transactionId")
    if transaction:
        for existing in calendar.events.values():
            if existing.get("transactionId") == transaction:
                return existing  # a retried POST: the first one's event, no second event
    stamp = now_iso()
    event_id = graph_id()
    event: Event = {
        "id": event_id,
        "createdDateTime": stamp,
        "iCalUId": "040000008200E00074C5B7101A82E008" + secrets.token_hex(24).upper(),
        "type": "singleInstance",
        "isCancelled": False,
        "showAs": "busy",
        "sensitivity": "normal",
        "organizer": {"emailAddress": {"name": calendar.owner, "address": calendar.owner}},
        "isOrganizer": True,
    }
    event |= _fields(body)
    _check_times(event)
    return _store(calendar, event)


def update(calendar: Calendar, event_id: str, body: Event, if_match: str | None) -> Event:
    current = get(calendar, event_id)
    _check_match(current, if_match)
    changed = {**current, **_fields(body)}
    _check_times(changed)
    return _store(calendar, changed)


def cancel(calendar: Calendar, event_id: str) -> None:
    """The organizer's cancel (it mails the attendees); an attendee may not (400)."""
    if not get(calendar, event_id).get("isOrganizer", False):
        raise GraphError(400, "ErrorAccessDenied", "You need to be an organizer to cancel.")
    delete(calendar, event_id, None)


def delete(calendar: Calendar, event_id: str, if_match: str | None) -> None:
    current = get(calendar, event_id)
    _check_match(current, if_match)
    calendar.seq += 1
    del calendar.events[event_id]
    calendar.changed_at.pop(event_id, None)
    calendar.removed_at[event_id] = calendar.seq


def put_raw(calendar: Calendar, event: Event) -> Event:
    """Test backdoor: an event stored as given, unvalidated."""
    return _store(calendar, {"id": graph_id(), "createdDateTime": now_iso(), **event})


def get(calendar: Calendar, event_id: str) -> Event:
    found = calendar.events.get(event_id)
    if found is None:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found.")
    return found


def shown(event: Event, expand_properties: bool = False) -> Event:
    """An event as Graph answers it: UTC times, extended properties only when expanded."""
    answer = {k: v for k, v in event.items() if not k.startswith("_")}
    if not expand_properties:
        answer.pop("singleValueExtendedProperties", None)
    for edge in ("start", "end"):
        instant = event.get(f"_{edge}")
        if isinstance(instant, datetime):
            answer[edge] = {"dateTime": instant.strftime(WIRE), "timeZone": "UTC"}
    return answer


def delta(calendar: Calendar, params: dict[str, str], page_size: int, base: str) -> Event:
    if "$skiptoken" in params:
        state = _decode(params["$skiptoken"], gone=False)
    elif "$deltatoken" in params:
        state = _decode(params["$deltatoken"], gone=True)
        if state.get("epoch") != calendar.epoch or state.get("seq", 0) > calendar.seq:
            raise _gone()
        state = {**state, "since": state["seq"], "upto": calendar.seq, "after": 0}
    else:
        start, end = _when(params.get("startDateTime")), _when(params.get("endDateTime"))
        state = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "since": 0,
            "upto": calendar.seq,
            "after": 0,
            "epoch": calendar.epoch,
        }
    entries = _changes(calendar, state)
    shown_now = entries[:page_size]
    answer: Event = {"value": [entry for _, entry in shown_now]}
    if len(entries) > page_size:
        token = _encode({**state, "after": shown_now[-1][0]})
        answer["@odata.nextLink"] = f"{base}?$skiptoken={token}"
    else:
        keep = {k: state[k] for k in ("start", "end", "epoch")}
        token = _encode({**keep, "seq": state["upto"]})
        answer["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
    return answer


def expire_delta_tokens(calendar: Calendar) -> None:
    calendar.epoch = secrets.token_hex(4)


# --- helpers ------------------------------------------------------------------------------------


def _changes(calendar: Calendar, state: Event) -> list[tuple[int, Event]]:
    start, end = datetime.fromisoformat(state["start"]), datetime.fromisoformat(state["end"])
    since, upto, after = state["since"], state["upto"], state["after"]
    found: list[tuple[int, Event]] = []
    for event_id, seq in calendar.changed_at.items():
        if since < seq <= upto and seq > after:
            event = calendar.events[event_id]
            if _overlaps(event, start, end):
                found.append((seq, shown(event)))
            elif since:  # changed to (or made) outside the round's window: Graph says "removed"
                found.append((seq, {"id": event_id, "@removed": {"reason": "deleted"}}))
    if since:
        for event_id, seq in calendar.removed_at.items():
            if since < seq <= upto and seq > after:
                found.append((seq, {"id": event_id, "@removed": {"reason": "deleted"}}))
    return sorted(found, key=lambda entry: entry[0])


def _overlaps(event: Event, start: datetime, end: datetime) -> bool:
    begins, ends = event.get("_start"), event.get("_end")
    if not isinstance(begins, datetime) or not isinstance(ends, datetime):
        return True  # unreadable: listed, the client decides
    return begins < end and ends > start


def _fields(body: Event) -> Event:
    """The writable fields of a request body, times read into UTC instants."""
    read_only = ("id", "createdDateTime", "lastModifiedDateTime", "changeKey", "@odata.etag")
    fields: Event = {k: v for k, v in body.items() if k not in read_only}
    for edge in ("start", "end"):
        if edge in body:
            fields[f"_{edge}"] = _instant(body[edge])
            zone = body[edge].get("timeZone", "UTC") if isinstance(body[edge], dict) else "UTC"
            fields[f"original{edge.capitalize()}TimeZone"] = zone
    return fields


def _instant(edge: Any) -> datetime:
    if not isinstance(edge, dict) or not edge.get("dateTime"):
        raise GraphError(400, "ErrorInvalidRequest", "Start and end need a dateTime.")
    try:
        local = datetime.fromisoformat(str(edge["dateTime"])[:19])
        zone = ZoneInfo(str(edge.get("timeZone") or "UTC"))
    except (ValueError, ZoneInfoNotFoundError):
        raise GraphError(400, "ErrorInvalidRequest", "Invalid dateTime or timeZone.") from None
    return local.replace(tzinfo=zone).astimezone(UTC)


def _check_times(event: Event) -> None:
    start, end = event.get("_start"), event.get("_end")
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        raise GraphError(400, "ErrorInvalidRequest", "Start and end are required.")
    if end < start:
        raise GraphError(400, "ErrorInvalidRequest", "The end is before the start.")
    local = start.astimezone(_zone(str(event.get("originalStartTimeZone") or "UTC")))
    if event.get("isAllDay") and (
        (local.hour, local.minute) != (0, 0) or (end - start) % timedelta(days=1)
    ):
        raise GraphError(
            400, "ErrorInvalidRequest", "An all-day event starts and ends at midnight."
        )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC")


def _check_match(current: Event, if_match: str | None) -> None:
    if if_match and if_match != "*" and if_match != current.get("@odata.etag"):
        raise GraphError(412, "ErrorIrresolvableConflict", "The change key does not match.")


def _store(calendar: Calendar, event: Event) -> Event:
    calendar.seq += 1
    change_key = base64.b64encode(secrets.token_bytes(12)).decode()
    event = {
        **event,
        "changeKey": change_key,
        "@odata.etag": f'W/"{change_key}"',
        "lastModifiedDateTime": now_iso(),
    }
    calendar.events[event["id"]] = event
    calendar.changed_at[event["id"]] = calendar.seq
    calendar.removed_at.pop(event["id"], None)
    return event


def _when(value: str | None) -> datetime:
    if not value:
        raise GraphError(
            400, "ErrorInvalidParameter", "startDateTime and endDateTime are required."
        )
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphError(400, "ErrorInvalidParameter", "Invalid startDateTime.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _gone() -> GraphError:
    return GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")


def _encode(value: Event) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _decode(token: str, gone: bool) -> Event:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        value = None
    if isinstance(value, dict):
        return value
    if gone:
        raise _gone()
    raise GraphError(400, "ErrorInvalidParameter", "Invalid skip token.")
