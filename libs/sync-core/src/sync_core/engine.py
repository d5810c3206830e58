"""The sync engine: drives the ports by the planner's decisions. No I/O of its own.

Write order gives at-least-once without duplicates:

- to the provider: write first, then the status row. A crash in between replays the CRM change;
  the create then finds its deterministic name taken (``AlreadyExists``) or the update gets a 412,
  and both re-fetch and recognise their own content.
- to the CRM: publish first, then the status row. A crash in between re-publishes the same
  content; the CRM recognises it (conflict rule 2) and matches by id / UID (rule 4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from calsync_contracts.events import (
    DeletionKind,
    InvitationSender,
    ProviderChange,
    ProviderChangeKind,
    ProviderEventFields,
)
from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot
from sync_core.cached_links import CachedLinks, PublishBatch
from sync_core.context import ConnectionContext
from sync_core.errors import (
    AlreadyExists,
    CursorInvalid,
    ItemRefused,
    PreconditionFailed,
    SuddenlyEmpty,
    TemporaryError,
)
from sync_core.items import (
    OCCURRENCE_SEPARATOR,
    ChangeBatch,
    ProviderItem,
    WriteResult,
    occurrence_id,
    series_of,
)
from sync_core.links import Link
from sync_core.planner import (
    CrmChange,
    Inbound,
    Outbound,
    OutboundPlan,
    confirmed_link,
    is_suddenly_empty,
    new_link,
    plan_inbound,
    plan_outbound,
)
from sync_core.ports import CalendarPort, ChangeSink, CrmReader, LinkStore
from sync_core.views import (
    PROVIDER_FIELDS,
    content_hash,
    meeting_view,
    provider_fields_of,
    provider_view,
)


@dataclass(slots=True)
class PullReport:
    full: bool = False
    published: int = 0
    refreshed: int = 0
    unchanged: int = 0
    deleted: int = 0
    unlinked: int = 0
    bad_items: list[str] = field(default_factory=list)
    pushed: int = 0


class SyncEngine:
    def __init__(
        self,
        ctx: ConnectionContext,
        calendar: CalendarPort,
        links: LinkStore,
        sink: ChangeSink,
        crm: CrmReader | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ctx = ctx
        self.calendar = calendar
        self.links = links
        self.sink = sink
        self.crm = crm
        self.clock = clock
        self._batch: PublishBatch | None = None

    # --- CRM → provider ------------------------------------------------------------------------

    async def push(self, change: CrmChange) -> OutboundPlan:
        """Applies one CRM change to the provider. Raises ``ProviderError`` (other than a refused
        item) so the caller keeps the change pending and retries it later."""
        forgotten = await self.links.forgotten_at(change.meeting.id)
        if forgotten is not None and change.meeting.version <= forgotten:
            return OutboundPlan(Outbound.SKIP, "a redelivered event of a deleted meeting")
        link = await self._link_for_meeting(change)
        plan = plan_outbound(self.ctx, link, change)
        try:
            await self._execute(plan, link, change.meeting)
        except ItemRefused as refused:
            await self._refused(plan, link, change.meeting, str(refused))
        if change.deletion is DeletionKind.PHYSICAL:  # only once done: a failure is retried
            await self.links.forget_meeting(change.meeting.id, change.meeting.version)
        return plan

    async def _link_for_meeting(self, change: CrmChange) -> Link | None:
        link = await self.links.by_meeting(change.meeting.id)
        provider_link = change.provider_link
        if link is None and provider_link and provider_link.connection_id == self.ctx.connection_id:
            link = await self.links.by_external_id(provider_link.external_id)
        if link is None and change.meeting.recurrence_id is None:
            link = await self._by_uid(change.meeting)
        if link is None:
            link = await self._new_occurrence(change.meeting)
        return link

    async def _by_uid(self, meeting: MeetingSnapshot) -> Link | None:
        """The item of the same UID: an import whose meeting we have not heard of yet, or an
        item the CRM re-imported under a new meeting (the CRM keeps UIDs unique, so the old
        meeting is gone): the row then starts over for the new meeting."""
        link = await self.links.by_uid(meeting.ical_uid)
        if link is None or OCCURRENCE_SEPARATOR in link.external_id:
            return None
        if link.deleted:
            # A tombstone of an item the CRM imported as this meeting before the import was
            # confirmed: the CRM's delete answers it, its edit revives the item (the planner).
            return link if link.crm_meeting_id in (None, meeting.id) else None
        if link.crm_meeting_id not in (None, meeting.id):
            link = replace(link, crm_meeting_id=None, crm_version=None, crm_hash=None)
        return link

    async def _new_occurrence(self, meeting: MeetingSnapshot) -> Link | None:
        """A first edit of one occurrence of a linked series goes back as a RECURRENCE-ID
        override inside the series' item: an update of the series, never a new item."""
        if meeting.series_id is None or meeting.recurrence_id is None:
            return None
        series = await self.links.by_meeting(meeting.series_id) or await self._series_item(meeting)
        if series is None:
            return None
        external_id = occurrence_id(series.external_id, meeting.recurrence_id)
        return Link(
            series.calendar_id, external_id, series.version_tag, None, ical_uid=meeting.ical_uid
        )

    async def _series_item(self, meeting: MeetingSnapshot) -> Link | None:
        """The series' item found by the UID it shares with its occurrences (RFC 5545
        §3.8.4.4), for when the series' own confirmation has not arrived yet: each meeting's
        events are keyed by its own id, so the first edit of an occurrence can overtake the
        confirmation of the series it came with (another partition)."""
        same_uid = await self.links.by_uid(meeting.ical_uid)
        if same_uid is None:
            return None
        return await self.links.by_external_id(same_uid.external_id.split(OCCURRENCE_SEPARATOR)[0])

    async def _execute(
        self, plan: OutboundPlan, link: Link | None, meeting: MeetingSnapshot
    ) -> None:
        match plan.action:
            case Outbound.SKIP:
                return
            case Outbound.CONFIRM:
                assert link is not None
                await self.links.save(confirmed_link(self.ctx, link, meeting, link.version_tag))
            case Outbound.UNLINK:
                assert link is not None
                await self.links.remove(link.external_id)
            case Outbound.DELETE:
                assert link is not None
                await self._delete(link, meeting)
            case Outbound.CREATE:
                assert plan.calendar_id is not None
                if link is not None:  # a tombstone: the CRM revived the meeting
                    await self.links.remove(link.external_id)
                await self._create(plan.calendar_id, meeting)
            case Outbound.UPDATE:
                assert link is not None
                await self._update(link, meeting)
            case Outbound.REPUBLISH:
                assert link is not None
                await self._republish(link)

    async def _create(self, calendar_id: str, meeting: MeetingSnapshot) -> None:
        try:
            write = await self.calendar.create(calendar_id, self.ctx.outbound(meeting))
        except AlreadyExists as taken:
            await self._adopt(calendar_id, taken.external_id, meeting)
            return
        await self.links.save(new_link(self.ctx, calendar_id, write, meeting))

    async def _adopt(self, calendar_id: str, external_id: str, meeting: MeetingSnapshot) -> None:
        """A retried create found an item of its chosen name: our own earlier write whose status
        row a crash lost. Edited since? Then that edit goes to the CRM, merged against what we
        wrote; never overwritten."""
        item = await self.calendar.fetch(calendar_id, external_id)
        if item is None:
            raise TemporaryError("an item appeared and vanished while creating; retrying")
        current = content_hash(provider_view(item.fields)) if item.fields else None
        written = replace(
            new_link(self.ctx, calendar_id, WriteResult(external_id, item.version_tag), meeting),
            ical_uid=item.ical_uid or meeting.ical_uid,
        )
        if current == written.crm_hash:
            await self.links.save(written)
        elif item.crm_meeting_id == meeting.id and item.fields is not None:
            seen = replace(written, provider_hash=current, base=item.fields.model_dump(mode="json"))
            await self._publish(self._upsert(written, item, initial=False), seen)
        else:
            await self._update(replace(written, provider_hash=current), meeting)

    async def _update(self, link: Link, meeting: MeetingSnapshot, retried: bool = False) -> None:
        try:
            write = await self.calendar.update(
                link.calendar_id, link.external_id, self.ctx.outbound(meeting), link.version_tag
            )
        except PreconditionFailed:
            await self._update_conflict(link, meeting, retried)
            return
        written = replace(link, external_id=write.external_id)
        await self.links.save(
            confirmed_link(self.ctx, written, meeting, write.version_tag), replaces=link.external_id
        )

    async def _republish(self, link: Link) -> None:
        item = await self.calendar.fetch(link.calendar_id, link.external_id)
        if item is None or item.fields is None:
            return  # gone or unreadable: the next pull reports it
        # Its base is the provider state the CRM received last: the CRM applies changes in
        # order (one partition per connection), so the chain of bases is unbroken.
        change = self._upsert(link, item, initial=False)
        seen = replace(
            link,
            version_tag=item.version_tag,
            provider_hash=content_hash(provider_view(item.fields)),
            base=item.fields.model_dump(mode="json"),
        )
        await self._publish(change, seen)

    async def _update_conflict(self, link: Link, meeting: MeetingSnapshot, retried: bool) -> None:
        """HTTP 412: someone changed the item since we last saw it. Re-fetch, then: our own
        content → confirm; only churn → write again; a real edit → hand it to the CRM, whose
        field-level three-way merge decides, and whose merged result comes back to be written."""
        item = await self.calendar.fetch(link.calendar_id, link.external_id)
        if item is None:
            await self.links.remove(link.external_id)
            if OCCURRENCE_SEPARATOR not in link.external_id:
                # Deleted in the provider, changed in the CRM: a modification beats a deletion.
                # (An occurrence whose series is gone has nothing left to live in.)
                await self._create(link.calendar_id, meeting)
            return
        current = content_hash(provider_view(item.fields)) if item.fields else None
        if current == content_hash(meeting_view(meeting)):
            await self.links.save(confirmed_link(self.ctx, link, meeting, item.version_tag))
        elif (current == link.provider_hash or item.fields is None) and not retried:
            await self._update(replace(link, version_tag=item.version_tag), meeting, retried=True)
        elif item.fields is not None and current != link.provider_hash:
            seen = replace(
                link,
                version_tag=item.version_tag,
                provider_hash=current,
                base=item.fields.model_dump(mode="json"),
            )
            change = self._upsert(link, item, initial=False)
            base = _with_our_write(change.base_fields, item.fields, meeting)
            await self._publish(change.model_copy(update={"base_fields": base}), seen)
        else:
            raise TemporaryError("the item keeps changing under us; retrying later")

    async def _delete(self, link: Link, meeting: MeetingSnapshot) -> None:
        notify = self.ctx.invitation_sender is InvitationSender.PROVIDER
        try:
            await self.calendar.delete(
                link.calendar_id, link.external_id, link.version_tag, notify_guests=notify
            )
        except PreconditionFailed:
            item = await self.calendar.fetch(link.calendar_id, link.external_id)
            current = content_hash(provider_view(item.fields)) if item and item.fields else None
            # Unchanged = what we last saw, or our own write whose status row a crash lost.
            ours = current in (link.provider_hash, content_hash(meeting_view(meeting)))
            if item is not None and (item.fields is None or ours):
                await self.calendar.delete(
                    link.calendar_id, link.external_id, item.version_tag, notify_guests=notify
                )
            elif item is not None and item.fields is not None:
                # Edited in the provider, deleted in the CRM: the modification wins; the CRM
                # imports it again as a new meeting, which this row then links.
                fresh = Link(
                    link.calendar_id,
                    link.external_id,
                    item.version_tag,
                    current,
                    ical_uid=item.ical_uid,
                    base=item.fields.model_dump(mode="json"),
                )
                change = self._upsert(None, item, initial=False, calendar_id=link.calendar_id)
                await self._publish(change, fresh)
                return
        await self.links.remove(link.external_id)

    async def _refused(
        self, plan: OutboundPlan, link: Link | None, meeting: MeetingSnapshot, error: str
    ) -> None:
        if link is not None:
            await self.links.save(replace(link, last_error=error))
        await self.links.record_bad_item(plan.calendar_id or "", f"crm:{meeting.id}", error)

    # --- provider → CRM ------------------------------------------------------------------------

    async def pull(self, full: bool = False) -> PullReport:
        """One pass over every picked calendar: incremental where a cursor exists, else (or on
        an invalid cursor, or when asked) a full listing inside the sync window."""
        report = PullReport(full=full)
        await self.publish_pending()
        await self._unlink_dropped_calendars(report)
        for calendar_id in self.ctx.calendars:
            cursor = None if full else await self.links.cursor(calendar_id)
            if cursor is None:
                await self._full(calendar_id, report)
                continue
            try:
                batch = await self.calendar.changes_since(calendar_id, cursor)
            except CursorInvalid:
                await self._full(calendar_id, report)
                continue
            await self._incremental(calendar_id, batch, report)
        if report.full and self.crm is not None:
            await self._push_crm_meetings(report)
        return report

    async def _incremental(self, calendar_id: str, batch: ChangeBatch, report: PullReport) -> None:
        linked = [link for link in await self.links.in_calendar(calendar_id) if not link.deleted]
        if len(linked) > 1 and len(batch.deleted) >= len(linked) and not batch.changed:
            # Everything deleted at once: verify with a full listing (which aborts if empty).
            await self._full(calendar_id, report)
            return
        for item in batch.changed:
            await self._observe(calendar_id, item, report, initial=False)
        for external_id in batch.deleted:
            await self._provider_deleted(external_id, report)
        await self.links.save_cursor(calendar_id, batch.cursor)

    async def _full(self, calendar_id: str, report: PullReport) -> None:
        original = self.links
        cached = await CachedLinks.load(original)
        self.links, self._batch = cached, PublishBatch(cached, self.sink)
        try:
            await self._list_fully(calendar_id, report)
            await self._batch.flush()
        finally:
            self.links, self._batch = original, None
            await cached.flush()

    async def _list_fully(self, calendar_id: str, report: PullReport) -> None:
        report.full = True
        linked = [link for link in await self.links.in_calendar(calendar_id) if not link.deleted]
        # Items are listed by series; a series' own link names its version, not one of its
        # edited occurrences' (Google and EWS give those versions of their own).
        series_last = sorted(linked, key=lambda link: OCCURRENCE_SEPARATOR not in link.external_id)
        known = {series_of(link.external_id): link.version_tag for link in series_last}
        listing = await self.calendar.list_window(calendar_id, self.ctx.window, known)
        if is_suddenly_empty(listing.size, len(linked)):
            raise SuddenlyEmpty(f"calendar {calendar_id} listed empty with {len(linked)} linked")
        for item in listing.items:
            await self._observe(calendar_id, item, report, initial=True)
        await self._flush_publishes()
        report.unchanged += len(listing.unchanged)
        # Stale links are judged only now, after a COMPLETE listing (Odoo, Twenty).
        seen = {item.external_id for item in listing.items} | set(listing.unchanged)
        for link in linked:
            if link.external_id not in seen and series_of(link.external_id) not in seen:
                await self._missing_from_listing(calendar_id, link, report)
        await self.links.save_cursor(calendar_id, listing.cursor)

    async def _missing_from_listing(self, calendar_id: str, link: Link, report: PullReport) -> None:
        if await self.links.by_external_id(link.external_id) is None:
            return  # re-matched under another id during this listing
        item = await self.calendar.fetch(calendar_id, link.external_id)
        if item is None:
            await self._provider_deleted(link.external_id, report)
        else:
            await self._observe(calendar_id, item, report, initial=True)

    async def _observe(
        self, calendar_id: str, item: ProviderItem, report: PullReport, initial: bool
    ) -> None:
        link = await self._match(item)
        plan = plan_inbound(self.ctx, link, item, calendar_id)
        replaces = link.external_id if link and link.external_id != item.external_id else None
        match plan.action:
            case Inbound.SKIP:
                report.unchanged += 1
            case Inbound.BAD_ITEM:
                report.bad_items.append(f"{item.external_id}: {plan.reason}")
                await self.links.record_bad_item(calendar_id, item.external_id, plan.reason)
                return
            case Inbound.REFRESH_TAG:
                assert plan.link is not None
                await self.links.save(plan.link, replaces=replaces)
                report.refreshed += 1
            case Inbound.UNLINK:
                assert link is not None
                await self._flush_publishes()
                await self.sink.publish(self._deletion(link, DeletionKind.LOGICAL))
                await self.links.remove(link.external_id)
                report.unlinked += 1
            case Inbound.PUBLISH:
                assert plan.link is not None
                known = link if link is not None and not link.deleted else None
                change = self._upsert(known, item, initial=initial and known is None)
                await self._publish(change, plan.link, replaces=replaces)
                report.published += 1
        await self.links.clear_bad_item(item.external_id)

    async def _match(self, item: ProviderItem) -> Link | None:
        """By external id, then the CRM id we embedded, then the iCalendar UID (never wiping)."""
        link = await self.links.by_external_id(item.external_id)
        if link is None and item.crm_meeting_id is not None:
            link = await self.links.by_meeting(item.crm_meeting_id)
        if link is None and item.ical_uid:
            link = await self.links.by_uid(item.ical_uid)
            if link is not None and _occurrence_part(link.external_id) != _occurrence_part(
                item.external_id
            ):
                return None  # a series and its overrides share one UID (RFC 5545 §3.8.4.4)
        return link

    async def _provider_deleted(self, external_id: str, report: PullReport) -> None:
        """The item is gone, and with it any edited occurrences it held."""
        occurrences = await self.links.occurrences_of(external_id)
        link = await self.links.by_external_id(external_id)
        for gone in [*occurrences, *([link] if link else [])]:
            if gone.deleted:
                continue
            tombstone = replace(gone, deleted=True)
            await self._publish(self._deletion(gone, DeletionKind.PHYSICAL), tombstone)
            report.deleted += 1

    async def _unlink_dropped_calendars(self, report: PullReport) -> None:
        """Calendars the user no longer picks: their meetings are unlinked, never deleted."""
        for link in await self.links.outside(self.ctx.calendars):
            if link.calendar_id not in self.ctx.calendars:
                if not link.deleted:
                    await self.sink.publish(self._deletion(link, DeletionKind.LOGICAL))
                await self.links.remove(link.external_id)
                report.unlinked += 1

    async def _push_crm_meetings(self, report: PullReport) -> None:
        """First / full sync: CRM meetings the provider lacks (future ones only) are created."""
        assert self.crm is not None
        now = self.clock()
        for meeting in await self.crm.meetings_in_window(self.ctx.user_id, self.ctx.window):
            link = await self.links.by_meeting(meeting.id)
            if link is None and _ends(meeting) <= now:
                continue
            if link is not None and link.provider_hash != link.crm_hash:
                continue  # a provider change awaits the CRM's merge: its answer is written
            plan = await self.push(CrmChange(meeting))
            if plan.action in (Outbound.CREATE, Outbound.UPDATE):
                report.pushed += 1

    # --- publishing ----------------------------------------------------------------------------

    async def _publish(
        self, change: ProviderChange, link: Link, replaces: str | None = None
    ) -> None:
        """The status row and the change are saved together first (``pending``), so a crash
        before the publish is repaired by the next pass; then published; then marked done.
        During a full listing the rows are saved a batch at a time (``PublishBatch``)."""
        if replaces is not None:
            await self._flush_publishes()  # the replaced row must not come back from the batch
        await self.links.save(replace(link, pending=change.model_dump(mode="json")), replaces)
        if self._batch is not None:
            await self._batch.add(change, link)
            return
        await self.sink.publish(change)
        await self.links.save(replace(link, pending=None))

    async def _flush_publishes(self) -> None:
        if self._batch is not None:
            await self._batch.flush()

    async def publish_pending(self) -> None:
        """Publishes what a crashed pass saved but may not have published; call first."""
        for link in await self.links.with_pending():
            assert link.pending is not None
            await self.sink.publish(ProviderChange.model_validate(link.pending))
            await self.links.save(replace(link, pending=None))

    def _upsert(
        self,
        link: Link | None,
        item: ProviderItem,
        initial: bool,
        calendar_id: str | None = None,
    ) -> ProviderChange:
        return ProviderChange(
            connection_id=self.ctx.connection_id,
            provider=self.ctx.provider,
            user_id=self.ctx.user_id,
            calendar_id=calendar_id or (link.calendar_id if link else self.ctx.calendars[0]),
            kind=ProviderChangeKind.UPSERT,
            external_id=item.external_id,
            ical_uid=item.ical_uid,
            crm_meeting_id=(link.crm_meeting_id if link else None) or item.crm_meeting_id,
            version_tag=item.version_tag,
            base_version=link.crm_version if link else None,
            fields=item.fields,
            base_fields=_fields(link.base) if link else None,
            initial_import=initial,
        )

    def _deletion(self, link: Link, kind: DeletionKind) -> ProviderChange:
        return ProviderChange(
            connection_id=self.ctx.connection_id,
            provider=self.ctx.provider,
            user_id=self.ctx.user_id,
            calendar_id=link.calendar_id,
            kind=ProviderChangeKind.DELETED,
            deletion=kind,
            external_id=link.external_id,
            ical_uid=link.ical_uid,
            crm_meeting_id=link.crm_meeting_id,
            version_tag=link.version_tag,
            base_version=link.crm_version,
            base_fields=_fields(link.base),
        )


