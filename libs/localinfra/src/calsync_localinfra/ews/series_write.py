"""Writes to recurring series ("Create a recurring series", "Update a recurring series", "Delete
appointments and cancel meetings by using EWS"), and the properties Exchange computes on a
master: CalendarItemType, IsRecurring, FirstOccurrence, LastOccurrence (bounded ranges only),
ModifiedOccurrences and DeletedOccurrences (omitted when empty).

A master's Start and End are those of its first instance, whatever date the client gave. A
change of its pattern, Start, End or start time zone recomputes the series and drops its
exceptions and deleted occurrences; other changes reach every occurrence that did not change
that property itself. Changing or deleting an occurrence changes the master (its ChangeKey,
hence SyncFolderItems reports an Update of it): occurrences are no items of the folder.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import xml.etree.ElementTree as ET

from calsync_localinfra.ews.item_changes import apply_update, conflict, mail_update
from calsync_localinfra.ews.item_values import attendees, refresh_meeting_flags, value_is_true
from calsync_localinfra.ews.recurrence import rendered
from calsync_localinfra.ews.series import SERIES_ONLY, Series, occurrence, series_of, when
from calsync_localinfra.ews.soap import Element, EwsError, t
from calsync_localinfra.ews.store import ExchangeState, Item

NOT_ON_OCCURRENCES = SERIES_ONLY | {"UID"}
"""What an occurrence cannot be given (its series' pattern, its identity)."""


def anchor(props: dict[str, Element]) -> None:
    """A master's Start and End moved to its first instance, at the same wall-clock time."""
    series = Series.of(props)
    if series is None:
        return
    first = series.start_of(1)
    if first is None:
        raise EwsError("ErrorRecurrenceHasNoOccurrence", "The recurrence has no occurrences.")
    props["Start"] = t("Start", when(first))
    props["End"] = t("End", when(first + series.duration))


def refresh_series(master: Item) -> None:
    """The properties the server computes on a master (or clears on an item no longer one)."""
    props = master.props
    for key in SERIES_ONLY - {"Recurrence"}:
        props.pop(key, None)
    series = series_of(master)
    if series is None:
        props["CalendarItemType"] = t("CalendarItemType", "Single")
        props["IsRecurring"] = t("IsRecurring", "false")
        return
    props["Recurrence"] = rendered(props["Recurrence"], series.zone)
    props["CalendarItemType"] = t("CalendarItemType", "RecurringMaster")
    # "IsRecurring": false on the organizer's master (documented as a known wrong value).
    organizer = value_is_true(props.get("IsOrganizer"))
    props["IsRecurring"] = t("IsRecurring", "false" if organizer else "true")
    live = (i for i in itertools.count(1) if i not in master.deleted)
    bounded = series.rule.count is not None or series.rule.end_date is not None
    total = sum(1 for _ in series.starts()) if bounded else None
    first = next(live)
    if total is None or first <= total:
        props["FirstOccurrence"] = _info("FirstOccurrence", occurrence(master, first, series))
    if total is not None:
        last = next((i for i in range(total, 0, -1) if i not in master.deleted), None)
        if last is not None:
            props["LastOccurrence"] = _info("LastOccurrence", occurrence(master, last, series))
    if master.exceptions:
        modified = props["ModifiedOccurrences"] = t("ModifiedOccurrences")
        for index in sorted(master.exceptions):
            modified.append(_info("Occurrence", occurrence(master, index, series)))
    if master.deleted:
        deleted = props["DeletedOccurrences"] = t("DeletedOccurrences")
        for index in sorted(master.deleted):
            gone = t("DeletedOccurrence")
            gone.append(t("Start", when(_original(series, index))))
            deleted.append(gone)


def _original(series: Series, index: int) -> dt.datetime:
    start = series.start_of(index)
    if start is None:
        raise ValueError(f"no instance {index}")
    return start


def _info(name: str, item: Item) -> Element:
    """An OccurrenceInfoType: ItemId, Start, End, OriginalStart."""
    info = t(name)
    info.append(t("ItemId", Id=item.id, ChangeKey=item.changekey))
    info.extend(copy.deepcopy(item.props[k]) for k in ("Start", "End", "OriginalStart"))
    return info


def settle_master(master: Item, before: Series | None) -> None:
    """After a write to an item: a changed pattern, time of day, length or zone (``before`` is
    the series as it was) drops the exceptions and deleted occurrences."""
    if before != series_of(master):
        master.exceptions.clear()
        master.deleted.clear()
    refresh_series(master)


def _same(one: Element | None, other: Element | None) -> bool:
    """Whether a client re-sent a value unchanged (exchangelib re-sends UID on full saves)."""
    if one is None or other is None:
        return one is other
    return _canonical(one) == _canonical(other)


def _canonical(elem: Element) -> bytes:
    bare = copy.deepcopy(elem)
    bare.tail = None
    return ET.tostring(bare)


def update_occurrence(
    state: ExchangeState,
    master: Item,
    index: int,
    change: tuple[list[Element], str | None, str, str],
) -> Item:
    """An occurrence changed, so an exception; ``change``: the updates, the client's ChangeKey,
    the conflict mode and SendMeetingInvitationsOrCancellations. Answers the exception."""
    updates, changekey, mode, sending = change
    current = occurrence(master, index)
    props = {k: copy.deepcopy(v) for k, v in current.props.items()}
    changed = []
    for update in updates:
        key = apply_update(props, update)
        if key not in NOT_ON_OCCURRENCES:
            changed.append(key)
        elif not _same(props.get(key), current.props.get(key)):
            raise EwsError("ErrorInvalidPropertySet", f"{key} cannot be set on an occurrence.")
    exception = master.exceptions.get(index)
    if exception is None:
        exception = Item(current.id, master.mailbox, master.folder_id, master.kind, {})
    _check_conflict(master, exception, changekey, mode, changed)
    refresh_meeting_flags(props, sending != "SendToNone" and bool(attendees(props)))
    for key in [*changed, "LastModifiedTime"]:
        if key in props:
            exception.props[key] = props[key]
        else:
            exception.props.pop(key, None)
    master.exceptions[index] = exception
    state.touch(exception, [*changed, "LastModifiedTime"])
    state.touch(master, ["ModifiedOccurrences"])
    refresh_series(master)
    answer = occurrence(master, index)
    mail_update(state, answer, attendees(current.props), sending)
    return answer


def _check_conflict(
    master: Item, exception: Item, changekey: str | None, mode: str, changed: list[str]
) -> None:
    """As for items (``item_changes``), an occurrence's ChangeKey being its exception's or the
    master's (an OccurrenceItemId carries the master's)."""
    current = {master.changekey, exception.changekey}
    if not changekey or changekey in current or mode == "AlwaysOverwrite":
        return
    seen = exception.versions_by_changekey.get(changekey)
    seen = master.versions_by_changekey.get(changekey) if seen is None else seen
    if seen is None:
        raise EwsError("ErrorInvalidChangeKey", "The change key is invalid.")
    if mode == "AutoResolve" and all(exception.prop_versions.get(k, 0) <= seen for k in changed):
        return
    raise conflict()


def delete_occurrence(state: ExchangeState, master: Item, index: int) -> Item:
    """An occurrence or exception deleted: listed in DeletedOccurrences. Answers it as it was."""
    gone = occurrence(master, index)
    master.exceptions.pop(index, None)
    master.deleted.add(index)
    state.touch(master, ["DeletedOccurrences", "ModifiedOccurrences"])
    refresh_series(master)
    return gone
