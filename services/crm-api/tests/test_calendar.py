"""/calendar and /freebusy on a real database: series expansion, privacy, free/busy."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from crm_api.adapters.orm import Meeting, MeetingParticipant

CPH = ZoneInfo("Europe/Copenhagen")


async def add(api, owner, subject: str, start: datetime, minutes: int = 60, **fields) -> uuid.UUID:
    meeting_id = fields.pop("id", uuid.uuid4())
    participants = fields.pop("participants", [])
    async with api.sessions() as session, session.begin():
        columns = {
            "all_day": False,
            "timezone": "Europe/Copenhagen",
            "starts_at": start,
            "ends_at": start + timedelta(minutes=minutes),
            **fields,
        }
        session.add(
            Meeting(
                id=meeting_id,
                tenant_id=owner.tenant_id,
                ical_uid=f"{meeting_id}@test",
                version=1,
                owner_user_id=owner.user_id,
                subject=subject,
                participants=participants,
                **columns,
            )
        )
    return meeting_id


async def add_all_day(api, owner, subject: str, first: date, days: int = 1) -> None:
    async with api.sessions() as session, session.begin():
        meeting_id = uuid.uuid4()
        session.add(
            Meeting(
                id=meeting_id,
                tenant_id=owner.tenant_id,
                ical_uid=f"{meeting_id}@test",
                version=1,
                owner_user_id=owner.user_id,
                subject=subject,
                all_day=True,
                starts_at=datetime(first.year, first.month, first.day, tzinfo=UTC),
                ends_at=datetime(first.year, first.month, first.day, tzinfo=UTC)
                + timedelta(days=days),
                start_date=first,
                end_date=first + timedelta(days=days),
                timezone="UTC",
            )
        )


def window(start: str, end: str, *users) -> dict:
    return {"users": [str(u.user_id) for u in users], "start": start, "end": end}


async def test_weekly_series_expands_across_dst_with_exdate_and_override(api) -> None:
    _, _admin, user = await api.tenant()
    first = datetime(2026, 10, 13, 9, tzinfo=CPH)  # CEST; clocks go back on 25 October
    series = await add(
        api,
        user,
        "Stand-up",
        first,
        recurrence={
            "rrule": ["FREQ=WEEKLY;COUNT=5"],
            "rdates": [],
            "exdates": [datetime(2026, 10, 20, 9, tzinfo=CPH).isoformat()],
        },
    )
    moved = datetime(2026, 11, 3, 15, tzinfo=CPH)
    await add(
        api,
        user,
        "Stand-up (moved)",
        moved,
        series_id=series,
        recurrence_id=datetime(2026, 11, 3, 9, tzinfo=CPH).isoformat(),
    )
    response = await api.client(user).get(
        "/calendar", params=window("2026-10-01T00:00:00Z", "2026-12-01T00:00:00Z", user)
    )
    assert response.status_code == 200, response.text
    entries = [
        (e["meeting"]["subject"], datetime.fromisoformat(e["start"]).astimezone(CPH).hour)
        for e in response.json()
    ]
    # 13 Oct, (20 Oct excluded), 27 Oct after DST still 09:00 local, 3 Nov moved to 15:00, 10 Nov
    assert entries == [("Stand-up", 9), ("Stand-up", 9), ("Stand-up (moved)", 15), ("Stand-up", 9)]


async def test_colleagues_private_meetings_are_busy_blocks_without_details(api) -> None:
    _, admin, user = await api.tenant()
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    await add(api, user, "Doctor", start, private=True)
    await add(api, admin, "My private thing", start + timedelta(hours=2), private=True)
    response = await api.client(admin).get(
        "/calendar", params=window("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", admin, user)
    )
    entries = response.json()
    colleague = next(e for e in entries if e["owner_user_id"] == str(user.user_id))
    assert colleague["busy_only"] is True
    assert colleague["meeting"] is None
    assert "Doctor" not in response.text
    own = next(e for e in entries if e["owner_user_id"] == str(admin.user_id))
    assert own["meeting"]["subject"] == "My private thing"


async def test_a_participant_sees_a_private_meeting_in_full(api) -> None:
    _, admin, user = await api.tenant()
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    await add(
        api,
        user,
        "Private 1:1",
        start,
        private=True,
        participants=[
            MeetingParticipant(position=0, kind="user", ref_id=admin.user_id, name="Ada")
        ],
    )
    entries = (
        await api.client(admin).get(
            "/calendar", params=window("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", user)
        )
    ).json()
    assert entries[0]["meeting"]["subject"] == "Private 1:1"


async def test_all_day_meetings_keep_their_dates(api) -> None:
    _, _admin, user = await api.tenant()
    await add_all_day(api, user, "Fair", date(2026, 12, 7), days=3)
    [entry] = (
        await api.client(user).get(
            "/calendar", params=window("2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z", user)
        )
    ).json()
    assert (entry["start"], entry["end"], entry["all_day"]) == ("2026-12-07", "2026-12-10", True)


async def test_users_of_another_tenant_are_refused(api) -> None:
    _, _admin, user = await api.tenant("A")
    _, _admin_b, other = await api.tenant("B")
    response = await api.client(user).get(
        "/calendar", params=window("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", other)
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "users"]


async def test_window_must_be_ordered_and_bounded(api) -> None:
    _, _admin, user = await api.tenant()
    client = api.client(user)
    backwards = await client.get(
        "/calendar", params=window("2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z", user)
    )
    too_long = await client.get(
        "/calendar", params=window("2026-01-01T00:00:00Z", "2028-01-01T00:00:00Z", user)
    )
    assert (backwards.status_code, too_long.status_code) == (422, 422)


async def test_free_busy_merges_overlaps_and_blocks_all_day_in_the_users_zone(api) -> None:
    _, admin, user = await api.tenant()  # user's zone: Europe/Warsaw
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    await add(api, user, "A", start, 60)
    await add(api, user, "B", start + timedelta(minutes=30), 60)
    await add(api, user, "C", start + timedelta(hours=3), 30, private=True)
    await add_all_day(api, user, "Off", date(2026, 12, 3))
    response = await api.client(admin).get(
        "/freebusy", params=window("2026-12-01T00:00:00Z", "2026-12-05T00:00:00Z", user)
    )
    [result] = response.json()
    busy = [
        (datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
        for b in result["busy"]
    ]
    assert busy[0] == (start, start + timedelta(minutes=90))
    assert busy[1] == (start + timedelta(hours=3), start + timedelta(hours=3, minutes=30))
    assert busy[2] == (datetime(2026, 12, 2, 23, tzinfo=UTC), datetime(2026, 12, 3, 23, tzinfo=UTC))
