"""Which invitations a saved meeting causes (iTIP, RFC 5546): pure rules, no I/O.

- REQUEST on create and on a significant change (time, location, subject, attendees), to every
  attendee; CANCEL on delete, and to attendees removed by an edit.
- Nothing for "save without sending", for a meeting that is over, for a meeting without other
  participants, when the owner's calendar provider sends invitations itself (never both), and
  for an edit that changes nothing significant.
- Nothing for a series: it was made, and its invitations sent, by the owner's calendar program;
  a REQUEST without its RRULE would replace the whole series in the attendees' calendars by one
  event. An edited occurrence is invited for alone, with its RECURRENCE-ID (RFC 5546 §3.2.2).
- Provider changes and imports never reach here: only the API's commands ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

from calsync_contracts.events import InvitationMethod
from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, Participant, ParticipantKind

SIGNIFICANT_FIELDS = ("subject", "location", "time")


@dataclass(frozen=True, slots=True)
class Mailing:
    method: InvitationMethod
    recipients: tuple[Participant, ...]
    attendees: tuple[Participant, ...]
    """Everyone the ATTENDEE lines name (a REQUEST names all; a CANCEL its recipients)."""


@dataclass(frozen=True, slots=True)
class Situation:
    previous: MeetingSnapshot | None
    current: MeetingSnapshot
    owner_email: str
    deleted: bool = False
    send: bool = False
    provider_sends: bool = False


def attendees_of(meeting: MeetingSnapshot, owner_email: str) -> tuple[Participant, ...]:
    """Participants an invitation can reach: with an address, not an organisation, not the
    organiser, each address once."""
    seen = {owner_email.strip().lower()}
    found = []
    for participant in meeting.participants:
        email = (participant.email or "").strip().lower()
        if not email or participant.kind is ParticipantKind.ORGANISATION or email in seen:
            continue
        seen.add(email)
        found.append(participant)
    return tuple(found)


def is_significant(previous: MeetingSnapshot | None, current: MeetingSnapshot) -> bool:
    if previous is None:
        return True
    changed = any(getattr(previous, f) != getattr(current, f) for f in SIGNIFICANT_FIELDS)
    return changed or _emails(previous) != _emails(current)


def plan_invitations(situation: Situation, now: datetime) -> list[Mailing]:
    s = situation
    if not s.send or s.provider_sends or s.current.recurrence is not None:
        return []
    if ends_at(s.current) <= now:
        return []
    current = attendees_of(s.current, s.owner_email)
    if s.deleted:
        return [Mailing(InvitationMethod.CANCEL, current, current)] if current else []
    mailings = []
    if s.previous is not None:
        kept = {_email(p) for p in current}
        removed = tuple(p for p in attendees_of(s.previous, s.owner_email) if _email(p) not in kept)
        if removed:
            mailings.append(Mailing(InvitationMethod.CANCEL, removed, removed))
    if current and is_significant(s.previous, s.current):
        mailings.append(Mailing(InvitationMethod.REQUEST, current, current))
    return mailings


def ends_at(meeting: MeetingSnapshot) -> datetime:
    span = meeting.time
    if isinstance(span, AllDaySpan):
        return datetime.combine(span.end_date, time(0), tzinfo=UTC)
    return span.end


def _emails(meeting: MeetingSnapshot) -> set[str]:
    return {_email(p) for p in meeting.participants if p.email}


def _email(participant: Participant) -> str:
    return (participant.email or "").strip().lower()
