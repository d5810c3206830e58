"""Calendar connection set-up through the API, with the sync service's connection test
answered by a stand-in (the real probe is tested against Radicale in sync-caldav's suite and
end to end)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from calsync_contracts.internal import CalendarInfo, ProbeResult, ProbeVerdict
from crm_api.adapters.orm import CalendarConnection, outbox

from .support import running_api, settings_for

TOKEN = "internal-token-for-the-tests-0123456789"
PASSWORD = "s3cret-password"
CAL_A = "http://dav.test/ann/work/"
CAL_B = "http://dav.test/ann/home/"


class FakeSyncService:
    """Answers POST /internal/probe like sync-caldav: the verdict depends on the password."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        body = json.loads(request.content)
        self.requests.append(body)
        if body["credentials"]["secret"] != PASSWORD:
            result = ProbeResult(
                verdict=ProbeVerdict.WRONG_CREDENTIALS, message="The server refused the password."
            )
        else:
            result = ProbeResult(
                verdict=ProbeVerdict.OK,
                message="Connected",
                calendars=[
                    CalendarInfo(id=CAL_A, name="Work", supports_sync_token=True),
                    CalendarInfo(id=CAL_B, name="Home", supports_sync_token=True),
                ],
            )
        return httpx.Response(200, content=result.model_dump_json())


@pytest.fixture
async def setup(fresh_database: str) -> AsyncIterator[tuple[Any, FakeSyncService]]:
    fake = FakeSyncService()
    settings = settings_for(
        fresh_database,
        internal_api_token=TOKEN,
        sync_service_urls={"caldav": "http://sync-caldav.test"},
    )
    async with running_api(
        fresh_database, settings=settings, sync_transport=httpx.MockTransport(fake.handler)
    ) as api:
        yield api, fake


def account(**changes: Any) -> dict[str, Any]:
    values = body(**changes)
    del values["calendars"]
    return values


def body(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "provider": "caldav",
        "server_url": "http://dav.test/",
        "username": "ann",
        "password": PASSWORD,
        "calendars": [CAL_A],
    }
    values.update(changes)
    return values


async def outbox_payloads(api: Any) -> list[dict[str, Any]]:
    async with api.sessions() as session:
        return list(
            (await session.execute(select(outbox.c.payload).order_by(outbox.c.id))).scalars()
        )


async def test_the_test_returns_the_verdict_and_the_calendars(setup) -> None:
    api, fake = setup
    acme = await api.tenant()
    url = f"/users/{acme.user.user_id}/calendar-connection/test"
    response = await api.client(acme.user).post(url, json=account())
    assert response.status_code == 200
    assert response.json()["verdict"] == "ok"
    assert [c["name"] for c in response.json()["calendars"]] == ["Work", "Home"]
    assert fake.requests[0]["credentials"]["secret"] == PASSWORD


async def test_saving_stores_the_secret_encrypted_and_never_shows_it(setup) -> None:
    api, _ = setup
    acme = await api.tenant()
    client = api.client(acme.user)
    path = f"/users/{acme.user.user_id}/calendar-connection"
    saved = await client.put(path, json=body())
    assert saved.status_code == 200, saved.text
    assert saved.json()["calendars"] == [
        {"id": CAL_A, "name": "Work", "color": None, "supports_sync_token": False}
    ]
    fetched = await client.get(path)
    for text in (saved.text, fetched.text, json.dumps(await outbox_payloads(api))):
        assert PASSWORD not in text
    async with api.sessions() as session:
        row = await session.scalar(select(CalendarConnection))
        assert row is not None
        assert row.encrypted_secret is not None
        assert PASSWORD.encode() not in row.encrypted_secret


async def test_saving_announces_the_connection_and_asks_for_a_full_sync(setup) -> None:
    api, _ = setup
    acme = await api.tenant()
    await api.client(acme.user).put(f"/users/{acme.user.user_id}/calendar-connection", json=body())
    types = [(p["type"], p["payload"].get("full")) for p in await outbox_payloads(api)]
    assert types == [("connection.changed", None), ("sync.requested", True)]
    config = (await outbox_payloads(api))[0]["payload"]["config"]
    assert config["calendars"] == [CAL_A]
    assert config["server_url"] == "http://dav.test/"


async def test_a_refused_password_is_a_422_naming_the_password(setup) -> None:
    api, _ = setup
    acme = await api.tenant()
    response = await api.client(acme.user).put(
        f"/users/{acme.user.user_id}/calendar-connection", json=body(password="wrong")
    )
    assert response.status_code == 422
    assert "password" in json.dumps(response.json())
    assert await outbox_payloads(api) == []


async def test_an_unknown_calendar_is_a_422_naming_calendars(setup) -> None:
    api, _ = setup
    acme = await api.tenant()
    response = await api.client(acme.user).put(
        f"/users/{acme.user.user_id}/calendar-connection", json=body(calendars=["http://x/"])
    )
    assert response.status_code == 422
    assert "calendars" in json.dumps(response.json())


async def test_a_calendar_is_synchronised_for_one_user_only(setup) -> None:
    api, _ = setup
    acme = await api.tenant()
    first = await api.client(acme.user).put(
        f"/users/{acme.user.user_id}/calendar-connection", json=body()
    )
    assert first.status_code == 200
    second = await api.client(acme.admin).put(
        f"/users/{acme.admin.user_id}/calendar-connection", json=body()
    )
    assert second.status_code == 409
    assert "Work" in second.text
    assert "Ulla User" in second.text


