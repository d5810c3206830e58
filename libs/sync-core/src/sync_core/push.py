"""Push channels, provider-neutral and free of I/O: which calendars of a connection need a new
channel (none yet, the address changed, or it expires soon) and which channels to stop.

Push is a hint, polling the safety net (sync-lessons §1): providers drop notifications, and
their channels expire (Google's cannot be renewed, only replaced: open a new one, then stop the
old, "Push notifications", Calendar API v3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

RENEW_WITHIN = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PushChannel:
    channel_id: str
    connection_id: UUID
    calendar_id: str
    resource_id: str
    address: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    open: list[str]
    """Calendar ids that need a new channel."""
    stop: list[PushChannel]
    """Channels to stop: of calendars no longer chosen, for an old address, or replaced."""


def plan_channels(
    existing: Sequence[PushChannel],
    calendars: Sequence[str],
    address: str | None,
    now: datetime,
    renew_within: timedelta = RENEW_WITHIN,
) -> ChannelPlan:
    """``address`` None: push is off, every channel stops. A channel that expires within
    ``renew_within`` is replaced now (the old one is stopped after its successor opened, so no
    notification falls between the two)."""
    if address is None:
        return ChannelPlan([], list(existing))
    lasting: dict[str, PushChannel] = {}
    for channel in sorted(existing, key=lambda c: c.expires_at, reverse=True):
        usable = channel.address == address and channel.calendar_id in calendars
        if usable and channel.expires_at - now > renew_within:
            lasting.setdefault(channel.calendar_id, channel)
    to_open = [c for c in dict.fromkeys(calendars) if c not in lasting]
    kept = {c.channel_id for c in lasting.values()}
    return ChannelPlan(to_open, [c for c in existing if c.channel_id not in kept])
