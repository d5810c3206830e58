"""Recurring series in EWS ("Recurrence patterns and time zones", "Access a recurring series"):
the folder holds the series as its recurring master only. The CRM gets the master (its pattern
as an RRULE) and, for each edited occurrence (an exception), an item of its own named
``<master id>#<original start>`` (``sync_core.items.occurrence_id``), as the CalDAV and Google
adapters name them. An occurrence is written through its own EWS id: an exception's, listed by
the master's ``ModifiedOccurrences``, or an unedited occurrence's, found in a calendar view at
its start (it has not moved).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from exchangelib import Account, EWSDateTime
from exchangelib.folders import Calendar, Folder

from sync_core.items import OCCURRENCE_SEPARATOR, occurrence_id
from sync_exchange.ews.mapping import original_start, zone_name
from sync_exchange.ews.reading import read_items


def exception_ids(
    account: Account, any_folder: Folder, master_id: str, master: Any
) -> dict[str, Any]:
    """The master's exceptions, read (``GetItem``), by their CRM-side external ids."""
    modified = getattr(master, "modified_occurrences", None) or []
    if not modified:
        return {}
    zone = zone_name(master)
    found: dict[str, Any] = {}
    for answer in read_items(account, any_folder, [o.id for o in modified]):
        if isinstance(answer, Exception):
            continue  # gone since the master was read: the next round sees the master again
        recurrence_id = original_start(answer, zone)
        if recurrence_id is not None:
            found[occurrence_id(master_id, recurrence_id)] = answer
    return found


def deleted_ids(master_id: str, master: Any) -> list[str]:
    """The CRM-side ids of the master's deleted occurrences (an edited one deleted later is
    gone from the CRM with them)."""
    zone = ZoneInfo(zone_name(master))
    ids = []
    for deleted in getattr(master, "deleted_occurrences", None) or []:
        instant = datetime.fromtimestamp(deleted.start.timestamp(), tz=UTC)
        key: datetime | date = instant.astimezone(zone).date() if master.is_all_day else instant
        ids.append(occurrence_id(master_id, key))
    return ids


def find_occurrence(account: Account, folder: Calendar, master: Any, key: str) -> Any | None:
    """The occurrence of ``master`` whose original start is ``key`` (the part after ``#``)."""
    wanted = _instant(key, master)
    zone = zone_name(master)
    for occurrence in getattr(master, "modified_occurrences", None) or []:
        if _utc(occurrence.original_start) == wanted:
            (found,) = account.fetch(ids=[(occurrence.id, None)], folder=folder)
            return None if isinstance(found, Exception) else found
    view = folder.view(
        start=EWSDateTime.from_datetime(wanted),
        end=EWSDateTime.from_datetime(wanted) + timedelta(minutes=1),
    ).only("id", "uid", "start", "type")
    unedited = [
        c
        for c in view
        if c.uid == master.uid and c.type == "Occurrence" and _utc(c.start) == wanted
    ]
    for candidate in unedited:
        (found,) = account.fetch(ids=[(candidate.id, None)], folder=folder)
        if not isinstance(found, Exception) and original_start(found, zone) is not None:
            return found
    return None


def split(external_id: str) -> tuple[str, str]:
    master_id, _, key = external_id.partition(OCCURRENCE_SEPARATOR)
    return master_id, key


def _instant(key: str, master: Any) -> datetime:
    """``occurrence_id``'s key as an instant: a UTC time, or an all-day series' date, which
    starts at midnight in the series' zone."""
    if "T" in key:
        return datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    day = datetime.strptime(key, "%Y%m%d").date()
    local = datetime.combine(day, time(), ZoneInfo(zone_name(master)))
    return local.astimezone(UTC)


def _utc(value: datetime) -> datetime:
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)
