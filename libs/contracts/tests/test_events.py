from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from calsync_contracts import Origin, Provider, Topic, partition_key, topic_of
from calsync_contracts.events import (
    ConnectionChange,
    ConnectionChanged,
    ConnectionConfig,
    MeetingChange,
    MeetingCreated,
    MeetingDeleted,
    MeetingDeletion,
    SyncReason,
    SyncRequest,
    SyncRequested,
    meeting_event_adapter,
)
from calsync_contracts.meeting import AllDaySpan, MeetingSnapshot, TimedSpan
from calsync_contracts.topics import all_topic_specs, dead_letter_topic

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def snapshot(**overrides: object) -> MeetingSnapshot:
    fields: dict[str, object] = {
        "id": uuid4(),
        "tenant_id": uuid4(),
        "ical_uid": "uid-1@calsync",
        "version": 1,
        "owner_user_id": uuid4(),
        "subject": "Kick-off",
        "time": TimedSpan(
            start=START, end=START + timedelta(hours=1), timezone="Europe/Copenhagen"
        ),
    }
    fields.update(overrides)
    return MeetingSnapshot.model_validate(fields)


def test_meeting_event_round_trips_through_json_by_type() -> None:
    meeting = snapshot()
    event = MeetingCreated(
        tenant_id=meeting.tenant_id, origin=Origin.crm(), payload=MeetingChange(meeting=meeting)
    )
    parsed = meeting_event_adapter.validate_json(event.model_dump_json())
    assert isinstance(parsed, MeetingCreated)
    assert parsed == event


def test_deleted_event_parses_as_deleted_with_its_kind() -> None:
    meeting = snapshot()
    event = MeetingDeleted(
        tenant_id=meeting.tenant_id,
        origin=Origin.crm(),
        payload=MeetingDeletion(meeting=meeting, deletion="logical"),
    )
    parsed = meeting_event_adapter.validate_json(event.model_dump_json())
    assert isinstance(parsed, MeetingDeleted)
    assert parsed.payload.deletion == "logical"


def test_all_day_span_keeps_dates_and_rejects_empty_span() -> None:
    meeting = snapshot(time=AllDaySpan(start_date=date(2026, 5, 3), end_date=date(2026, 5, 4)))
    again = MeetingSnapshot.model_validate_json(meeting.model_dump_json())
    assert again.time == AllDaySpan(start_date=date(2026, 5, 3), end_date=date(2026, 5, 4))
    with pytest.raises(ValidationError, match="exclusive"):
        AllDaySpan(start_date=date(2026, 5, 3), end_date=date(2026, 5, 3))


def test_timed_span_needs_aware_times_a_real_zone_and_end_after_start() -> None:
    with pytest.raises(ValidationError, match="end must be after start"):
        TimedSpan(start=START, end=START, timezone="UTC")
    with pytest.raises(ValidationError, match="time zone"):
        TimedSpan(start=START, end=START + timedelta(hours=1), timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="timezone"):
        TimedSpan(start=START.replace(tzinfo=None), end=START + timedelta(hours=1), timezone="UTC")


def test_models_are_frozen_and_ignore_unknown_fields() -> None:
    meeting = snapshot()
    with pytest.raises(ValidationError):
        meeting.subject = "changed"  # type: ignore[misc]
    newer = {**meeting.model_dump(mode="json"), "field_from_the_future": 1}
    assert MeetingSnapshot.model_validate(newer) == meeting


def test_provider_origin_must_name_its_connection() -> None:
    with pytest.raises(ValidationError, match="connection_id"):
        Origin(kind="provider")
    connection_id = uuid4()
    origin = Origin.from_connection(connection_id, Provider.CALDAV)
    assert origin.is_connection(connection_id)
    assert not Origin.crm().is_connection(connection_id)


def test_meeting_events_are_keyed_by_meeting_and_connection_events_by_connection() -> None:
    meeting = snapshot()
    event = MeetingCreated(
        tenant_id=meeting.tenant_id, origin=Origin.crm(), payload=MeetingChange(meeting=meeting)
    )
    assert topic_of(event) is Topic.MEETING_EVENTS
    assert partition_key(event) == str(meeting.id).encode()

    connection_id = uuid4()
    request = SyncRequested(
        tenant_id=uuid4(),
        origin=Origin.crm(),
        payload=SyncRequest(
            connection_id=connection_id,
            provider=Provider.GOOGLE,
            user_id=uuid4(),
            reason=SyncReason.PAGE_LOAD,
        ),
    )
    assert topic_of(request) is Topic.SYNC_REQUESTS
    assert partition_key(request) == str(connection_id).encode()

    changed = ConnectionChanged(
        tenant_id=uuid4(),
        origin=Origin.crm(),
        payload=ConnectionChange(
            action="created",
            config=ConnectionConfig(
                connection_id=connection_id,
                provider=Provider.CALDAV,
                user_id=uuid4(),
                config_version=1,
            ),
        ),
    )
    assert partition_key(changed) == str(connection_id).encode()


def test_caused_event_inherits_tenant_and_correlation() -> None:
    meeting = snapshot()
    first = MeetingCreated(
        tenant_id=meeting.tenant_id, origin=Origin.crm(), payload=MeetingChange(meeting=meeting)
    )
    second = MeetingCreated(origin=Origin.crm(), payload=first.payload, **first.caused())
    assert second.correlation_id == first.correlation_id
    assert second.causation_id == first.event_id
    assert second.event_id != first.event_id


def test_every_topic_has_a_dead_letter_topic() -> None:
    names = {spec.name for spec in all_topic_specs()}
    for topic in Topic:
        assert dead_letter_topic(topic) in names
