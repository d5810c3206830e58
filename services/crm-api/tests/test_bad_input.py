"""Input that once reached the database driver and came back as a 500 (found by schemathesis):
now a 422 naming where the problem is."""

from __future__ import annotations

import pytest

TIMED = {"start": "2026-01-01T10:00:00Z", "end": "2026-01-01T11:00:00Z"}


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"q": "a\x00b"}, ["query", "q"]),
        ({"start": "0001-01-01T00:00:00+14:00"}, ["query", "start"]),
        ({"end": "0001-01-01T00:00:00+01:00"}, ["query", "end"]),
    ],
)
async def test_query_values_the_database_cannot_hold(api, params, loc) -> None:
    _, admin, _user = await api.tenant()
    response = await api.client(admin).get("/meetings", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/meetings", {"subject": "a\x00b", **TIMED}, ["body", "subject"]),
        (
            "/meetings",
            {
                "subject": "s",
                **TIMED,
                "participants": [{"kind": "external", "email": "x@y.example", "name": "\x00"}],
            },
            ["body", "participants", 0, "name"],
        ),
        (
            "/meetings",
            {"subject": "s", "all_day": True, "start_date": "9999-12-31"},
            ["body", "start_date"],
        ),
        ("/organisations", {"name": "Acme\x00"}, ["body", "name"]),
    ],
)
async def test_body_values_the_database_cannot_hold(api, path, body, loc) -> None:
    _, admin, _user = await api.tenant()
    response = await api.client(admin).post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


async def test_a_backslash_u0000_that_is_plain_text_is_accepted(api) -> None:
    _, admin, _user = await api.tenant()
    response = await api.client(admin).post("/organisations", json={"name": "literally \\u0000"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("body", "loc", "code"),
    [
        ({"start": TIMED["end"], "end": TIMED["start"]}, ["body", "end"], "end_not_after_start"),
        (
            {"all_day": True, "start_date": "2026-01-02", "end_date": "2026-01-01"},
            ["body", "end_date"],
            "end_not_after_start",
        ),
        ({"all_day": True}, ["body", "start_date"], "missing"),
        ({**TIMED, "end": "2027-06-01T10:00:00Z"}, ["body", "end"], "meeting_too_long"),
        ({**TIMED, "timezone": "Mars/Olympus"}, ["body", "timezone"], "unknown_time_zone"),
    ],
)
async def test_a_meeting_time_error_has_a_code_clients_can_word(api, body, loc, code) -> None:
    _, admin, _user = await api.tenant()
    response = await api.client(admin).post("/meetings", json={"subject": "s", **body})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert (error["loc"], error["type"]) == (loc, code)