def _with_our_write(
    base: ProviderEventFields | None, current: ProviderEventFields, meeting: MeetingSnapshot
) -> ProviderEventFields | None:
    """The merge base after a 412: a field the provider holds exactly as we were writing it
    may be our own write whose status row a crash lost, so it is no provider edit."""
    if base is None:
        return None
    ours = provider_fields_of(meeting)
    mine, theirs = provider_view(ours), provider_view(current)
    merged = base.model_dump(mode="json")
    ours_json = ours.model_dump(mode="json")
    for name in PROVIDER_FIELDS:
        if mine[name] == theirs[name]:
            merged[name] = ours_json[name]
    return ProviderEventFields.model_validate(merged)


def _fields(base: dict[str, Any] | None) -> ProviderEventFields | None:
    return ProviderEventFields.model_validate(base) if base is not None else None


def _ends(meeting: MeetingSnapshot) -> datetime:
    if isinstance(meeting.time, AllDaySpan):
        return datetime.combine(meeting.time.end_date, datetime.min.time(), tzinfo=UTC)
    return meeting.time.end


def _occurrence_part(external_id: str) -> str | None:
    """The RECURRENCE-ID part of an edited occurrence's id; None for a series or single event."""
    return (
        external_id.split(OCCURRENCE_SEPARATOR, 1)[1]
        if OCCURRENCE_SEPARATOR in external_id
        else None
    )
