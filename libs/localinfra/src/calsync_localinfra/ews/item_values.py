"""What the server computes and normalises on a calendar item ("CalendarItem"): times stored
in UTC as Exchange answers them, the properties only the server sets (UID when not given,
Organizer, MyResponseType, CalendarItemType, IsMeeting, DateTimeCreated, LastModifiedTime), and
the attendees' addresses for the mails a meeting sends."""

from __future__ import annotations

import datetime as dt
import secrets

from calsync_localinfra.ews.properties import key_of_element, names
from calsync_localinfra.ews.soap import Element, local, malformed, t, tag
from calsync_localinfra.ews.store import now_text

TIMES = ("Start", "End")
ATTENDEE_LISTS = ("RequiredAttendees", "OptionalAttendees", "Resources")
READ_ONLY = frozenset(
    names(
        "ItemId ParentFolderId DateTimeCreated LastModifiedTime Organizer MyResponseType "
        "CalendarItemType IsMeeting IsCancelled IsRecurring MeetingRequestWasSent IsOrganizer "
        "AppointmentSequenceNumber AppointmentState OriginalStart RecurrenceId FirstOccurrence "
        "LastOccurrence ModifiedOccurrences DeletedOccurrences"
    )
)
BOOLEANS = frozenset(
    names(
        "ReminderIsSet IsAllDayEvent IsResponseRequested AllowNewTimeProposal IsOnlineMeeting "
        "IsAssociated IsDraft IsRead IsDeliveryReceiptRequested IsReadReceiptRequested"
    )
)
# Outlook's UID prefix (the Global Object Id of MS-OXOCAL §2.2.1.27), then random bytes.
UID_PREFIX = "040000008200E00074C5B7101A82E00800000000"


def utc_text(text: str) -> str:
    """An xs:dateTime as EWS answers it: UTC, seconds, ``Z``."""
    try:
        instant = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise malformed(f"{text!r} is not an xs:dateTime") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def props_of(item: Element) -> dict[str, Element]:
    """The client's properties of a CalendarItem, times normalised; server-set ones refused."""
    props: dict[str, Element] = {}
    for elem in item:
        name = local(elem.tag)
        if name in READ_ONLY:
            raise malformed(f"{name} is set by the server")
        props[key_of_element(elem)] = normalised(elem)
    return props


def normalised(elem: Element) -> Element:
    """Times in UTC; xs:boolean's ``1``/``0`` (as exchangelib writes them) as the ``true`` /
    ``false`` Exchange answers."""
    name = local(elem.tag)
    if name in TIMES and elem.text:
        elem.text = utc_text(elem.text)
    elif name in BOOLEANS and elem.text:
        elem.text = "true" if elem.text.strip() in {"1", "true"} else "false"
    return elem


def server_props(mailbox: str, props: dict[str, Element]) -> dict[str, Element]:
    """What a new item gets from the server, the caller being its organizer."""
    now = now_text()
    computed = {
        "DateTimeCreated": t("DateTimeCreated", now),
        "LastModifiedTime": t("LastModifiedTime", now),
        "CalendarItemType": t("CalendarItemType", "Single"),
        "MyResponseType": t("MyResponseType", "Organizer"),
        "IsCancelled": t("IsCancelled", "false"),
        "IsRecurring": t("IsRecurring", "false"),
        "IsOrganizer": t("IsOrganizer", "true"),
        "Organizer": organizer(mailbox),
    }
    if "UID" not in props:
        computed["UID"] = t("UID", UID_PREFIX + secrets.token_hex(16).upper())
    return computed


def organizer(mailbox: str) -> Element:
    wrapper = t("Organizer")
    box = t("Mailbox")
    box.extend(
        [
            t("Name", mailbox.split("@")[0]),
            t("EmailAddress", mailbox),
            t("RoutingType", "SMTP"),
            t("MailboxType", "Mailbox"),
        ]
    )
    wrapper.append(box)
    return wrapper


def refresh_meeting_flags(props: dict[str, Element], invited: bool) -> None:
    """IsMeeting follows the attendees; MeetingRequestWasSent once invitations went out."""
    props["IsMeeting"] = t("IsMeeting", "true" if attendees(props) else "false")
    if invited or "MeetingRequestWasSent" not in props:
        sent = invited or value_is_true(props.get("MeetingRequestWasSent"))
        props["MeetingRequestWasSent"] = t("MeetingRequestWasSent", "true" if sent else "false")
    props["LastModifiedTime"] = t("LastModifiedTime", now_text())


def value_is_true(elem: Element | None) -> bool:
    return elem is not None and (elem.text or "").strip() == "true"


def attendees(props: dict[str, Element]) -> list[str]:
    found = []
    for name in ATTENDEE_LISTS:
        listed = props.get(name)
        if listed is None:
            continue
        for address in listed.iter(tag("t", "EmailAddress")):
            if address.text:
                found.append(address.text.strip())
    return found


def subject(props: dict[str, Element]) -> str:
    found = props.get("Subject")
    return "" if found is None else (found.text or "")
