"""Events of one calendar as Calendar API v3 keeps them: writes, reads, full and incremental
listings. Pure functions over ``Calendar``; the caller holds the state's lock.

Documented behaviour this keeps (developers.google.com/calendar/api/v3/reference/events):
- ids chosen by the client: base32hex (``a-v``, ``0-9``), 5 to 1024 characters; a taken id
  (deleted ones included) answers 409 ``duplicate``;
- ``If-Match`` on update / patch / delete answers 412 ``conditionNotMet`` when stale;
- a deleted event stays readable as ``status: cancelled``; deleting it again answers 410
  ``deleted``; writing it with ``status: confirmed`` brings it back;
- ``events.patch`` merges nested objects (``start``, ``end``): a field set to null is removed,
  and a start with both ``date`` and ``dateTime`` is refused (400);
- an instance of a recurring event has the id ``<series id>_<original start>`` (UTC
  ``YYYYMMDDTHHMMSSZ``, or ``YYYYMMDD`` for all-day series); writing it makes an exception
  carrying ``recurringEventId`` and ``originalStartTime``;
- ``events.list``: ``nextPageToken`` on every page but the last, ``nextSyncToken`` on the last;
  with ``syncToken`` every change since, deletions included, and no ``timeMin`` / ``timeMax``;
  a token no longer valid answers 410 ``fullSyncRequired``; ``maxResults`` at most 2500.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from datetime import UTC, date, datetime
from typing import Any

from calsync_localinfra.google.store import ApiError, Calendar, Event

BASE32HEX_ID = re.compile(r"^[a-v0-9]{5,1024}$")
INSTANCE_ID = re.compile(r"^(?P<base>[a-v0-9]{5,1024})_(?P<stamp>\d{8}(T\d{6}Z)?)$")
SYNC_ONLY = ("timeMin", "timeMax", "iCalUID", "orderBy", "q", "updatedMin")
MAX_RESULTS = 2500
DEFAULT_RESULTS = 250


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- writes -------------------------------------------------------------------------------------


def insert(calendar: Calendar, body: Event) -> Event:
    event_id = body.get("id") or secrets.token_hex(13)  # hex digits are base32hex digits
    if not BASE32HEX_ID.match(event_id):
        raise ApiError(400, "invalidResourceId", "Invalid resource id value.")
    if event_id in calendar.events:
        raise ApiError(409, "duplicate", "The requested identifier already exists.")
    body = _without_nulls(body)
    _check_times(body)
    stamp = now_rfc3339()
    event = {
        **_writable(body),
        "id": event_id,
        "created": stamp,
        "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
        "sequence": int(body.get("sequence", 0)),
        "status": body.get("status", "confirmed"),
    }
    return _store(calendar, event)


def update(calendar: Calendar, event_id: str, body: Event, if_match: str | None) -> Event:
    current = _current_or_instance(calendar, event_id)
    _check_match(current, if_match)
    body = _without_nulls(body)
    _check_times(body)
    identity = ("id", "created", "iCalUID", "recurringEventId", "originalStartTime")
    kept: Event = {k: current[k] for k in identity if k in current}
    before = int(current.get("sequence", 0))
    sequence = max(int(body.get("sequence", before)), before)
    event: Event = {**_writable(body), **kept, "sequence": sequence}
    event["status"] = body.get("status", "confirmed")
    return _store(calendar, event)


def patch(calendar: Calendar, event_id: str, body: Event, if_match: str | None) -> Event:
    current = _current_or_instance(calendar, event_id)
    _check_match(current, if_match)
    merged = dict(current)
    for key, value in _writable(body).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = {**merged[key], **value}  # nested objects merge, as at Google
        merged[key] = value
    merged = _without_nulls(merged)
    _check_times(merged)
    return _store(calendar, merged)


def delete(calendar: Calendar, event_id: str, if_match: str | None) -> None:
    current = calendar.events.get(event_id)
    if current is None and INSTANCE_ID.match(event_id):
        current = _current_or_instance(calendar, event_id)
    if current is None:
        raise ApiError(404, "notFound", "Not Found")
    if current["status"] == "cancelled":
        raise ApiError(410, "deleted", "Resource has been deleted")
    _check_match(current, if_match)
    _store(calendar, {**current, "status": "cancelled"})
    if "recurrence" in current:  # the series' exceptions go with it
        for other in list(calendar.events.values()):
            if other.get("recurringEventId") == event_id and other["status"] != "cancelled":
                _store(calendar, {**other, "status": "cancelled"})


def put_raw(calendar: Calendar, event: Event) -> Event:
    """Test backdoor: an event stored as given, unvalidated (what a corrupt import looks like)."""
    return _store(calendar, {"status": "confirmed", "created": now_rfc3339(), **event})


# --- reads --------------------------------------------------------------------------------------


def get(calendar: Calendar, event_id: str) -> Event:
    found = calendar.events.get(event_id)
    if found is None:
        raise ApiError(404, "notFound", "Not Found")
    return found


def list_events(calendar: Calendar, params: dict[str, str]) -> dict[str, Any]:
    size = min(int(params.get("maxResults", DEFAULT_RESULTS)), MAX_RESULTS)
    page = _decode(params["pageToken"]) if params.get("pageToken") else None
    if page is not None:
        since, upto, after = page["since"], page["upto"], page["after"]
        incremental = page["incremental"]
        params = page["params"]
    elif params.get("syncToken"):
        for name in SYNC_ONLY:
            if name in params:
                raise ApiError(400, "invalid", f"{name} cannot be used with syncToken")
        since, upto, after = _sync_point(calendar, params["syncToken"]), calendar.seq, 0
        incremental = True
    else:
        since, upto, after, incremental = 0, calendar.seq, 0, False
    matching = [
        event
        for event_id, event in sorted(
            calendar.events.items(), key=lambda e: calendar.changed_at[e[0]]
        )
        if since < calendar.changed_at[event_id] <= upto
        and calendar.changed_at[event_id] > after
        and (incremental or _in_range(event, params))
    ]
    shown = matching[:size]
    body: dict[str, Any] = {
        "kind": "calendar#events",
        "etag": f'"{upto}"',
        "summary": calendar.summary,
        "updated": now_rfc3339(),
        "timeZone": "UTC",
        "accessRole": "owner",
        "items": shown,
    }
    if len(matching) > size:
        kept = {k: v for k, v in params.items() if k in ("timeMin", "timeMax", "showDeleted")}
        last = calendar.changed_at[shown[-1]["id"]]
        body["nextPageToken"] = _encode(
            {
                "since": since,
                "upto": upto,
                "after": last,
                "params": kept,
                "incremental": incremental,
            }
        )
    else:
        body["nextSyncToken"] = _encode(
            {"calendar": calendar.id, "epoch": calendar.epoch, "seq": upto}
        )
    return body


def expire_sync_tokens(calendar: Calendar) -> None:
    """Google may invalidate tokens at any time (a 410 then): tests force it here."""
    calendar.epoch = secrets.token_hex(4)


# --- helpers ------------------------------------------------------------------------------------


def _store(calendar: Calendar, event: Event) -> Event:
    calendar.seq += 1
    event = {
        **event,
        "kind": "calendar#event",
        "etag": f'"{calendar.seq}{secrets.randbelow(1000):03d}"',
        "updated": now_rfc3339(),
        "htmlLink": f"https://www.google.com/calendar/event?eid={event['id']}",
        "organizer": event.get("organizer") or {"email": calendar.owner, "self": True},
        "creator": event.get("creator") or {"email": calendar.owner, "self": True},
    }
    calendar.events[event["id"]] = event
    calendar.changed_at[event["id"]] = calendar.seq
    return event


def _current_or_instance(calendar: Calendar, event_id: str) -> Event:
    found = calendar.events.get(event_id)
    if found is not None:
        return found  # a cancelled one too: writing it may bring it back
    matched = INSTANCE_ID.match(event_id)
    series = calendar.events.get(matched["base"]) if matched else None
    if matched is None or series is None or "recurrence" not in series:
        raise ApiError(404, "notFound", "Not Found")
    original = _original_start(matched["stamp"], series)
    return {
        **{k: v for k, v in series.items() if k not in ("recurrence", "id", "etag")},
        **_instance_times(series, original),
        "id": event_id,
        "recurringEventId": series["id"],
        "originalStartTime": original,
        "etag": series["etag"],
    }


def _instance_times(series: Event, original: dict[str, str]) -> Event:
    """An instance starts at its original start and lasts as long as the series' first."""
    length = _instant(series["end"]) - _instant(series["start"])
    start = _instant(original)
    if "date" in original:
        end = (start + length).date().isoformat()
        return {"start": dict(original), "end": {"date": end}}
    zone = {"timeZone": original["timeZone"]} if "timeZone" in original else {}
    end_at = (start + length).isoformat().replace("+00:00", "Z")
    return {"start": dict(original), "end": {"dateTime": end_at, **zone}}


