"""Table tests of the pure inbound rules (docs/conflict-rules.md, rule numbers in names)."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from calsync_contracts import Provider
from calsync_contracts.events import (
    DeletionKind,
    ProviderChange,
    ProviderChangeKind,
    ProviderEventFields,
)
from calsync_contracts.meeting import (
    AllDaySpan,
    MeetingSnapshot,
    Participant,
    ParticipantKind,
    ResponseStatus,
    TimedSpan,
)
from crm_api.messaging.inbound_rules import Action, decide_delete, decide_upsert
from sync_core.merge import ConflictPolicy
from sync_core.views import meeting_view

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
SLOT = TimedSpan(start=T0, end=T0 + timedelta(hours=1), timezone="Europe/Warsaw")
ORG = Participant(kind=ParticipantKind.ORGANISATION, id=uuid4(), name="Acme")
ANNA = Participant(kind=ParticipantKind.PERSON, id=uuid4(), name="Anna", email="anna@acme.test")


def meeting(version: int = 1, **fields: object) -> MeetingSnapshot:
    values: dict[str, object] = {
        "id": uuid4(),
        "tenant_id": uuid4(),
        "ical_uid": "m1@calsync",
        "version": version,
        "owner_user_id": uuid4(),
        "subject": "Review",
        "time": SLOT,
        "participants": [ORG, ANNA],
        "custom_fields": {"budget": 10},
    }
    values.update(fields)
    return MeetingSnapshot.model_validate(values)


def change(
    tag: str = "etag-2",
    base_version: int | None = 1,
    updated_at: datetime | None = None,
    **fields: object,
) -> ProviderChange:
    field_values: dict[str, object] = {
        "subject": "Review",
        "time": SLOT,
        "attendees": [ANNA.model_copy(update={"kind": ParticipantKind.EXTERNAL, "id": None})],
        "updated_at": updated_at,
    }
    field_values.update(fields)
    return ProviderChange(
        connection_id=uuid4(),
        provider=Provider.CALDAV,
        user_id=uuid4(),
        calendar_id="/cal/",
        kind=ProviderChangeKind.UPSERT,
        external_id="/cal/m1.ics",
        ical_uid="m1@calsync",
        version_tag=tag,
        base_version=base_version,
        fields=ProviderEventFields.model_validate(field_values),
    )


def deletion(kind: DeletionKind, base_version: int | None = 1) -> ProviderChange:
    return ProviderChange(
        connection_id=uuid4(),
        provider=Provider.GOOGLE,
        user_id=uuid4(),
        calendar_id="primary",
        kind=ProviderChangeKind.DELETED,
        deletion=kind,
        external_id="abc",
        base_version=base_version,
    )


def test_rule6_unknown_item_is_created() -> None:
    decision = decide_upsert(change(), None, None, None, ConflictPolicy.LATER_EDIT_WINS, None)
    assert decision.action is Action.CREATE
    assert decision.changes is not None
    assert decision.changes["subject"] == "Review"


def test_rule2_version_tag_already_held_is_skipped() -> None:
    current = meeting()
    decision = decide_upsert(
        change(tag="etag-1", subject="Other"),
        current,
        current,
        "etag-1",
        ConflictPolicy.LATER_EDIT_WINS,
        T0,
    )
    assert decision.action is Action.SKIP


def test_rule2_own_write_echoing_back_only_refreshes_the_link() -> None:
    current = meeting()
    decision = decide_upsert(
        change(), current, current, "etag-1", ConflictPolicy.LATER_EDIT_WINS, T0
    )
    assert decision.action is Action.REFRESH_LINK
    assert decision.changes is None


def test_rule7_crm_only_fields_and_organisations_are_not_provider_fields() -> None:
    view = meeting_view(meeting())
    assert "custom_fields" not in view
    assert view["attendees"] == [{"email": "anna@acme.test", "response": "needs-action"}]


def test_rule8_provider_edit_of_an_untouched_field_is_applied() -> None:
    base = meeting(version=1)
    current = meeting(version=1)
    decision = decide_upsert(
        change(location="Room 9"), current, base, "etag-1", ConflictPolicy.CRM_WINS, T0
    )
    assert decision.action is Action.UPDATE
    assert decision.changes == {"location": "Room 9"}
    assert decision.conflicts == ()


def test_rule8_edits_to_different_fields_on_both_sides_both_survive() -> None:
    base = meeting(version=1)
    current = meeting(version=2, subject="Review (CRM)")
    decision = decide_upsert(
        change(location="Room 9"), current, base, "etag-1", ConflictPolicy.LATER_EDIT_WINS, T0
    )
    assert decision.changes == {"location": "Room 9"}  # subject stays the CRM's


def test_rule8_same_field_both_sides_later_edit_wins_and_is_recorded() -> None:
    base = meeting(version=1)
    current = meeting(version=2, subject="CRM subject")
    later = T0 + timedelta(minutes=5)
    decision = decide_upsert(
        change(subject="Provider subject", updated_at=later),
        current,
        base,
        "etag-1",
        ConflictPolicy.LATER_EDIT_WINS,
        T0,
    )
    assert decision.changes == {"subject": "Provider subject"}
    assert [c.field for c in decision.conflicts] == ["subject"]

    earlier = T0 - timedelta(minutes=5)
    decision = decide_upsert(
        change(subject="Provider subject", updated_at=earlier),
        current,
        base,
        "etag-1",
        ConflictPolicy.LATER_EDIT_WINS,
        T0,
    )
    # The CRM's edit wins: the meeting is announced again so the provider gets it too.
    assert decision.action is Action.REANNOUNCE
    assert [c.winner.value for c in decision.conflicts] == ["crm"]


def test_rule8_attendee_response_change_is_an_update() -> None:
    current = meeting()
    accepted = ANNA.model_copy(
        update={"kind": ParticipantKind.EXTERNAL, "id": None, "response": ResponseStatus.ACCEPTED}
    )
    decision = decide_upsert(
        change(attendees=[accepted]), current, current, "etag-1", ConflictPolicy.CRM_WINS, T0
    )
    assert decision.changes == {"attendees": [{"email": "anna@acme.test", "response": "accepted"}]}


def test_all_day_change_stays_all_day() -> None:
    current = meeting()
    day = AllDaySpan(start_date=T0.date(), end_date=T0.date() + timedelta(days=1))
    decision = decide_upsert(change(time=day), current, current, "e", ConflictPolicy.CRM_WINS, T0)
    assert decision.changes == {"time": day.model_dump(mode="json")}


def test_rule10_physical_delete_of_unchanged_meeting_deletes() -> None:
    assert (
        decide_delete(deletion(DeletionKind.PHYSICAL), meeting(version=1)).action is Action.DELETE
    )


def test_rule10_modification_beats_deletion() -> None:
    decision = decide_delete(deletion(DeletionKind.PHYSICAL, base_version=1), meeting(version=2))
    assert decision.action is Action.REVIVE


def test_rule11_logical_delete_only_unlinks() -> None:
    assert decide_delete(deletion(DeletionKind.LOGICAL), meeting()).action is Action.UNLINK


def test_rule12_delete_of_unknown_item_is_a_no_op() -> None:
    assert decide_delete(deletion(DeletionKind.PHYSICAL), None).action is Action.SKIP
