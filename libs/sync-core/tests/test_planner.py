"""The pure planner, one named test per rule of its docstring (``sync_core.planner``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from calsync_contracts import Provider
from calsync_contracts.events import DeletionKind, ProviderEventFields
from calsync_contracts.meeting import MeetingSnapshot, Recurrence, TimedSpan
from sync_core.context import ConnectionContext
from sync_core.items import ProviderItem, WriteResult
from sync_core.links import Link
from sync_core.planner import (
    CrmChange,
    Inbound,
    Outbound,
    confirmed_link,
    is_suddenly_empty,
    new_link,
    plan_inbound,
    plan_outbound,
)
from sync_core.window import SyncWindow

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
CAL = "/cal/work/"
SALES = "/cal/sales/"
TENANT, USER, CONN = uuid4(), uuid4(), uuid4()
CTX = ConnectionContext(
    connection_id=CONN,
    tenant_id=TENANT,
    user_id=USER,
    provider=Provider.CALDAV,
    calendars=(CAL, SALES),
    window=SyncWindow.around(NOW, 3, 12),
)
SOON = TimedSpan(
    start=NOW + timedelta(days=2), end=NOW + timedelta(days=2, hours=1), timezone="UTC"
)
FAR = TimedSpan(
    start=NOW + timedelta(days=800), end=NOW + timedelta(days=800, hours=1), timezone="UTC"
)


def meeting(**changes: object) -> MeetingSnapshot:
    return MeetingSnapshot(
        id=uuid4(),
        tenant_id=TENANT,
        ical_uid=f"{uuid4()}@crm",
        version=1,
        owner_user_id=USER,
        subject="Demo",
        time=SOON,
    ).model_copy(update=changes)


def synced(m: MeetingSnapshot, tag: str = '"1"') -> Link:
    """The status row once ``m`` was written to the provider under ``tag``."""
    return new_link(CTX, CAL, WriteResult(f"{m.ical_uid}.ics", tag), m)


def bump(m: MeetingSnapshot, **changes: object) -> MeetingSnapshot:
    return m.model_copy(update={"version": m.version + 1, **changes})


def item(link: Link | None = None, tag: str = '"2"', **fields: object) -> ProviderItem:
    values: dict[str, object] = {"subject": "Demo", "time": SOON, **fields}
    return ProviderItem(
        external_id=link.external_id if link else "new.ics",
        version_tag=tag,
        ical_uid=link.ical_uid if link else "new@provider",
        crm_meeting_id=link.crm_meeting_id if link else None,
        fields=ProviderEventFields.model_validate(values),
    )


# --- outbound (CRM → provider) -----------------------------------------------------------------


def test_new_crm_meeting_is_created_in_its_calendar() -> None:
    plan = plan_outbound(CTX, None, CrmChange(meeting()))
    assert (plan.action, plan.calendar_id) == (Outbound.CREATE, CAL)


def test_new_crm_meeting_goes_to_the_calendar_mapped_to_its_type() -> None:
    sales_type = uuid4()
    ctx = replace(CTX, calendar_by_meeting_type={str(sales_type): SALES})
    plan = plan_outbound(ctx, None, CrmChange(meeting(meeting_type_id=sales_type)))
    assert (plan.action, plan.calendar_id) == (Outbound.CREATE, SALES)


def test_echo_of_the_providers_own_content_is_only_confirmed() -> None:
    """The CRM applied a provider edit: the provider already holds it (no write, no loop)."""
    m = meeting()
    seen = plan_inbound(CTX, synced(m), item(synced(m), location="Room 4"), CAL).link
    edited = bump(m, location="Room 4")
    plan = plan_outbound(CTX, seen, CrmChange(edited, origin_connection_id=CONN))
    assert plan.action is Outbound.CONFIRM


def test_version_already_synced_is_skipped() -> None:
    m = meeting(version=3)
    link = synced(m)
    for redelivered in (m, m.model_copy(update={"version": 2, "subject": "older"})):
        assert plan_outbound(CTX, link, CrmChange(redelivered)).action is Outbound.SKIP


def test_changed_in_the_crm_is_updated_in_the_link_s_calendar() -> None:
    m = meeting()
    plan = plan_outbound(CTX, synced(m), CrmChange(bump(m, subject="Demo v2")))
    assert (plan.action, plan.calendar_id) == (Outbound.UPDATE, CAL)


def test_a_change_of_crm_only_details_shown_in_the_event_is_written() -> None:
    m = meeting()
    plan = plan_outbound(CTX, synced(m), CrmChange(bump(m, custom_fields={"budget": 5})))
    assert plan.action is Outbound.UPDATE


def test_meeting_moved_outside_the_window_is_unlinked_not_deleted() -> None:
    m = meeting()
    plan = plan_outbound(CTX, synced(m), CrmChange(bump(m, time=FAR)))
    assert plan.action is Outbound.UNLINK


def test_meeting_outside_the_window_never_linked_is_skipped() -> None:
    assert plan_outbound(CTX, None, CrmChange(meeting(time=FAR))).action is Outbound.SKIP


def test_meeting_rebooked_to_another_owner_is_deleted_from_this_calendar() -> None:
    m = meeting()
    plan = plan_outbound(CTX, synced(m), CrmChange(bump(m, owner_user_id=uuid4())))
    assert (plan.action, plan.calendar_id) == (Outbound.DELETE, CAL)


def test_meeting_of_another_owner_never_linked_is_skipped() -> None:
    plan = plan_outbound(CTX, None, CrmChange(meeting(owner_user_id=uuid4())))
    assert plan.action is Outbound.SKIP


def test_logical_delete_unlinks() -> None:
    m = meeting()
    plan = plan_outbound(CTX, synced(m), CrmChange(bump(m), deletion=DeletionKind.LOGICAL))
    assert plan.action is Outbound.UNLINK


def test_physical_delete_deletes() -> None:
    m = meeting()
    plan = plan_outbound(CTX, synced(m), CrmChange(bump(m), deletion=DeletionKind.PHYSICAL))
    assert (plan.action, plan.calendar_id) == (Outbound.DELETE, CAL)


@pytest.mark.parametrize("kind", list(DeletionKind))
def test_delete_of_a_meeting_never_linked_is_skipped(kind: DeletionKind) -> None:
    assert plan_outbound(CTX, None, CrmChange(meeting(), deletion=kind)).action is Outbound.SKIP


def test_series_is_not_created_from_the_crm() -> None:
    series = meeting(recurrence=Recurrence(rrule=["FREQ=WEEKLY"]))
    assert plan_outbound(CTX, None, CrmChange(series)).action is Outbound.SKIP


def test_occurrence_without_its_series_link_is_not_created() -> None:
    occurrence = meeting(series_id=uuid4(), recurrence_id=SOON.start)
    assert plan_outbound(CTX, None, CrmChange(occurrence)).action is Outbound.SKIP


def test_confirmed_link_records_both_sides_at_the_meeting_s_version() -> None:
    m = meeting(version=4)
    link = confirmed_link(CTX, Link(CAL, "x.ics", '"1"', None), m, '"9"')
    assert (link.version_tag, link.crm_version, link.crm_meeting_id) == ('"9"', 4, m.id)
    assert link.provider_hash == link.crm_hash
    assert link.base is not None


# --- inbound (provider → CRM) ------------------------------------------------------------------


def test_new_provider_item_is_published() -> None:
    plan = plan_inbound(CTX, None, item(), CAL)
    assert plan.action is Inbound.PUBLISH
    assert plan.link is not None
    assert (plan.link.external_id, plan.link.crm_meeting_id) == ("new.ics", None)


def test_edited_provider_item_is_published_with_its_new_tag_and_hash() -> None:
    m = meeting()
    link = synced(m)
    plan = plan_inbound(CTX, link, item(link, tag='"2"', location="Room 4"), CAL)
    assert plan.action is Inbound.PUBLISH
    assert plan.link is not None
    assert plan.link.version_tag == '"2"'
    assert plan.link.provider_hash != link.provider_hash
    assert plan.link.crm_meeting_id == m.id


def test_unchanged_version_is_skipped() -> None:
    link = synced(meeting())
    plan = plan_inbound(CTX, link, item(link, tag='"1"', location="ignored"), CAL)
    assert plan.action is Inbound.SKIP


def test_churn_only_refreshes_the_version_tag() -> None:
    """A new ETag, the same content (DTSTAMP rewrite, our own write): nothing is published."""
    link = synced(meeting())
    plan = plan_inbound(CTX, link, item(link, tag='"7"'), CAL)
    assert plan.action is Inbound.REFRESH_TAG
    assert plan.link is not None
    assert plan.link.version_tag == '"7"'
    assert plan.link.provider_hash == link.provider_hash


def test_item_moved_outside_the_window_is_unlinked() -> None:
    link = synced(meeting())
    plan = plan_inbound(CTX, link, item(link, time=FAR), CAL)
    assert (plan.action, plan.link) == (Inbound.UNLINK, None)


def test_item_outside_the_window_never_linked_is_skipped() -> None:
    assert plan_inbound(CTX, None, item(time=FAR), CAL).action is Inbound.SKIP


def test_unreadable_item_is_recorded_not_fatal() -> None:
    link = synced(meeting())
    broken = ProviderItem(link.external_id, '"3"', link.ical_uid, error="RRULE unparseable")
    plan = plan_inbound(CTX, link, broken, CAL)
    assert plan.action is Inbound.BAD_ITEM
    assert plan.reason == "RRULE unparseable"
    assert plan.link is not None
    assert plan.link.last_error == "RRULE unparseable"


def test_unreadable_unknown_item_is_recorded_without_a_link() -> None:
    plan = plan_inbound(CTX, None, ProviderItem("x.ics", '"1"', error="bad"), CAL)
    assert (plan.action, plan.link) == (Inbound.BAD_ITEM, None)


@pytest.mark.parametrize(
    ("listed", "linked", "empty"),
    [(0, 3, True), (0, 0, False), (2, 3, False), (1, 0, False)],
)
def test_suddenly_empty_only_when_nothing_listed_but_items_linked(
    listed: int, linked: int, empty: bool
) -> None:
    assert is_suddenly_empty(listed, linked) is empty
