"""Who may see a private meeting's details. One rule, used by every read and write path: the
calendar shows the others a busy block; lists leave the meeting out; reads and changes answer
404, so its existence is not disclosed either."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from calsync_contracts.meeting import MeetingSnapshot, ParticipantKind


def sees_details(
    *,
    private: bool,
    owner_user_id: uuid.UUID,
    booked_by_user_id: uuid.UUID | None,
    participant_user_ids: Iterable[uuid.UUID],
    viewer: uuid.UUID,
) -> bool:
    """The owner, the colleague who booked it on the owner's behalf, and the CRM users taking part
    see a private meeting; nobody else does, administrators included (privacy is the owner's
    choice, not a permission level)."""
    if not private or viewer in (owner_user_id, booked_by_user_id):
        return True
    return viewer in set(participant_user_ids)


def shown_to(meeting: MeetingSnapshot, viewer: uuid.UUID, *, series_private: bool = False) -> bool:
    """``series_private``: the meeting is one occurrence of a series changed on its own (an
    override), and the series is private. An occurrence is as private as its series, whatever
    its own flag says (it was copied when the occurrence was first changed)."""
    return sees_details(
        private=meeting.private or series_private,
        owner_user_id=meeting.owner_user_id,
        booked_by_user_id=meeting.booked_by_user_id,
        participant_user_ids=(
            p.id for p in meeting.participants if p.kind == ParticipantKind.USER and p.id
        ),
        viewer=viewer,
    )
