"""/meetings through the real app on a real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from crm_api.adapters.orm import Organisation, Person, outbox

START = "2026-12-01T09:00:00+01:00"
END = "2026-12-01T10:00:00+01:00"


def body(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "subject": "Kick-off",
        "start": START,
        "end": END,
        "timezone": "Europe/Copenhagen",
    }
    values.update(overrides)
    return values


async def outbox_rows(api) -> list[dict]:
    async with api.sessions() as session:
        rows = (await session.execute(select(outbox).order_by(outbox.c.id))).mappings().all()
    return [dict(row) for row in rows]


async def test_create_writes_meeting_and_its_event_in_one_transaction(api) -> None:
    _, _admin, user = await api.tenant()
    response = await api.client(user).post("/meetings", json=body(send_invitations=True))
    assert response.status_code == 201, response.text
    meeting = response.json()
    assert meeting["version"] == 1
    assert meeting["ical_uid"].endswith("@calsync")
    assert meeting["owner_user_id"] == str(user.user_id)
    assert response.headers["etag"] == '"1"'
    [row] = await outbox_rows(api)
    assert row["event_type"] == "meeting.created"
    assert row["partition_key"] == meeting["id"].encode()
    assert row["payload"]["payload"]["meeting"]["id"] == meeting["id"]
    assert row["payload"]["payload"]["send_invitations"] is True
    assert row["payload"]["origin"] == {"kind": "crm", "connection_id": None, "provider": None}


async def test_failed_write_leaves_no_meeting_and_no_event(api) -> None:
    _, _admin, user = await api.tenant()
    bad = body(participants=[{"kind": "person", "id": str(uuid.uuid4())}])
    response = await api.client(user).post("/meetings", json=bad)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "participants", 0, "id"]
    assert await outbox_rows(api) == []
    listed = await api.client(user).get("/meetings")
    assert listed.json()["total"] == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"end": "2026-12-01T08:00:00+01:00"}, "end"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"recurrence": {"rrule": ["FREQ=WEEKLY"]}}, "recurrence"),
        ({"colour": "red"}, "colour"),
        ({"start": "2026-12-01T09:00:00"}, "start"),
        ({"owner_user_id": str(uuid.uuid4())}, "owner_user_id"),
        ({"custom_fields": {"nope": 1}}, "custom_fields"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(api, overrides, field) -> None:
    _, _admin, user = await api.tenant()
    response = await api.client(user).post("/meetings", json=body(**overrides))
    assert response.status_code == 422, response.text
    locations = [entry["loc"] for entry in response.json()["detail"]]
    assert any(field in location for location in locations), locations


async def test_recurrence_refusal_explains_why(api) -> None:
    _, _admin, user = await api.tenant()
    response = await api.client(user).post("/meetings", json=body(recurrence="FREQ=DAILY"))
    assert "own calendar program" in response.json()["detail"][0]["msg"]


async def test_all_day_multi_day_meeting_keeps_exclusive_dates(api) -> None:
    _, _admin, user = await api.tenant()
    response = await api.client(user).post(
        "/meetings",
        json={
            "subject": "Fair",
            "all_day": True,
            "start_date": "2026-12-07",
            "end_date": "2026-12-10",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["time"] == {
        "kind": "all_day",
        "start_date": "2026-12-07",
        "end_date": "2026-12-10",
    }


async def test_participants_are_resolved_from_the_tenant(api) -> None:
    _, admin, user = await api.tenant()
    async with api.sessions() as session, session.begin():
        org = Organisation(tenant_id=user.tenant_id, name="Acme")
        session.add(org)
        await session.flush()
        person = Person(
            tenant_id=user.tenant_id, name="Pia", email="pia@acme.test", organisation_id=org.id
        )
        session.add(person)
    participants = [
        {"kind": "organisation", "id": str(org.id)},
        {"kind": "person", "id": str(person.id)},
        {"kind": "user", "id": str(admin.user_id)},
        {"kind": "external", "email": "guest@else.test", "name": "Guest"},
    ]
    response = await api.client(user).post("/meetings", json=body(participants=participants))
    assert response.status_code == 201, response.text
    names = [(p["kind"], p["name"], p["email"]) for p in response.json()["participants"]]
    assert names[:2] == [("organisation", "Acme", None), ("person", "Pia", "pia@acme.test")]
    assert names[3] == ("external", "Guest", "guest@else.test")


async def test_booking_on_behalf_goes_to_the_owner_not_the_booker(api) -> None:
    _, admin, user = await api.tenant()
    response = await api.client(user).post("/meetings", json=body(owner_user_id=str(admin.user_id)))
    meeting = response.json()
    assert meeting["owner_user_id"] == str(admin.user_id)
    assert meeting["booked_by_user_id"] == str(user.user_id)
    mine = await api.client(user).get("/meetings", params={"owner_user_id": str(user.user_id)})
    assert mine.json()["total"] == 0


async def test_patch_bumps_version_emits_update_and_honours_if_match(api) -> None:
    _, _admin, user = await api.tenant()
    client = api.client(user)
    meeting = (await client.post("/meetings", json=body())).json()
    url = f"/meetings/{meeting['id']}"
    stale = await client.patch(url, json={"subject": "x"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    response = await client.patch(url, json={"location": "Room 2"}, headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    assert response.json()["location"] == "Room 2"
    rows = await outbox_rows(api)
    assert [r["event_type"] for r in rows] == ["meeting.created", "meeting.updated"]
    assert rows[1]["payload"]["payload"]["previous"]["location"] == ""


async def test_patch_that_changes_nothing_emits_nothing(api) -> None:
    _, _admin, user = await api.tenant()
    client = api.client(user)
    meeting = (await client.post("/meetings", json=body())).json()
    response = await client.patch(f"/meetings/{meeting['id']}", json={"subject": "Kick-off"})
    assert response.json()["version"] == 1
    assert len(await outbox_rows(api)) == 1


async def test_moving_a_meeting_to_all_day_and_back(api) -> None:
    _, _admin, user = await api.tenant()
    client = api.client(user)
    meeting = (await client.post("/meetings", json=body())).json()
    url = f"/meetings/{meeting['id']}"
    day = await client.patch(url, json={"all_day": True, "start_date": "2026-12-02"})
    assert day.json()["time"] == {
        "kind": "all_day",
        "start_date": "2026-12-02",
        "end_date": "2026-12-03",
    }
    timed = await client.patch(
        url, json={"all_day": False, "start": START, "end": END, "timezone": "Europe/Copenhagen"}
    )
    assert timed.json()["time"]["kind"] == "timed"


async def test_delete_emits_physical_deletion_with_a_higher_version(api) -> None:
    _, _admin, user = await api.tenant()
    client = api.client(user)
    meeting = (await client.post("/meetings", json=body())).json()
    response = await client.delete(f"/meetings/{meeting['id']}", params={"send_invitations": True})
    assert response.status_code == 204
    assert (await client.get(f"/meetings/{meeting['id']}")).status_code == 404
    deleted = (await outbox_rows(api))[-1]["payload"]
    assert deleted["type"] == "meeting.deleted"
    assert deleted["payload"]["deletion"] == "physical"
    assert deleted["payload"]["meeting"]["version"] == 2


async def test_other_tenants_meetings_are_404(api) -> None:
    _, _admin, user_a = await api.tenant("A")
    _, _admin, user_b = await api.tenant("B")
    meeting = (await api.client(user_a).post("/meetings", json=body())).json()
    other = api.client(user_b)
    assert (await other.get(f"/meetings/{meeting['id']}")).status_code == 404
    assert (
        await other.patch(f"/meetings/{meeting['id']}", json={"subject": "x"})
    ).status_code == 404
    assert (await other.delete(f"/meetings/{meeting['id']}")).status_code == 404
    assert (await other.get("/meetings")).json()["total"] == 0


async def test_requests_without_a_valid_token_are_401(api) -> None:
    assert (await api.client(None).get("/meetings")).status_code == 401
    client = api.client(None)
    client.headers["Authorization"] = "Bearer not-a-token"
    assert (await client.get("/meetings")).status_code == 401


async def test_listing_filters_and_pages(api) -> None:
    _, _admin, user = await api.tenant()
    client = api.client(user)
    for i in range(5):
        await client.post(
            "/meetings",
            json=body(
                subject=f"Topic {i}",
                start=f"2026-12-0{i + 1}T09:00:00+01:00",
                end=f"2026-12-0{i + 1}T10:00:00+01:00",
            ),
        )
    page = (await client.get("/meetings", params={"limit": 2, "offset": 2})).json()
    assert page["total"] == 5
    assert [m["subject"] for m in page["items"]] == ["Topic 2", "Topic 3"]
    window = await client.get(
        "/meetings", params={"start": "2026-12-02T00:00:00Z", "end": "2026-12-03T00:00:00Z"}
    )
    assert [m["subject"] for m in window.json()["items"]] == ["Topic 1"]
    found = await client.get("/meetings", params={"q": "topic 4"})
    assert found.json()["total"] == 1


async def test_a_formatted_description_is_sanitised_and_providers_get_its_text(api) -> None:
    _, _admin, user = await api.tenant()
    client = api.client(user)
    html = '<p>Bring the <strong>contract</strong><img src=x onerror="steal()"></p>'
    created = await client.post("/meetings", json=body(description_html=html))
    assert created.status_code == 201, created.text
    meeting = created.json()
    assert meeting["description_html"] == "<p>Bring the <strong>contract</strong></p>"
    assert meeting["description"] == "Bring the contract"
    [row] = await outbox_rows(api)
    assert row["payload"]["payload"]["meeting"]["description"] == "Bring the contract"

    url = f"/meetings/{meeting['id']}"
    formatted = await client.patch(url, json={"description_html": "<ul><li>Prices</li></ul>"})
    assert formatted.json()["description"] == "• Prices"
    plain = await client.patch(url, json={"description": "Just text"})
    assert (plain.json()["description"], plain.json()["description_html"]) == ("Just text", "")

    too_long = await client.patch(url, json={"description_html": "x" * 50_001})
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["body", "description_html"]
