"""PATCH /meetings/{series}/occurrences/{recurrence_id}: opening one occurrence of a series and
saving it makes (then changes) its override; the series stays as it was."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crm_api.adapters.orm import Meeting, outbox

from .test_calendar import add, window

CPH = ZoneInfo("Europe/Copenhagen")
WEEKLY = {"rrule": ["FREQ=WEEKLY;COUNT=4"], "rdates": [], "exdates": []}


def occurrence_path(series, when: datetime | date) -> str:
    return f"/meetings/{series}/occurrences/{when.isoformat()}"


async def test_the_first_edit_makes_an_override_and_the_next_changes_it(api) -> None:
    _, _admin, user = await api.tenant()
    first = datetime(2026, 10, 13, 9, tzinfo=CPH)
    series = await add(api, user, "Stand-up", first, recurrence=WEEKLY)
    client = api.client(user)
    third = first + timedelta(weeks=2)  # 27 Oct: after the DST change, still 09:00 local

    moved = await client.patch(
        occurrence_path(series, third),
        json={
            "start": (third + timedelta(hours=6)).isoformat(),
            "end": (third + timedelta(hours=7)).isoformat(),
        },
    )
    assert moved.status_code == 200, moved.text
    override = moved.json()
    assert override["series_id"] == str(series)
    assert datetime.fromisoformat(override["recurrence_id"]) == third
    assert override["subject"] == "Stand-up"
    assert override["recurrence"] is None
    assert override["time"]["timezone"] == "Europe/Copenhagen"

    renamed = await client.patch(occurrence_path(series, third), json={"location": "Room 3"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["id"] == override["id"]  # the same override, changed again
    assert renamed.json()["location"] == "Room 3"

    shown = await client.get(
        "/calendar", params=window("2026-10-01T00:00:00Z", "2026-12-01T00:00:00Z", user)
    )
    hours = [
        (e["meeting"]["location"], datetime.fromisoformat(e["start"]).astimezone(CPH).hour)
        for e in shown.json()
    ]
    assert hours == [("", 9), ("", 9), ("Room 3", 15), ("", 9)]
    async with api.sessions() as session:
        row = await session.get(Meeting, series)
        assert row is not None
        assert row.version == 1
        payloads = (await session.execute(select(outbox.c.payload))).scalars().all()
    kinds = [p["type"] for p in payloads if override["id"] in json.dumps(p)]
    assert kinds[0] == "meeting.created"  # the sync services write the override back


async def test_an_all_day_series_is_addressed_by_date(api) -> None:
    _, _admin, user = await api.tenant()
    first = datetime(2026, 12, 7, tzinfo=UTC)
    series = await add(
        api,
        user,
        "Holiday rota",
        first,
        all_day=True,
        timezone="UTC",
        start_date=date(2026, 12, 7),
        end_date=date(2026, 12, 8),
        recurrence={"rrule": ["FREQ=DAILY;COUNT=3"], "rdates": [], "exdates": []},
    )
    edited = await api.client(user).patch(
        occurrence_path(series, date(2026, 12, 8)), json={"subject": "Holiday rota (Anna)"}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["time"] == {
        "kind": "all_day",
        "start_date": "2026-12-08",
        "end_date": "2026-12-09",
    }


async def test_bad_occurrences_are_refused_with_the_field_named(api) -> None:
    _, _admin, user = await api.tenant()
    first = datetime(2026, 10, 13, 9, tzinfo=CPH)
    series = await add(api, user, "Stand-up", first, recurrence=WEEKLY)
    single = await add(api, user, "One-off", first)
    client = api.client(user)
    cases = {
        occurrence_path(series, first + timedelta(hours=1)): "recurrence_id",  # no occurrence then
        occurrence_path(series, first + timedelta(weeks=9)): "recurrence_id",  # after COUNT
        f"/meetings/{series}/occurrences/2026-10-13T09:00:00": "recurrence_id",  # no offset
        f"/meetings/{series}/occurrences/next-tuesday": "recurrence_id",
        occurrence_path(single, first): "meeting_id",  # not a series
    }
    for path, field in cases.items():
        response = await client.patch(path, json={"subject": "x"})
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"][0]["loc"][-1] == field, path
    other_user = (await api.tenant())[2]
    moved_away = await client.patch(
        occurrence_path(series, first), json={"owner_user_id": str(other_user.user_id)}
    )
    assert moved_away.status_code == 422
    assert moved_away.json()["detail"][0]["loc"][-1] == "owner_user_id"
    elsewhere = await api.client(other_user).patch(
        occurrence_path(series, first), json={"subject": "x"}
    )
    assert elsewhere.status_code == 404  # another tenant's series is not revealed
