"""The pure planner: given the status-table row and what one side says, what to do.

No I/O: every rule is a table test (``tests/test_planner.py``). The rules are the ones the best
engines converged on (docs/sync-engine.md):

- an item changed only when its version tag AND its content hash changed (churn and our own
  echoes are recognised and dropped);
- a modification beats a deletion;
- a meeting outside the sync window, or a logical delete, only unlinks — never deletes;
- series are not created from the CRM (they are shown and their occurrences edited).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from uuid import UUID

from calsync_contracts.events import DeletionKind, ProviderLink
from calsync_contracts.meeting import MeetingSnapshot
from sync_core.context import ConnectionContext
from sync_core.items import ProviderItem, WriteResult
from sync_core.links import Link
from sync_core.views import (
    content_hash,
    display_hash,
    meeting_view,
    provider_fields_of,
    provider_view,
)


@dataclass(frozen=True, slots=True)
class CrmChange:
    """A CRM meeting event, reduced to what the planner needs."""

    meeting: MeetingSnapshot
    deletion: DeletionKind | None = None
    origin_connection_id: UUID | None = None
    """Set when the CRM applied a provider change (the event's origin)."""
    provider_link: ProviderLink | None = None


class Outbound(StrEnum):
    SKIP = "skip"
    CONFIRM = "confirm"
    """The provider already holds this content (our echo): only the status row changes."""
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNLINK = "unlink"
    """Forget the link, touch nothing in the provider (a logical delete)."""
    REPUBLISH = "republish"
    """The provider changed and the CRM has not answered yet: writing this (older) CRM state
    would undo the provider's edit, so the provider's change goes to the CRM again; its merge
    answers with content that has both."""


@dataclass(frozen=True, slots=True)
class OutboundPlan:
    action: Outbound
    reason: str
    calendar_id: str | None = None


def plan_outbound(ctx: ConnectionContext, link: Link | None, change: CrmChange) -> OutboundPlan:
    meeting = change.meeting
    if link is not None and link.deleted:
        return _plan_after_provider_delete(ctx, link, change)
    if change.deletion is not None:
        return _plan_deletion(link, change.deletion)
    if meeting.owner_user_id != ctx.user_id:
        # Re-booked into another user's calendar: it leaves this one (that user's service adds it).
        return _gone(link, "the meeting now belongs to another user's calendar")
    if not ctx.window.overlaps(meeting.time, meeting.recurrence):
        return _unlink(link, "the meeting is outside the sync window")
    if link is not None and link.crm_version is not None and meeting.version <= link.crm_version:
        return OutboundPlan(Outbound.SKIP, "this version (or a later one) is already synced")
    crm_hash = content_hash(meeting_view(meeting))
    shown = display_hash(meeting, ctx.shown_fields)
    if link is not None and crm_hash == link.provider_hash and shown == link.display_hash:
        return OutboundPlan(Outbound.CONFIRM, "the provider already holds this content")
    awaiting = (
        link is not None and link.crm_hash is not None and link.crm_hash != link.provider_hash
    )
    if awaiting and change.origin_connection_id != ctx.connection_id:
        return OutboundPlan(Outbound.REPUBLISH, "a provider change awaits the CRM's merge")
    if link is not None:
        return OutboundPlan(Outbound.UPDATE, "changed in the CRM", link.calendar_id)
    if meeting.recurrence is not None or meeting.series_id is not None:
        return OutboundPlan(Outbound.SKIP, "series are created in the user's own calendar program")
    return OutboundPlan(Outbound.CREATE, "new in the CRM", ctx.calendar_for(meeting))


def _plan_after_provider_delete(
    ctx: ConnectionContext, tombstone: Link, change: CrmChange
) -> OutboundPlan:
    """The item was deleted in the provider. The CRM either confirms (deletes or unlinks the
    meeting: the tombstone goes) or revives it because it changed the meeting meanwhile (a
    modification beats a deletion: create it again). Anything else waits for that answer."""
    if change.deletion is not None:
        return OutboundPlan(Outbound.UNLINK, "the CRM confirmed the deletion")
    revived = tombstone.crm_version is None or change.meeting.version > tombstone.crm_version
    if revived and change.origin_connection_id != ctx.connection_id:
        return OutboundPlan(
            Outbound.CREATE,
            "changed in the CRM after the deletion",
            ctx.calendar_for(change.meeting),
        )
    return OutboundPlan(Outbound.SKIP, "deleted in the provider; waiting for the CRM")


def _plan_deletion(link: Link | None, kind: DeletionKind) -> OutboundPlan:
    if kind is DeletionKind.LOGICAL:
        return _unlink(link, "unlinked in the CRM (logical delete)")
    return _gone(link, "deleted in the CRM")


def _gone(link: Link | None, reason: str) -> OutboundPlan:
    if link is None:
        return OutboundPlan(Outbound.SKIP, reason)
    return OutboundPlan(Outbound.DELETE, reason, link.calendar_id)


def _unlink(link: Link | None, reason: str) -> OutboundPlan:
    if link is None:
        return OutboundPlan(Outbound.SKIP, reason)
    return OutboundPlan(Outbound.UNLINK, reason, link.calendar_id)


def confirmed_link(
    ctx: ConnectionContext, link: Link, meeting: MeetingSnapshot, version_tag: str | None
) -> Link:
    """The status row once both sides hold ``meeting``'s content at ``version_tag``."""
    digest = content_hash(meeting_view(meeting))
    return replace(
        link,
        version_tag=version_tag,
        provider_hash=digest,
        crm_meeting_id=meeting.id,
        ical_uid=meeting.ical_uid,
        crm_version=meeting.version,
        crm_hash=digest,
        display_hash=display_hash(meeting, ctx.shown_fields),
        base=provider_fields_of(meeting).model_dump(mode="json"),
        last_error=None,
        deleted=False,
    )


def new_link(
    ctx: ConnectionContext, calendar_id: str, write: WriteResult, meeting: MeetingSnapshot
) -> Link:
    blank = Link(calendar_id, write.external_id, version_tag=None, provider_hash=None)
    return confirmed_link(ctx, blank, meeting, write.version_tag)


# --- inbound ---------------------------------------------------------------------------------


class Inbound(StrEnum):
    SKIP = "skip"
    REFRESH_TAG = "refresh_tag"
    """Same content under a new version tag (server churn or our own write): remember the tag."""
    PUBLISH = "publish"
    """Changed (or new) in the provider: tell the CRM, which merges it field by field."""
    UNLINK = "unlink"
    """Left the sync window: tell the CRM to unlink (logical delete), never to delete."""
    BAD_ITEM = "bad_item"
    """Unreadable: record the error on the item, sync the rest (Odoo #109358)."""


@dataclass(frozen=True, slots=True)
class InboundPlan:
    action: Inbound
    reason: str
    link: Link | None = None
    """The status row after the action (None: remove it)."""


def plan_inbound(
    ctx: ConnectionContext, link: Link | None, item: ProviderItem, calendar_id: str
) -> InboundPlan:
    if link is not None and link.deleted:
        link = None  # the item is back (e.g. an undo): a new item, never the tombstone
    if item.fields is None:
        failed = replace(link, last_error=item.error) if link is not None else None
        return InboundPlan(Inbound.BAD_ITEM, item.error or "unreadable item", failed)
    if not ctx.window.overlaps(item.fields.time, item.fields.recurrence):
        if link is None:
            return InboundPlan(Inbound.SKIP, "outside the sync window")
        return InboundPlan(Inbound.UNLINK, "moved outside the sync window", None)
    if link is not None and link.version_tag is not None and item.version_tag == link.version_tag:
        return InboundPlan(Inbound.SKIP, "version unchanged", link)
    digest = content_hash(provider_view(item.fields))
    if link is not None and digest == link.provider_hash:
        refreshed = replace(link, version_tag=item.version_tag, external_id=item.external_id)
        return InboundPlan(Inbound.REFRESH_TAG, "content unchanged", refreshed)
    seen = replace(
        link
        or Link(
            calendar_id=calendar_id,
            external_id=item.external_id,
            version_tag=None,
            provider_hash=None,
        ),
        calendar_id=calendar_id,
        external_id=item.external_id,
        version_tag=item.version_tag,
        provider_hash=digest,
        crm_meeting_id=(link.crm_meeting_id if link else None) or item.crm_meeting_id,
        ical_uid=item.ical_uid,
        base=item.fields.model_dump(mode="json"),
        last_error=None,
    )
    return InboundPlan(
        Inbound.PUBLISH, "changed in the provider" if link else "new in the provider", seen
    )


def is_suddenly_empty(listed: int, linked: int) -> bool:
    """A full listing that returns nothing while the status table holds items is far more likely
    a wrong account or a wiped server than a user deleting everything: abort, delete nothing
    (vdirsyncer's rule; a DAV client once deleted all local data after a token reset)."""
    return listed == 0 and linked > 0
