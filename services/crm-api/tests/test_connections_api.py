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
        sync_service_urls={
            "caldav": "http://sync-caldav.test",
            "exchange": "http://sync-exchange.test",
        },
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
    [error] = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", "password"], "verdict_wrong_credentials")
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
    assert revealed.json() == {
        "kind": "basic",
        "username": "ann",
        "secret": PASSWORD,
        "mailbox": "",
        "impersonate": False,
    }
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


# --- Exchange Server (EWS) ----------------------------------------------------------------------

EWS = "https://mail.corp.test/EWS/Exchange.asmx"


def ews(**changes: Any) -> dict[str, Any]:
    """An Exchange Server connection by a service account impersonating Ann's mailbox."""
    values = body(
        provider="exchange",
        server_url=EWS,
        username="CORP\\svc-calsync",
        mailbox="ann@corp.test",
        impersonate=True,
    )
    values.update(changes)
    return values


async def test_an_exchange_server_connection_is_tested_and_stored_with_its_mailbox(setup) -> None:
    api, fake = setup
    acme = await api.tenant()
    path = f"/users/{acme.user.user_id}/calendar-connection"
    saved = await api.client(acme.user).put(path, json=ews())
    assert saved.status_code == 200, saved.text
    assert fake.requests[-1]["server_url"] == EWS
    assert fake.requests[-1]["credentials"] == {
        "kind": "basic",
        "username": "CORP\\svc-calsync",
        "secret": PASSWORD,
        "mailbox": "ann@corp.test",
        "impersonate": True,
    }
    shown = saved.json()
    assert (shown["provider"], shown["auth_kind"]) == ("exchange", "basic")
    assert (shown["username"], shown["mailbox"], shown["impersonate"]) == (
        "CORP\\svc-calsync",
        "ann@corp.test",
        True,
    )
    assert shown["invitation_sender"] == "provider"  # Exchange's by default, as Online
    fetched = await api.client(acme.user).get(path)
    assert fetched.json()["mailbox"] == "ann@corp.test"
    for text in (saved.text, fetched.text, json.dumps(await outbox_payloads(api))):
        assert PASSWORD not in text
    # The sync service gets the mailbox as the connection's account, the login with the secret.
    config = (await outbox_payloads(api))[0]["payload"]["config"]
    assert config["account"] == "ann@corp.test"
    me = (await api.client(acme.user).get("/me")).json()
    assert config["time_zone"] == me["time_zone"]  # all-day meetings in the user's zone
    connection_id = config["connection_id"]
    internal = api.client(token=TOKEN)
    revealed = await internal.get(f"/internal/connections/{connection_id}/credentials")
    assert revealed.json() == {
        "kind": "basic",
        "username": "CORP\\svc-calsync",
        "secret": PASSWORD,
        "mailbox": "ann@corp.test",
        "impersonate": True,
    }
    # Unlike Exchange Online, EWS can save attendees without mailing them: ours may send.
    changed = await api.client(acme.user).patch(path, json={"invitation_sender": "notifier"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["invitation_sender"] == "notifier"
    again = await api.client(acme.user).put(path, json=ews())
    assert again.json()["invitation_sender"] == "notifier"  # a reconnection keeps the choice


async def test_the_mailbox_defaults_to_a_username_that_is_an_address(setup) -> None:
    api, fake = setup
    acme = await api.tenant()
    url = f"/users/{acme.user.user_id}/calendar-connection/test"
    tested = await api.client(acme.user).post(
        url, json=account(provider="exchange", server_url=EWS, username="ann@corp.test")
    )
    assert tested.status_code == 200, tested.text
    credentials = fake.requests[-1]["credentials"]
    assert (credentials["mailbox"], credentials["impersonate"]) == ("ann@corp.test", False)


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"mailbox": None, "username": "CORP\\ann", "impersonate": False}, "mailbox", "missing"),
        ({"mailbox": None, "username": "svc@corp.test"}, "mailbox", "missing"),  # impersonating
        ({"username": ""}, "username", "missing"),  # impersonating: the service account's login
        ({"username": "  "}, "username", "missing"),
        ({"mailbox": "not an address"}, "mailbox", "string_pattern_mismatch"),
        ({"server_url": "http://mail.corp.test/EWS/Exchange.asmx"}, "server_url", "https_required"),
        ({"server_url": "mail.corp.test/EWS/Exchange.asmx"}, "server_url", "https_required"),
        ({"server_url": ""}, "server_url", "string_too_short"),
        (
            {"provider": "caldav", "server_url": "https://dav.test/", "mailbox": None},
            "impersonate",
            "exchange_server_only",
        ),
    ],
)
async def test_exchange_server_validation_names_the_field(
    setup, changes: dict[str, Any], field: str, code: str
) -> None:
    api, fake = setup
    acme = await api.tenant()
    path = f"/users/{acme.user.user_id}/calendar-connection"
    client = api.client(acme.user)
    for response in (
        await client.post(path + "/test", json={**account(**ews()), **changes}),
        await client.put(path, json=ews(**changes)),
    ):
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", field]
        assert error["type"] == code
    assert fake.requests == []  # refused before the sync service is asked


async def test_plain_http_ews_is_accepted_only_on_the_allow_list(fresh_database: str) -> None:
    fake = FakeSyncService()
    settings = settings_for(
        fresh_database,
        internal_api_token=TOKEN,
        sync_service_urls={"exchange": "http://sync-exchange.test"},
        ssrf_allow=["127.0.0.1:8443"],
    )
    async with running_api(
        fresh_database, settings=settings, sync_transport=httpx.MockTransport(fake.handler)
    ) as api:
        acme = await api.tenant()
        url = f"/users/{acme.user.user_id}/calendar-connection/test"
        client = api.client(acme.user)
        allowed = await client.post(
            url, json=account(**ews(server_url="http://127.0.0.1:8443/EWS/Exchange.asmx"))
        )
        assert allowed.status_code == 200, allowed.text
        other_port = await client.post(
            url, json=account(**ews(server_url="http://127.0.0.1:8080/EWS/Exchange.asmx"))
        )
        assert other_port.status_code == 422
        assert other_port.json()["detail"][0]["loc"] == ["body", "server_url"]


async def test_a_user_moving_zone_announces_their_connection_again(setup) -> None:
    """All-day meetings follow the user's zone at Exchange: the sync service must hear of it."""
    api, _ = setup
    acme = await api.tenant()
    path = f"/users/{acme.user.user_id}/calendar-connection"
    assert (await api.client(acme.user).put(path, json=ews())).status_code == 200
    before = len(await outbox_payloads(api))
    moved = await api.client(acme.user).patch("/me", json={"time_zone": "America/New_York"})
    assert moved.status_code == 200, moved.text
    payloads = await outbox_payloads(api)
    assert len(payloads) == before + 1
    assert payloads[-1]["payload"]["config"]["time_zone"] == "America/New_York"
    same = await api.client(acme.user).patch("/me", json={"time_zone": "America/New_York"})
    assert same.status_code == 200
    assert len(await outbox_payloads(api)) == before + 1  # nothing moved: nothing announced