def _original_start(stamp: str, series: Event) -> dict[str, str]:
    if "T" not in stamp:
        return {"date": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"}
    instant = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    zone = series.get("start", {}).get("timeZone")
    return {
        "dateTime": instant.isoformat().replace("+00:00", "Z"),
        **({"timeZone": zone} if zone else {}),
    }


def _without_nulls(event: Event) -> Event:
    """JSON null clears a field (one level into nested objects)."""
    cleaned: Event = {}
    for key, value in event.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v is not None}
        if value is not None:
            cleaned[key] = value
    return cleaned


def _check_match(current: Event, if_match: str | None) -> None:
    if if_match and if_match != "*" and if_match != current.get("etag"):
        raise ApiError(412, "conditionNotMet", "Precondition Failed")


def _check_times(body: Event) -> None:
    for edge in ("start", "end"):
        value = body.get(edge)
        if not isinstance(value, dict) or ("date" in value) == ("dateTime" in value):
            raise ApiError(400, "required", f"Missing {edge} time.")
    if _instant(body["end"]) < _instant(body["start"]):
        raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")


def _instant(edge: dict[str, str]) -> datetime:
    try:
        if "date" in edge:
            day = date.fromisoformat(edge["date"])
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        value = datetime.fromisoformat(edge["dateTime"].replace("Z", "+00:00"))
    except (ValueError, KeyError, AttributeError):
        raise ApiError(400, "invalid", "Invalid start or end time.") from None
    if value.tzinfo is None:
        raise ApiError(400, "invalid", "A time zone is required for a local dateTime.")
    return value


