"""Recurring series as Exchange keeps them ("Recurrence patterns and EWS"): one stored item, the
recurring master, whose occurrences are computed on demand (expansion) and never stored; an
occurrence that was changed is an exception (its changed properties kept on the master, as
MS-OXOCAL's exception attachments do), one that was deleted is remembered by its index.

Instances are numbered 1, 2, ... along the pattern, deleted ones included ("OccurrenceItemId",
InstanceIndex). An occurrence's ItemId is opaque to clients and encodes its master's id and its
index, so GetItem / UpdateItem / DeleteItem on it find the master. Unmodified occurrences carry
the master's ChangeKey ("The ChangeKey is the same for the recurring master and all
occurrences"); an exception has its own, and writing it changes the master's too.

Errors (ResponseCode): an index past the series' end is
ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange, a deleted one
ErrorCalendarOccurrenceIsDeletedFromRecurrence; OccurrenceItemId naming no recurring master is
ErrorCalendarCannotUseIdForOccurrenceId, RecurringMasterItemId naming no occurrence
ErrorCalendarCannotUseIdForRecurringMasterId.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from calsync_localinfra.ews import recurrence
from calsync_localinfra.ews.item_values import utc_text
from calsync_localinfra.ews.properties import names
from calsync_localinfra.ews.soap import Element, EwsError, local, malformed, t
from calsync_localinfra.ews.store import ExchangeState, Item
from calsync_localinfra.ews.windows_zones import zone_for

ITEM_PREFIX = b"\x00\x03\x24\x00"
OCCURRENCE_PREFIX = b"\x00\x03\x24\x07"
SERIES_ONLY = frozenset(
    names("Recurrence FirstOccurrence LastOccurrence ModifiedOccurrences DeletedOccurrences")
)
"""Properties a master has and its occurrences have not ("Overview of a recurring series")."""
TIMING = frozenset({"Recurrence", "Start", "End", "StartTimeZone"})
"""Master properties whose change recomputes the series, dropping its exceptions."""
UTC = dt.UTC


def occurrence_id(master: Item, index: int) -> str:
    raw = base64.b64decode(master.id)
    return base64.b64encode(OCCURRENCE_PREFIX + raw[4:] + index.to_bytes(4, "big")).decode()


def split_occurrence_id(item_id: str) -> tuple[str, int] | None:
    """The master's id and the instance index an occurrence's id encodes; None for others."""
    try:
        raw = base64.b64decode(item_id, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(OCCURRENCE_PREFIX) or len(raw) < 12:
        return None
    master = base64.b64encode(ITEM_PREFIX + raw[4:-4]).decode()
    return master, int.from_bytes(raw[-4:], "big")


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(utc_text(text).replace("Z", "+00:00"))


def when(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Series:
    """A master's rule with the wall-clock time, zone and length of its instances."""

    rule: recurrence.Rule
    zone: ZoneInfo
    time_of_day: dt.time
    duration: dt.timedelta

    @classmethod
    def of(cls, props: dict[str, Element]) -> Series | None:
        """The series of a master's properties; None for an item without Recurrence."""
        elem = props.get("Recurrence")
        if elem is None:
            return None
        zone_elem = props.get("StartTimeZone")
        zone = zone_for(None if zone_elem is None else zone_elem.get("Id"))
        if zone is None:
            raise EwsError("ErrorCalendarInvalidTimeZone", "The time zone is not valid.")
        start, end = (props.get(name) for name in ("Start", "End"))
        if start is None or end is None or not start.text or not end.text:
            raise malformed("a recurring calendar item needs Start and End")
        first = instant(start.text)
        local_start = first.astimezone(zone)
        return cls(recurrence.parse(elem), zone, local_start.time(), instant(end.text) - first)

    def starts(self) -> Iterator[dt.datetime]:
        """The instances' original starts in UTC, first to last."""
        for naive in self.rule.local_starts(self.time_of_day):
            yield naive.replace(tzinfo=self.zone).astimezone(UTC)

    def start_of(self, index: int) -> dt.datetime | None:
        return recurrence.nth(self.starts(), index) if index >= 1 else None


def series_of(item: Item) -> Series | None:
    return Series.of(item.props)


