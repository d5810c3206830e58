"""Inbound provider changes applied to a real database (docs/conflict-rules.md, rule numbers
in the test names)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from calsync_contracts import Origin, Provider
from calsync_contracts.events import (
    DeletionKind,
    ProviderChange,
    ProviderChangeKind,
    ProviderChangeObserved,
    ProviderEventFields,
)
from calsync_contracts.meeting import Participant, ParticipantKind, TimedSpan
from crm_api.adapters.orm import (
    CalendarConnection,
    Meeting,
    MeetingLink,
    Person,
    SyncConflict,
    outbox,
)
from crm_api.messaging.inbound_rules import Action
from crm_api.service_layer.inbound import UnknownConnection, apply_provider_change

T0 = datetime(2026, 12, 3, 13, tzinfo=UTC)
SLOT = TimedSpan(start=T0, end=T0 + timedelta(hours=1), timezone="Europe/Copenhagen")


class World:
    def __init__(self, api, caller, connection_id: uuid.UUID) -> None:
        self.api = api
        self.caller = caller
        self.connection_id = connection_id

    def change(
        self,
        external_id: str = "/cal/a.ics",
        tag: str = "e1",
        *,
        base_version=None,
        kind=ProviderChangeKind.UPSERT,
        deletion=None,
        ical_uid="a@provider",
        connection_id=None,
        **fields,
    ) -> ProviderChangeObserved:
        values = {"subject": "From provider", "time": SLOT}
        values.update(fields)
        return ProviderChangeObserved(
            tenant_id=self.caller.tenant_id,
            origin=Origin.from_connection(self.connection_id, Provider.CALDAV),
            payload=ProviderChange(
                connection_id=connection_id or self.connection_id,
                provider=Provider.CALDAV,
                user_id=self.caller.user_id,
                calendar_id="/cal/",
                kind=kind,
                deletion=deletion,
                external_id=external_id,
                ical_uid=ical_uid,
                version_tag=tag,
                base_version=base_version,
                fields=ProviderEventFields.model_validate(values) if kind == "upsert" else None,
            ),
        )

    async def apply(self, event: ProviderChangeObserved):
        async with self.api.sessions() as session, session.begin():
            return await apply_provider_change(session, event)

    async def events(self) -> list[dict]:
        async with self.api.sessions() as session:
            rows = (await session.execute(select(outbox.c.payload).order_by(outbox.c.id))).scalars()
            return list(rows)

    async def count(self, model) -> int:
        async with self.api.sessions() as session:
            return (await session.execute(select(func.count()).select_from(model))).scalar_one()


@pytest.fixture
async def world(api) -> World:
    _, _admin, user = await api.tenant()
    connection_id = uuid.uuid4()
    async with api.sessions() as session, session.begin():
        session.add(
            CalendarConnection(
                id=connection_id, tenant_id=user.tenant_id, user_id=user.user_id, provider="caldav"
            )
        )
        session.add(Person(tenant_id=user.tenant_id, name="Pia", email="pia@acme.test"))
    return World(api, user, connection_id)


PIA = Participant(kind=ParticipantKind.EXTERNAL, email="PIA@acme.test", response="accepted")


async def test_rule6_import_creates_a_meeting_without_invitations(world) -> None:
    applied = await world.apply(world.change(attendees=[PIA]))
    assert applied.action is Action.CREATE
    [event] = await world.events()
    assert event["type"] == "meeting.created"
    assert event["origin"]["kind"] == "provider"
    assert event["origin"]["connection_id"] == str(world.connection_id)
    payload = event["payload"]
    assert payload["send_invitations"] is False
    assert payload["provider_link"]["external_id"] == "/cal/a.ics"
    meeting = payload["meeting"]
    assert meeting["ical_uid"] == "a@provider"
    assert meeting["owner_user_id"] == str(world.caller.user_id)
    [pia] = meeting["participants"]
    assert (pia["kind"], pia["name"], pia["response"]) == ("person", "Pia", "accepted")


async def test_rule1_a_redelivered_change_does_nothing(world) -> None:
    event = world.change()
    await world.apply(event)
    again = await world.apply(event)
    assert again.action is Action.SKIP
    assert len(await world.events()) == 1
    assert await world.count(Meeting) == 1


async def test_rule2_echo_of_same_content_only_refreshes_the_link(world) -> None:
    await world.apply(world.change(tag="e1"))
    applied = await world.apply(world.change(tag="e2", base_version=1))
    assert applied.action is Action.REFRESH_LINK
    assert len(await world.events()) == 1
    async with world.api.sessions() as session:
        link = await session.scalar(select(MeetingLink))
    assert link.version_tag == "e2"


async def test_rule4_relisted_item_matches_by_uid_and_never_duplicates(world) -> None:
    await world.apply(world.change(external_id="/cal/a.ics"))
    applied = await world.apply(
        world.change(external_id="/cal/renamed.ics", tag="e9", location="Moved")
    )
    assert applied.action is Action.UPDATE
    assert await world.count(Meeting) == 1
    assert await world.count(MeetingLink) == 1


async def test_rule7_and_8_provider_edit_keeps_crm_edits_of_other_fields(world) -> None:
    created = await world.apply(world.change())
    client = world.api.client(world.caller)
    response = await client.patch(f"/meetings/{created.meeting_id}", json={"subject": "CRM title"})
    assert response.json()["version"] == 2
    applied = await world.apply(world.change(tag="e2", base_version=1, location="Room 7"))
    assert applied.action is Action.UPDATE
    meeting = (await client.get(f"/meetings/{created.meeting_id}")).json()
    assert (meeting["subject"], meeting["location"], meeting["version"]) == (
        "CRM title",
        "Room 7",
        3,
    )
    last = (await world.events())[-1]
    assert last["type"] == "meeting.updated"
    assert last["origin"]["kind"] == "provider"


async def test_rule8_same_field_both_sides_later_edit_wins_and_is_recorded(world) -> None:
    created = await world.apply(world.change())
    client = world.api.client(world.caller)
    await client.patch(f"/meetings/{created.meeting_id}", json={"subject": "CRM title"})
    later = datetime.now(UTC) + timedelta(minutes=1)
    await world.apply(
        world.change(tag="e2", base_version=1, subject="Provider title", updated_at=later)
    )
    meeting = (await client.get(f"/meetings/{created.meeting_id}")).json()
    assert meeting["subject"] == "Provider title"
    async with world.api.sessions() as session:
        [conflict] = (await session.execute(select(SyncConflict))).scalars().all()
    assert (conflict.field, conflict.winner) == ("subject", "provider")
    assert conflict.crm_value == "CRM title"


async def test_rule10_physical_delete_of_an_unchanged_meeting_deletes_it(world) -> None:
    created = await world.apply(world.change())
    applied = await world.apply(
        world.change(kind="deleted", deletion=DeletionKind.PHYSICAL, base_version=1)
    )
    assert applied.action is Action.DELETE
    assert await world.count(Meeting) == 0
    last = (await world.events())[-1]
    assert (last["type"], last["payload"]["deletion"]) == ("meeting.deleted", "physical")
    assert last["payload"]["meeting"]["id"] == str(created.meeting_id)


async def test_rule10_a_modification_beats_a_deletion(world) -> None:
    created = await world.apply(world.change())
    client = world.api.client(world.caller)
    await client.patch(f"/meetings/{created.meeting_id}", json={"location": "New room"})
    applied = await world.apply(
        world.change(kind="deleted", deletion=DeletionKind.PHYSICAL, base_version=1)
    )
    assert applied.action is Action.REVIVE
    assert await world.count(Meeting) == 1
    assert await world.count(MeetingLink) == 0
    last = (await world.events())[-1]
    assert (last["type"], last["origin"]["kind"]) == ("meeting.updated", "crm")
    assert last["payload"]["meeting"]["version"] == 3


async def test_rule11_logical_delete_unlinks_and_keeps_the_meeting(world) -> None:
    await world.apply(world.change())
    applied = await world.apply(world.change(kind="deleted", deletion=DeletionKind.LOGICAL))
    assert applied.action is Action.UNLINK
    assert await world.count(Meeting) == 1
    assert await world.count(MeetingLink) == 0
    assert len(await world.events()) == 1


async def test_rule12_delete_of_an_unknown_item_is_a_no_op(world) -> None:
    applied = await world.apply(
        world.change(
            external_id="/cal/never.ics",
            ical_uid=None,
            kind="deleted",
            deletion=DeletionKind.PHYSICAL,
        )
    )
    assert applied.action is Action.SKIP
    assert await world.events() == []


async def test_rule13_a_foreign_connection_is_refused(world) -> None:
    with pytest.raises(UnknownConnection):
        await world.apply(world.change(connection_id=uuid.uuid4()))
    assert await world.count(Meeting) == 0


async def test_all_day_import_stays_all_day(world) -> None:
    from calsync_contracts.meeting import AllDaySpan

    day = AllDaySpan(start_date=T0.date(), end_date=T0.date() + timedelta(days=1))
    created = await world.apply(world.change(time=day))
    meeting = (await world.api.client(world.caller).get(f"/meetings/{created.meeting_id}")).json()
    assert meeting["time"] == {
        "kind": "all_day",
        "start_date": "2026-12-03",
        "end_date": "2026-12-04",
    }


async def test_rule4_an_imported_occurrence_joins_its_series_and_is_matched_by_recurrence_id(
    world,
) -> None:
    """A series and its edited occurrences share one UID (RFC 5545 §3.8.4.4): the occurrence
    must neither be matched to the series nor duplicated on a re-listing."""
    series = await world.apply(world.change("/cal/s.ics", recurrence={"rrule": ["FREQ=WEEKLY"]}))
    moved = T0 + timedelta(days=7, hours=2)
    occurrence = world.change(
        "/cal/s.ics#1",
        recurrence_id=T0 + timedelta(days=7),
        subject="Moved once",
        time=TimedSpan(start=moved, end=moved + timedelta(hours=1), timezone="UTC"),
    )
    created = await world.apply(occurrence)
    assert created.action is Action.CREATE
    assert created.meeting_id != series.meeting_id
    async with world.api.sessions() as session:
        row = await session.get(Meeting, created.meeting_id)
        assert row is not None
        assert row.series_id == series.meeting_id
    relisted = world.change(
        "/cal/s-renamed.ics#1",
        tag="e2",
        recurrence_id=(T0 + timedelta(days=7)).astimezone(UTC),
        subject="Moved once, renamed",
        time=TimedSpan(start=moved, end=moved + timedelta(hours=1), timezone="UTC"),
    )
    again = await world.apply(relisted)
    assert again.meeting_id == created.meeting_id
    assert await world.count(Meeting) == 2


async def test_the_formatting_survives_an_echo_and_goes_with_a_provider_text_edit(world) -> None:
    created = await world.apply(world.change())
    client = world.api.client(world.caller)
    url = f"/meetings/{created.meeting_id}"
    saved = await client.patch(url, json={"description_html": "<p><strong>Agenda</strong></p>"})
    assert saved.json()["description"] == "Agenda"
    # The provider echoes what we wrote (plain text): the formatting stays.
    await world.apply(world.change(tag="e2", base_version=2, description="Agenda"))
    assert (await client.get(url)).json()["description_html"] == "<p><strong>Agenda</strong></p>"
    # The text is changed in the calendar program: its plain text replaces the formatted one.
    await world.apply(world.change(tag="e3", base_version=2, description="Agenda, new"))
    meeting = (await client.get(url)).json()
    assert (meeting["description"], meeting["description_html"]) == ("Agenda, new", "")
