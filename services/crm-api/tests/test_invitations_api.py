"""Templates and invitation requests through the real app on a real PostgreSQL: what reaches
the outbox (the notifier's input) for each kind of save."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calsync_contracts import Origin
from calsync_contracts.events import (
    InvitationFailed,
    InvitationFailure,
    InvitationOutcome,
    InvitationSent,
)
from crm_api.adapters.orm import CalendarConnection, MeetingParticipant, outbox
from crm_api.service_layer.deliveries import record_outcome

from .test_calendar import add

BODY = "<p>Dear {{ recipient.name }}, {{ meeting.subject }} starts {{ meeting.start }}.</p>"


def slot(days: float = 3, hours: float = 1) -> dict[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)
    return {
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "timezone": "Europe/Copenhagen",
    }


def meeting_body(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "subject": "Kick-off",
        **slot(),
        "participants": [
            {"kind": "external", "email": "ann@example.com", "name": "Ann"},
            {"kind": "external", "email": "ben@example.com", "name": "Ben"},
        ],
        "send_invitations": True,
    }
    values.update(overrides)
    return values


def template_body(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": "Standard",
        "language": "en",
        "areas": ["sales"],
        "subject": "Invitation: {{ meeting.subject }}",
        "body": BODY,
    }
    values.update(overrides)
    return values


async def invitations(api) -> list[dict[str, Any]]:
    async with api.sessions() as session:
        rows = (
            await session.execute(
                select(outbox.c.payload)
                .where(outbox.c.event_type == "invitation.requested")
                .order_by(outbox.c.id)
            )
        ).scalars()
    return [row["payload"] for row in rows]


def summary(requests: list[dict[str, Any]]) -> list[tuple[str, list[str], int]]:
    return [
        (r["method"], sorted(x["email"] for x in r["recipients"]), r["sequence"]) for r in requests
    ]


# --- templates ----------------------------------------------------------------------------------


async def test_admins_manage_templates_users_read_them(api) -> None:
    _, admin, user = await api.tenant()
    created = await api.client(admin).post("/email-templates", json=template_body())
    assert created.status_code == 201, created.text
    template = created.json()
    assert (template["type"], template["version"]) == ("synced_meeting", 1)
    assert (
        await api.client(user).post("/email-templates", json=template_body())
    ).status_code == 403
    await api.client(admin).post(
        "/email-templates", json=template_body(name="Dansk", language="da", areas=["support"])
    )
    by_language = await api.client(user).get("/email-templates", params={"language": "da"})
    assert [t["name"] for t in by_language.json()] == ["Dansk"]
    by_area = await api.client(user).get("/email-templates", params={"area": "sales"})
    assert [t["name"] for t in by_area.json()] == ["Standard"]
    patched = await api.client(admin).patch(
        f"/email-templates/{template['id']}", json={"description": "The usual one"}
    )
    assert patched.json()["version"] == 2
    deleted = await api.client(admin).delete(f"/email-templates/{template['id']}")
    assert deleted.status_code == 204
    gone = await api.client(user).get(f"/email-templates/{template['id']}")
    assert gone.status_code == 404


async def test_another_tenants_template_is_not_found(api) -> None:
    _, admin, _ = await api.tenant()
    _, other_admin, _ = await api.tenant("Other")
    template = (await api.client(admin).post("/email-templates", json=template_body())).json()
    for answer in (
        await api.client(other_admin).get(f"/email-templates/{template['id']}"),
        await api.client(other_admin).delete(f"/email-templates/{template['id']}"),
        await api.client(other_admin).post(f"/email-templates/{template['id']}/preview", json={}),
    ):
        assert answer.status_code == 404


@pytest.mark.parametrize(
    ("field", "text", "loc", "words"),
    [
        ("body", "{{ meeting.subjekt }}", ["body", "body", "meeting.subjekt"], "unknown"),
        ("subject", "{{ appointment.start }}", ["body", "subject", "appointment.start"], "plain"),
        ("body", "{% if %}", ["body", "body"], "syntax"),
        ("body", "{{ ''.__class__.__mro__ }}", ["body", "body"], "fields belong"),
        (
            "body",
            "{{ cycler.__init__.__globals__ }}",
            ["body", "body", "cycler.__init__.__globals__"],
            "unknown",
        ),
        ("body", "{% include '/etc/passwd' %}", ["body", "body"], "not allowed"),
    ],
)
async def test_a_bad_template_is_a_422_naming_the_field(api, field, text, loc, words) -> None:
    _, admin, _ = await api.tenant()
    response = await api.client(admin).post("/email-templates", json=template_body(**{field: text}))
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["loc"] == loc
    assert words in detail["msg"]


async def test_unknown_language_is_refused(api) -> None:
    _, admin, _ = await api.tenant()
    response = await api.client(admin).post("/email-templates", json=template_body(language="xx"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "language"]


async def test_edit_mode_gives_the_codes_and_the_fields_there_are(api) -> None:
    _, admin, user = await api.tenant()
    template = (await api.client(admin).post("/email-templates", json=template_body())).json()
    edit = (await api.client(user).get(f"/email-templates/{template['id']}/edit")).json()
    assert edit["body"] == BODY
    assert "meeting.start" in edit["merge_fields"]
    assert "recipient.name" in edit["merge_fields"]


async def test_preview_merges_a_meeting_in_the_recipients_language_and_escapes(api) -> None:
    _, admin, user = await api.tenant()
    template = (await api.client(admin).post("/email-templates", json=template_body())).json()
    start = datetime(2027, 3, 2, 8, 0, tzinfo=UTC)
    meeting = await api.client(user).post(
        "/meetings",
        json=meeting_body(
            subject="Budget <2027>",
            start=start.isoformat(),
            end=(start + timedelta(hours=1)).isoformat(),
            send_invitations=False,
        ),
    )
    preview = await api.client(user).post(
        f"/email-templates/{template['id']}/preview",
        json={
            "meeting_id": meeting.json()["id"],
            "language": "da",
            "timezone": "Europe/Copenhagen",
        },
    )
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert shown["subject"] == "Invitation: Budget <2027>"
    assert "Budget &lt;2027&gt;" in shown["html"]
    assert "tirsdag den 2. marts 2027" in shown["text"]
    assert "09.00" in shown["text"]
    sample = await api.client(user).post(
        "/email-templates/preview", json={"subject": "x", "body": "{{ meeting.location }}"}
    )
    assert sample.json()["text"] == "Meeting room 2"


# --- invitation requests ------------------------------------------------------------------------


async def test_save_and_send_requests_one_invitation_per_attendee_set(api) -> None:
    _, admin, user = await api.tenant()
    template = (await api.client(admin).post("/email-templates", json=template_body())).json()
    created = await api.client(user).post(
        "/meetings", json=meeting_body(template_id=template["id"])
    )
    assert created.status_code == 201, created.text
    [request] = await invitations(api)
    assert summary([request]) == [("REQUEST", ["ann@example.com", "ben@example.com"], 0)]
    assert request["template"]["body"] == BODY
    assert request["organizer"]["email"].startswith("user-")
    assert request["organizer"]["language"] == "pl"
    assert request["meeting"]["ical_uid"] == created.json()["ical_uid"]


async def test_save_without_sending_sends_nothing(api) -> None:
    _, _, user = await api.tenant()
    await api.client(user).post("/meetings", json=meeting_body(send_invitations=False))
    assert await invitations(api) == []


async def test_significant_edits_request_and_removed_attendees_are_cancelled(api) -> None:
    _, _, user = await api.tenant()
    client = api.client(user)
    meeting = (await client.post("/meetings", json=meeting_body())).json()
    url = f"/meetings/{meeting['id']}"
    await client.patch(url, json={"description": "agenda", "send_invitations": True})
    await client.patch(url, json={**slot(days=4), "send_invitations": True})
    await client.patch(
        url,
        json={
            "participants": [{"kind": "external", "email": "ann@example.com", "name": "Ann"}],
            "send_invitations": True,
        },
    )
    await client.patch(url, json={"location": "Room 9"})  # save without sending
    await client.delete(url, params={"send_invitations": "true"})
    assert summary(await invitations(api)) == [
        ("REQUEST", ["ann@example.com", "ben@example.com"], 0),  # created
        # the description alone is no significant change: nothing
        ("REQUEST", ["ann@example.com", "ben@example.com"], 1),  # moved
        ("CANCEL", ["ben@example.com"], 2),  # removed
        ("REQUEST", ["ann@example.com"], 2),
        # Room 9 saved without sending: SEQUENCE 3 all the same
        ("CANCEL", ["ann@example.com"], 4),  # deleted
    ]


async def test_no_invitations_for_past_meetings_or_without_other_participants(api) -> None:
    _, _, user = await api.tenant()
    await api.client(user).post("/meetings", json=meeting_body(**slot(days=-2)))
    await api.client(user).post("/meetings", json=meeting_body(participants=[]))
    assert await invitations(api) == []


async def test_no_invitations_when_the_owners_provider_sends_them(api) -> None:
    tenant_id, _, user = await api.tenant()
    async with api.sessions() as session, session.begin():
        session.add(
            CalendarConnection(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                user_id=user.user_id,
                provider="google",
                invitation_sender="provider",
            )
        )
    await api.client(user).post("/meetings", json=meeting_body())
    assert await invitations(api) == []


async def test_a_series_is_never_invited_for_and_an_edited_occurrence_is_alone(api) -> None:
    """A REQUEST for a series without its RRULE would replace the whole series in the
    attendees' calendars; the series' own calendar program invites for it."""
    _, _, user = await api.tenant()
    first = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    guests = [MeetingParticipant(position=0, kind="external", email="ann@example.com", name="Ann")]
    series = await add(
        api,
        user,
        "Weekly review",
        first,
        participants=guests,
        recurrence={"rrule": ["FREQ=WEEKLY;COUNT=3"], "rdates": [], "exdates": []},
    )
    client = api.client(user)
    renamed = await client.patch(
        f"/meetings/{series}", json={"subject": "Weekly sync", "send_invitations": True}
    )
    assert renamed.status_code == 200, renamed.text
    assert await invitations(api) == []
    second = first + timedelta(weeks=1)
    moved = await client.patch(
        f"/meetings/{series}/occurrences/{second.isoformat()}",
        json={"location": "Room 2", "send_invitations": True},
    )
    assert moved.status_code == 200, moved.text
    [request] = await invitations(api)
    assert request["method"] == "REQUEST"
    assert datetime.fromisoformat(request["meeting"]["recurrence_id"]) == second


async def test_the_meeting_forms_edited_text_is_checked_and_sent(api) -> None:
    _, _, user = await api.tenant()
    bad = await api.client(user).post(
        "/meetings", json=meeting_body(invitation_body="{{ meeting.nope }}")
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "invitation_body", "meeting.nope"]
    unknown = await api.client(user).post(
        "/meetings", json=meeting_body(template_id=str(uuid.uuid4()))
    )
    assert unknown.json()["detail"][0]["loc"] == ["body", "template_id"]
    good = await api.client(user).post(
        "/meetings",
        json=meeting_body(
            invitation_subject="Come!", invitation_body="<p>{{ meeting.location }}</p>"
        ),
    )
    assert good.status_code == 201, good.text
    [request] = await invitations(api)
    assert request["template"] == {
        "template_id": None,
        "subject": "Come!",
        "body": "<p>{{ meeting.location }}</p>",
    }


async def test_the_notifiers_reports_make_the_delivery_log_of_the_meeting(api) -> None:
    tenant_id, _, user = await api.tenant()
    _, _, stranger = await api.tenant("Other")
    meeting = (await api.client(user).post("/meetings", json=meeting_body())).json()
    [request] = await invitations(api)
    outcome = {
        "meeting_id": meeting["id"],
        "meeting_version": 1,
        "method": "REQUEST",
        "message_id": "<m@crm.test>",
    }
    ann, ben = request["recipients"]
    sent = InvitationSent(
        tenant_id=tenant_id,
        origin=Origin.crm(),
        payload=InvitationOutcome.model_validate({**outcome, "recipient": ann}),
    )
    failed = InvitationFailed(
        tenant_id=tenant_id,
        origin=Origin.crm(),
        payload=InvitationFailure.model_validate(
            {**outcome, "recipient": ben, "reason": "550 no such user", "permanent": True}
        ),
    )
    async with api.sessions() as session, session.begin():
        for event in (sent, failed, sent):  # a redelivered report changes nothing
            await record_outcome(session, event)
    log = await api.client(user).get(f"/meetings/{meeting['id']}/invitations")
    assert log.status_code == 200, log.text
    assert sorted((d["recipient"], d["state"], d["reason"]) for d in log.json()) == [
        ("ann@example.com", "sent", ""),
        ("ben@example.com", "failed", "550 no such user"),
    ]
    hidden = await api.client(stranger).get(f"/meetings/{meeting['id']}/invitations")
    assert hidden.status_code == 404
    await api.client(user).delete(f"/meetings/{meeting['id']}")
    after = await api.client(user).get(f"/meetings/{meeting['id']}/invitations")
    assert len(after.json()) == 2  # the log outlives the meeting


async def test_a_meetings_template_and_edited_text_are_read_back_for_the_form(api) -> None:
    """The meeting form shows, on edit, what the next invitation will be made from."""
    _, admin, user = await api.tenant()
    template = (await api.client(admin).post("/email-templates", json=template_body())).json()
    edited = "<p>Dear {{ recipient.name }}, see you at {{ meeting.start }}.</p>"
    body = meeting_body(send_invitations=False, template_id=template["id"], invitation_body=edited)
    made = (await api.client(user).post("/meetings", json=body)).json()
    read = await api.client(user).get(f"/meetings/{made['id']}/invitation")
    assert read.status_code == 200, read.text
    assert read.json() == {
        "template_id": template["id"],
        "invitation_subject": None,
        "invitation_body": edited,
    }
    plain = (
        await api.client(user).post("/meetings", json=meeting_body(send_invitations=False))
    ).json()
    assert (await api.client(user).get(f"/meetings/{plain['id']}/invitation")).json() == {
        "template_id": None,
        "invitation_subject": None,
        "invitation_body": None,
    }