def _in_range(event: Event, params: dict[str, str]) -> bool:
    if params.get("iCalUID") and event.get("iCalUID") != params["iCalUID"]:
        return False
    # "Cancelled instances of recurring events (but not the underlying recurring event) will
    # still be included if showDeleted and singleEvents are both False."
    instance = "recurringEventId" in event and params.get("singleEvents") != "true"
    if event["status"] == "cancelled" and params.get("showDeleted") != "true" and not instance:
        return False
    try:
        start, end = _instant(event["start"]), _instant(event["end"])
    except (ApiError, KeyError):
        return True  # an unreadable event is listed: the client decides what to do with it
    if "recurrence" in event:
        end = datetime.max.replace(tzinfo=UTC)  # a series reaches into any later window
    if params.get("timeMin") and end <= _parse(params["timeMin"]):
        return False
    return not (params.get("timeMax") and start >= _parse(params["timeMax"]))


def _parse(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "badRequest", "Bad Request") from None


def _writable(body: Event) -> Event:
    read_only = ("kind", "etag", "created", "updated", "htmlLink", "creator")
    return {k: v for k, v in body.items() if k not in read_only}


def _sync_point(calendar: Calendar, token: str) -> int:
    decoded = _decode(token, gone=True)
    valid = decoded.get("calendar") == calendar.id and decoded.get("epoch") == calendar.epoch
    seq = decoded.get("seq")
    if not valid or not isinstance(seq, int) or seq > calendar.seq:
        raise _sync_gone()
    return seq


def _sync_gone() -> ApiError:
    return ApiError(
        410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."
    )


def _encode(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _decode(token: str, gone: bool = False) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        value = None
    if isinstance(value, dict):
        return value
    if gone:
        raise _sync_gone()
    raise ApiError(400, "invalid", "Invalid page token.")