@dataclass
class Target:
    """What an item id names: a stored item (single or master), or one instance of a master."""

    item: Item
    index: int | None = None


def resolve(state: ExchangeState, mailbox: str, elem: Element) -> Target:
    """``t:ItemId`` (an item's or an occurrence's), ``t:OccurrenceItemId`` or
    ``t:RecurringMasterItemId``."""
    name = local(elem.tag)
    if name == "ItemId":
        split = split_occurrence_id(elem.get("Id") or "")
        if split is None:
            return Target(state.item(mailbox, elem.get("Id") or ""))
        return instance(state.item(mailbox, split[0]), split[1])
    if name == "OccurrenceItemId":
        master = state.item(mailbox, elem.get("RecurringMasterId") or "")
        if "Recurrence" not in master.props:
            raise EwsError(
                "ErrorCalendarCannotUseIdForOccurrenceId",
                "The id of a recurring master is needed to name an occurrence.",
            )
        try:
            index = int(elem.get("InstanceIndex") or "")
        except ValueError:
            raise malformed("InstanceIndex must be an integer") from None
        return instance(master, index)
    if name == "RecurringMasterItemId":
        split = split_occurrence_id(elem.get("OccurrenceId") or "")
        if split is None:
            state.item(mailbox, elem.get("OccurrenceId") or "")  # ErrorItemNotFound first
            raise EwsError(
                "ErrorCalendarCannotUseIdForRecurringMasterId",
                "The id of an occurrence or exception is needed to name its recurring master.",
            )
        return Target(state.item(mailbox, split[0]))
    raise malformed(f"{name} is not an item id")


def instance(master: Item, index: int) -> Target:
    series = series_of(master)
    if series is None or series.start_of(index) is None:
        raise EwsError(
            "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
            "The occurrence index is out of the recurrence range.",
        )
    if index in master.deleted:
        raise EwsError(
            "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
            "The occurrence was deleted from the recurrence.",
        )
    return Target(master, index)


def occurrence(master: Item, index: int, series: Series | None = None) -> Item:
    """Instance ``index`` as an item: the master's properties (less the series-only ones) at
    the instance's time, then, for an exception, the properties it changed."""
    series = series or series_of(master)
    original = series.start_of(index) if series else None
    if series is None or original is None:
        raise ValueError(f"no instance {index} in the series")
    props = {k: v for k, v in master.props.items() if k not in SERIES_ONLY}
    props |= {
        "Start": t("Start", when(original)),
        "End": t("End", when(original + series.duration)),
        "OriginalStart": t("OriginalStart", when(original)),
        "RecurrenceId": t("RecurrenceId", when(original)),
        "CalendarItemType": t("CalendarItemType", "Occurrence"),
        "IsRecurring": t("IsRecurring", "true"),
    }
    version, changekey = master.version, master.changekey
    exception = master.exceptions.get(index)
    if exception is not None:
        for key in exception.prop_versions:
            if key in exception.props:
                props[key] = exception.props[key]
            else:
                props.pop(key, None)
        props["CalendarItemType"] = t("CalendarItemType", "Exception")
        version, changekey = exception.version, exception.changekey
    item_id = occurrence_id(master, index)
    return Item(item_id, master.mailbox, master.folder_id, master.kind, props, version, changekey)


def time_span(item: Item) -> tuple[dt.datetime, dt.datetime] | None:
    start, end = item.props.get("Start"), item.props.get("End")
    if start is None or end is None or not start.text or not end.text:
        return None
    return instant(start.text), instant(end.text)


def expand(master: Item, start: dt.datetime, end: dt.datetime) -> list[Item]:
    """The occurrences and exceptions overlapping [start, end) ("CalendarView")."""
    series = series_of(master)
    if series is None:
        return []
    found = []
    for index, original in enumerate(series.starts(), 1):
        if original >= end:
            break
        skipped = index in master.deleted or index in master.exceptions
        if not skipped and original + series.duration > start:
            found.append(occurrence(master, index, series))
    for index in sorted(master.exceptions):
        moved = occurrence(master, index, series)
        span = time_span(moved)
        if span is not None and span[0] < end and span[1] > start:
            found.append(moved)
    return found