async def test_other_users_and_tenants_are_protected(setup) -> None:
    api, _ = setup
    acme, other = await api.tenant(), await api.tenant("Other")
    path = f"/users/{acme.admin.user_id}/calendar-connection"
    assert (await api.client(acme.user).put(path, json=body())).status_code == 403
    assert (await api.client(other.admin).put(path, json=body())).status_code == 404
    by_admin = await api.client(acme.admin).put(
        f"/users/{acme.user.user_id}/calendar-connection", json=body()
    )
    assert by_admin.status_code == 200


async def test_changing_choices_needs_no_password_and_bumps_the_config(setup) -> None:
    api, _ = setup
    acme = await api.tenant()
    path = f"/users/{acme.user.user_id}/calendar-connection"
    client = api.client(acme.user)
    await client.put(path, json=body())
    changed = await client.patch(
        path, json={"calendars": [CAL_A, CAL_B], "sync_interval_seconds": 30}
    )
    assert changed.status_code == 200, changed.text
    assert [c["id"] for c in changed.json()["calendars"]] == [CAL_A, CAL_B]
    configs = [
        p["payload"]["config"]
        for p in await outbox_payloads(api)
        if p["type"] == "connection.changed"
    ]
    assert [c["config_version"] for c in configs] == [1, 2]
    bad = await client.patch(path, json={"shown_fields": ["password"]})
    assert bad.status_code == 422


async def test_disconnecting_announces_removal_and_frees_the_calendar(setup) -> None:
    api, _ = setup
    acme = await api.tenant()
    path = f"/users/{acme.user.user_id}/calendar-connection"
    await api.client(acme.user).put(path, json=body())
    assert (await api.client(acme.user).delete(path)).status_code == 204
    assert (await api.client(acme.user).get(path)).status_code == 404
    removed = [p for p in await outbox_payloads(api) if p["type"] == "connection.changed"][-1]
    assert removed["payload"]["action"] == "removed"
    again = await api.client(acme.admin).put(
        f"/users/{acme.admin.user_id}/calendar-connection", json=body()
    )
    assert again.status_code == 200


async def test_a_provider_without_a_sync_service_says_so(setup) -> None:
    api, _ = setup
    acme = await api.tenant()
    response = await api.client(acme.user).post(
        f"/users/{acme.user.user_id}/calendar-connection/test", json=account(provider="google")
    )
    assert response.status_code == 409
    assert "not available in this deployment" in response.text


async def test_the_sync_window_is_set_by_administrators(setup) -> None:
    api, _ = setup
    acme = await api.tenant()
    window = {"months_back": 1, "months_ahead": 6}
    assert (
        await api.client(acme.user).put("/settings/sync-window", json=window)
    ).status_code == 403
    assert (
        await api.client(acme.admin).put("/settings/sync-window", json=window)
    ).status_code == 200
    assert (await api.client(acme.user).get("/settings/sync-window")).json() == window
    too_far = {"months_back": 1, "months_ahead": 500}
    response = await api.client(acme.admin).put("/settings/sync-window", json=too_far)
    assert response.status_code == 422
    assert "months_ahead" in response.text


# --- the internal API -------------------------------------------------------------------------


async def test_the_internal_api_needs_the_internal_token(setup) -> None:
    api, _ = setup
    acme = await api.tenant()
    await api.client(acme.user).put(f"/users/{acme.user.user_id}/calendar-connection", json=body())
    async with api.sessions() as session:
        connection_id = await session.scalar(select(CalendarConnection.id))
    path = f"/internal/connections/{connection_id}/credentials"
    assert (await api.client().get(path)).status_code == 401
    assert (await api.client(acme.admin).get(path)).status_code == 401  # a user's JWT is not it
    assert (await api.client(token="x" * 40).get(path)).status_code == 401
    revealed = await api.client(token=TOKEN).get(path)
    assert revealed.status_code == 200
    assert revealed.json() == {"kind": "basic", "username": "ann", "secret": PASSWORD}
    assert revealed.headers["cache-control"] == "no-store"
    assert "/internal" not in json.dumps((await api.client().get("/openapi.json")).json()["paths"])


async def test_the_internal_api_gives_configs_and_meetings(setup) -> None:
    api, _ = setup
    acme = await api.tenant()
    await api.client(acme.user).put(f"/users/{acme.user.user_id}/calendar-connection", json=body())
    created = await api.client(acme.user).post(
        "/meetings",
        json={
            "subject": "Kick-off",
            "owner_user_id": str(acme.user.user_id),
            "start": "2026-12-03T13:00:00Z",
            "end": "2026-12-03T14:00:00Z",
            "timezone": "Europe/Warsaw",
        },
    )
    assert created.status_code == 201, created.text
    internal = api.client(token=TOKEN)
    [listed] = (await internal.get("/internal/connections", params={"provider": "caldav"})).json()
    connection_id = listed["config"]["connection_id"]
    assert listed["tenant_id"] == str(acme.tenant_id)
    config = (await internal.get(f"/internal/connections/{connection_id}/config")).json()
    assert config == listed
    window = {"start": "2026-12-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}
    meetings = (
        await internal.get(f"/internal/connections/{connection_id}/meetings", params=window)
    ).json()
    assert [m["subject"] for m in meetings] == ["Kick-off"]
    outside = {"start": "2027-01-01T00:00:00Z", "end": "2027-02-01T00:00:00Z"}
    assert (
        await internal.get(f"/internal/connections/{connection_id}/meetings", params=outside)
    ).json() == []
    unknown = await internal.get(f"/internal/connections/{uuid.uuid4()}/config")
    assert unknown.status_code == 404
