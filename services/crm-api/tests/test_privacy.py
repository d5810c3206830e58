"""A colleague's private meeting: only its owner, the colleague who booked it on the owner's
behalf and the CRM users taking part see it. Everyone else — administrators included — gets a
busy block in the calendar (test_calendar.py) and nothing anywhere else, not even its existence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from .test_calendar import add, window
from .test_meetings_api import body
from .test_occurrences import WEEKLY, occurrence_path

PREVIEW = {"language": "en", "timezone": "Europe/Copenhagen"}


async def _private_meeting(api, owner, **fields: object) -> str:
    response = await api.client(owner).post(
        "/meetings", json=body(subject="Doctor", location="Clinic", private=True, **fields)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_a_colleague_cannot_list_search_or_count_it(api) -> None:
    _, admin, user = await api.tenant()
    await _private_meeting(api, user)
    colleague = api.client(admin)
    for params in ({}, {"q": "Doctor"}, {"owner_user_id": str(user.user_id)}):
        page = (await colleague.get("/meetings", params=params)).json()
        assert (page["items"], page["total"]) == ([], 0), params
    own = (await api.client(user).get("/meetings", params={"q": "Doctor"})).json()
    assert [m["subject"] for m in own["items"]] == ["Doctor"]


async def test_a_colleague_cannot_read_change_or_delete_it(api) -> None:
    _, admin, user = await api.tenant()
    meeting_id = await _private_meeting(api, user)
    colleague = api.client(admin)
    attempts = {
        "read": await colleague.get(f"/meetings/{meeting_id}"),
        "change": await colleague.patch(f"/meetings/{meeting_id}", json={"subject": "Mine now"}),
        "delete": await colleague.delete(f"/meetings/{meeting_id}"),
        "invitation log": await colleague.get(f"/meetings/{meeting_id}/invitations"),
        "invitation settings": await colleague.get(f"/meetings/{meeting_id}/invitation"),
        "template preview": await colleague.post(
            "/email-templates/preview",
            json={"subject": "{{ meeting.subject }}", "body": "x", "meeting_id": meeting_id}
            | PREVIEW,
        ),
    }
    unknown = await colleague.get(f"/meetings/{uuid.uuid4()}")
    for what, response in attempts.items():
        assert response.status_code == 404, what
        assert response.json() == unknown.json(), what  # indistinguishable from no meeting
        assert "Doctor" not in response.text, what
    still = await api.client(user).get(f"/meetings/{meeting_id}")
    assert (still.status_code, still.json()["subject"]) == (200, "Doctor")


async def test_participants_and_the_booking_colleague_see_it(api) -> None:
    _, admin, user = await api.tenant()
    taking_part = await _private_meeting(
        api, user, participants=[{"kind": "user", "id": str(admin.user_id)}]
    )
    booked = await _private_meeting(api, admin, owner_user_id=str(user.user_id))
    for meeting_id in (taking_part, booked):
        response = await api.client(admin).get(f"/meetings/{meeting_id}")
        assert (response.status_code, response.json()["subject"]) == (200, "Doctor")
    listed = (await api.client(admin).get("/meetings")).json()
    assert sorted(m["id"] for m in listed["items"]) == sorted([taking_part, booked])


async def test_a_deleted_private_meetings_log_stays_private(api) -> None:
    _, admin, user = await api.tenant()
    meeting_id = await _private_meeting(api, user)
    assert (await api.client(user).delete(f"/meetings/{meeting_id}")).status_code == 204
    assert (await api.client(admin).get(f"/meetings/{meeting_id}/invitations")).status_code == 404
    assert (await api.client(user).get(f"/meetings/{meeting_id}/invitations")).status_code == 200


async def test_an_occurrence_changed_on_its_own_is_as_private_as_its_series(api) -> None:
    _, admin, user = await api.tenant()
    first = datetime(2026, 10, 13, 9, tzinfo=UTC)
    series = await add(api, user, "Salary talk", first, recurrence=WEEKLY)
    owner = api.client(user)
    moved = await owner.patch(occurrence_path(series, first), json={"location": "Room 2"})
    assert moved.status_code == 200, moved.text
    override = moved.json()["id"]
    # Made private after the occurrence got its own row (which copied "public" then).
    assert (await owner.patch(f"/meetings/{series}", json={"private": True})).status_code == 200
    colleague = api.client(admin)
    assert (await colleague.get(f"/meetings/{override}")).status_code == 404
    renamed = await colleague.patch(f"/meetings/{override}", json={"subject": "x"})
    assert renamed.status_code == 404
    assert (await colleague.get(f"/meetings/{override}/invitations")).status_code == 404
    assert (await colleague.get("/meetings", params={"q": "Salary"})).json()["total"] == 0
    shown = await colleague.get(
        "/calendar", params=window("2026-10-01T00:00:00Z", "2026-11-10T00:00:00Z", user)
    )
    assert len(shown.json()) == 4
    assert all(e["busy_only"] for e in shown.json())
    assert "Salary" not in shown.text
    assert (await owner.get(f"/meetings/{override}")).json()["location"] == "Room 2"


async def test_only_the_owner_or_booker_makes_a_private_meeting_public_or_moves_it(api) -> None:
    _, admin, user = await api.tenant()
    meeting_id = await _private_meeting(
        api, user, participants=[{"kind": "user", "id": str(admin.user_id)}]
    )
    taking_part = api.client(admin)
    edit = await taking_part.patch(f"/meetings/{meeting_id}", json={"location": "Room 9"})
    assert edit.status_code == 200, edit.text  # taking part: may edit it
    for change in ({"private": False}, {"owner_user_id": str(admin.user_id)}):
        refused = await taking_part.patch(f"/meetings/{meeting_id}", json=change)
        assert refused.status_code == 403, change
        assert "owner of a private meeting" in refused.json()["detail"]
    stored = (await api.client(user).get(f"/meetings/{meeting_id}")).json()
    assert (stored["private"], stored["owner_user_id"]) == (True, str(user.user_id))
    public = await api.client(user).patch(f"/meetings/{meeting_id}", json={"private": False})
    assert public.status_code == 200, public.text
