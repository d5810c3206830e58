"""Property paths and response shapes ("ItemShape", "AdditionalProperties", "FieldURI",
"ExtendedFieldURI"): which stored elements an answer carries, in the schema's element order
(types.xsd ItemType, then CalendarItemType), since EWS answers are schema-ordered.

A path's key is the element's local name for a ``t:FieldURI`` (``calendar:Start`` → ``Start``)
and ``ext|<property set GUID>|<name or id or tag>|<type>`` for a ``t:ExtendedFieldURI``, the set
given either by ``PropertySetId`` or by its ``DistinguishedPropertySetId`` (both name the same
property: "ExtendedFieldURI").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from calsync_localinfra.ews.soap import Element, local, malformed, t, tag


def names(text: str) -> tuple[str, ...]:
    """Element names written as one space-separated string (long lists stay readable)."""
    return tuple(text.split())


DISTINGUISHED_SETS = {
    "publicstrings": "00020329-0000-0000-c000-000000000046",
    "common": "00062008-0000-0000-c000-000000000046",
    "appointment": "00062002-0000-0000-c000-000000000046",
    "meeting": "6ed8da90-450b-101b-98da-00aa003f1305",
    "task": "00062003-0000-0000-c000-000000000046",
    "address": "00062004-0000-0000-c000-000000000046",
    "internetheaders": "00020386-0000-0000-c000-000000000046",
    "calendarassistant": "11000e07-b51b-40d6-af21-caa85edab1d0",
}

ITEM_ORDER = names(
    "MimeContent ItemId ParentFolderId ItemClass Subject Sensitivity Body Attachments "
    "DateTimeReceived Size Categories Importance InReplyTo IsSubmitted IsDraft IsFromMe IsResend "
    "IsUnmodified InternetMessageHeaders DateTimeSent DateTimeCreated ResponseObjects "
    "ReminderDueBy ReminderIsSet ReminderNextTime ReminderMinutesBeforeStart DisplayCc DisplayTo "
    "HasAttachments ExtendedProperty Culture EffectiveRights LastModifiedName LastModifiedTime "
    "IsAssociated WebClientReadFormQueryString WebClientEditFormQueryString ConversationId "
    "UniqueBody Flag StoreEntryId InstanceKey NormalizedBody EntityExtractionResult PolicyTag "
    "ArchiveTag RetentionDate Preview RightsManagementLicenseData PredictedActionReasons "
    "IsClutter TextBody IconIndex SearchKey SortKey Hashtags Mentions MentionedMe "
    "UID RecurrenceId DateTimeStamp Start End OriginalStart IsAllDayEvent LegacyFreeBusyStatus "
    "Location When IsMeeting IsCancelled IsRecurring MeetingRequestWasSent IsResponseRequested "
    "CalendarItemType MyResponseType Organizer RequiredAttendees OptionalAttendees Resources "
    "ConflictingMeetingCount AdjacentMeetingCount ConflictingMeetings AdjacentMeetings Duration "
    "TimeZone AppointmentReplyTime AppointmentSequenceNumber AppointmentState Recurrence "
    "FirstOccurrence LastOccurrence ModifiedOccurrences DeletedOccurrences MeetingTimeZone "
    "StartTimeZone EndTimeZone ConferenceType AllowNewTimeProposal IsOnlineMeeting "
    "MeetingWorkspaceUrl NetShowUrl EnhancedLocation StartWallClock EndWallClock "
    "StartTimeZoneId EndTimeZoneId IntendedFreeBusyStatus JoinOnlineMeetingUrl "
    "OnlineMeetingSettings IsOrganizer"
)
RANK = {name: rank for rank, name in enumerate(ITEM_ORDER)}

DEFAULT_CALENDAR_SHAPE = frozenset(
    names(
        "Subject Attachments ResponseObjects HasAttachments IsAssociated Start End "
        "LegacyFreeBusyStatus Location CalendarItemType Organizer RequiredAttendees "
        "OptionalAttendees Resources"
    )
)
NOT_IN_ALL_PROPERTIES = frozenset({"MimeContent", "ExtendedProperty"})
NOT_IN_FIND = frozenset({"Body", "UniqueBody", "MimeContent", "Attachments"})
"""FindItem and SyncFolderItems return no body ("FindItem operation", remarks)."""


@dataclass
class Shape:
    base: str = "IdOnly"
    additional: list[Element] = field(default_factory=list)
    """The ``t:FieldURI``/``t:ExtendedFieldURI`` paths asked for besides the base shape."""


def parse_shape(shape: Element | None) -> Shape:
    if shape is None:
        raise malformed("the shape element (ItemShape/FolderShape) is missing")
    base = shape.find(tag("t", "BaseShape"))
    if base is None or base.text not in {"IdOnly", "Default", "AllProperties"}:
        raise malformed("BaseShape must be IdOnly, Default or AllProperties")
    extra = shape.find(tag("t", "AdditionalProperties"))
    return Shape(base.text, [] if extra is None else list(extra))


def path_key(path: Element) -> str:
    """The key a property path names (see the module docstring)."""
    name = local(path.tag)
    if name == "FieldURI":
        return (path.get("FieldURI") or "").rsplit(":", 1)[-1]
    if name == "IndexedFieldURI":
        return f"idx|{path.get('FieldURI')}|{path.get('FieldIndex')}"
    if name == "ExtendedFieldURI":
        return extended_key(path)
    raise malformed(f"{name} is not a property path")


def extended_key(uri: Element) -> str:
    distinguished = (uri.get("DistinguishedPropertySetId") or "").lower()
    property_set = DISTINGUISHED_SETS.get(distinguished, (uri.get("PropertySetId") or "").lower())
    if uri.get("PropertyTag"):
        name = f"tag:{int(uri.get('PropertyTag') or '0', 0)}"
    elif uri.get("PropertyId"):
        name = f"id:{uri.get('PropertyId')}"
    else:
        name = uri.get("PropertyName") or ""
    return f"ext|{property_set}|{name}|{uri.get('PropertyType')}"


def key_of_element(elem: Element) -> str:
    """The key a stored element answers to (an ExtendedProperty by its ExtendedFieldURI)."""
    if local(elem.tag) == "ExtendedProperty":
        uri = elem.find(tag("t", "ExtendedFieldURI"))
        if uri is None:
            raise malformed("ExtendedProperty without ExtendedFieldURI")
        return extended_key(uri)
    return local(elem.tag)


def wanted_keys(shape: Shape, stored: list[str], find: bool) -> list[str]:
    """The stored properties an answer shaped so carries."""
    if shape.base == "AllProperties":
        keys = {k for k in stored if not k.startswith("ext|") and k not in NOT_IN_ALL_PROPERTIES}
    elif shape.base == "Default":
        keys = {k for k in stored if k in DEFAULT_CALENDAR_SHAPE}
    else:
        keys = set()
    keys |= {path_key(path) for path in shape.additional}
    if find:
        keys -= NOT_IN_FIND
    return [k for k in stored if k in keys]


def ordered(elements: list[Element]) -> list[Element]:
    """Elements in the schema's order; extended properties take ExtendedProperty's place."""
    end = len(ITEM_ORDER)
    return sorted(elements, key=lambda e: RANK.get(local(e.tag), end))


def value_text(elem: Element | None) -> str | None:
    """A property's value as text: an ExtendedProperty's ``t:Value``, else the element's."""
    if elem is None:
        return None
    if local(elem.tag) == "ExtendedProperty":
        value = elem.find(tag("t", "Value"))
        return None if value is None else (value.text or "")
    return elem.text or ""


def render_element(kind: str, head: list[Element], props: list[Element]) -> Element:
    item = t(kind)
    item.extend(ordered(head + [copy.deepcopy(p) for p in props]))
    return item
