"""Connecting a Google calendar by signing in: crm-api's start and callback, with sync-google's
real internal routes (called over ASGI) and the Google stand-in behind them. The browser's part,
the consent page, is played with plain HTTP requests here and in Chromium end to end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import select

from calsync_contracts.internal import OAuthFinish, OAuthStart, ProbeRequest
from calsync_localinfra.google import LocalGoogle
from calsync_localinfra.microsoft import LocalMicrosoft
from crm_api.adapters.orm import CalendarConnection, outbox
from sync_exchange import oauth as exchange_oauth
from sync_exchange.graph.client import AppRegistration, MicrosoftEndpoints
from sync_exchange.probe import probe as exchange_probe
from sync_google import oauth
from sync_google.api import GoogleEndpoints, OAuthClient
from sync_google.probe import probe
from sync_runtime.probe_route import internal_route, probe_route

from .support import running_api, settings_for

TOKEN = "internal-token-for-the-tests-0123456789"


def sync_service_routes(start: Any, finish: Any, test: Any) -> Any:
    """A sync service's internal routes for signing in, as ``build_sync_service`` mounts them."""
    routes = {
        "/internal/oauth/start": internal_route(OAuthStart, start, TOKEN),
        "/internal/oauth/finish": internal_route(OAuthFinish, finish, TOKEN),
        "/internal/probe": probe_route(test, TOKEN),
    }

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await routes[scope["path"]](scope, receive, send)

    return app


def sync_google_routes(google: LocalGoogle) -> Any:
    client = OAuthClient(google.client_id, google.client_secret)
    endpoints = GoogleEndpoints(google.api_endpoint, google.token_uri, google.auth_uri)

    async def start(request: OAuthStart) -> Any:
        return oauth.start(request, client, endpoints)

    async def finish(request: OAuthFinish) -> Any:
        return await oauth.finish(request, client, endpoints)

    async def test(request: ProbeRequest) -> Any:
        return await probe(request, client, endpoints)

    return sync_service_routes(start, finish, test)


@pytest.fixture
async def api(fresh_database: str, google: LocalGoogle) -> AsyncIterator[Any]:
    settings = settings_for(
        fresh_database,
        internal_api_token=TOKEN,
        sync_service_urls={"google": "http://sync-google.test"},
    )
    transport = httpx.ASGITransport(app=sync_google_routes(google))
    async with running_api(fresh_database, settings=settings, sync_transport=transport) as api:
        yield api


def consent(authorization_url: str, email: str, decision: str = "allow") -> httpx.URL:
    """The user on Google's consent page: picks the account, allows (or cancels)."""
    query = httpx.URL(authorization_url).params
    form = {k: query[k] for k in ("redirect_uri", "client_id", "state", "code_challenge")}
    answer = httpx.post(
        authorization_url.split("?")[0], data=form | {"email": email, "decision": decision}
    )
    return httpx.URL(answer.headers["location"])


async def sign_in(api: Any, caller: Any, user_id: Any, google: LocalGoogle, **kw: Any) -> httpx.URL:
    email = kw.get("email") or f"u{uuid4().hex[:8]}@example.com"
    await asyncio.to_thread(google.add_account, email)
    started = await api.client(caller).post(
        f"/users/{user_id}/calendar-connection/sign-in", json={"provider": "google"}
    )
    assert started.status_code == 200, started.text
    back = await asyncio.to_thread(
        consent, started.json()["authorization_url"], email, kw.get("decision", "allow")
    )
    callback = await api.client(None).get(
        back.path + "?" + back.query.decode(), headers=browser_of(started)
    )
    assert callback.status_code == 303
    return httpx.URL(callback.headers["location"])


def browser_of(started: httpx.Response) -> dict[str, str]:
    """The cookie the asking browser keeps, sent back on the callback as a browser does."""
    nonce = started.cookies.get("calsync_sign_in")
    assert nonce, "the sign-in start sets the browser's cookie"
    return {"Cookie": f"calsync_sign_in={nonce}"}


async def test_signing_in_connects_the_primary_calendar_and_keeps_the_token_secret(
    api: Any, google: LocalGoogle
) -> None:
    acme = await api.tenant()
    email = f"u{uuid4().hex[:8]}@example.com"
    page = await sign_in(api, acme.user, acme.user.user_id, google, email=email)
    assert page.path == "/app/"
    assert page.params["connected"] == str(acme.user.user_id)

    shown = await api.client(acme.user).get(f"/users/{acme.user.user_id}/calendar-connection")
    assert shown.json()["provider"] == "google"
    assert shown.json()["username"] == email
    assert [c["id"] for c in shown.json()["calendars"]] == [email]
    async with api.sessions() as session:
        row = await session.scalar(select(CalendarConnection))
        assert row is not None
        assert row.auth_kind == "oauth_refresh"
        assert row.encrypted_secret is not None
        assert b"1//" not in row.encrypted_secret  # the stand-in's refresh tokens start so
    assert "1//" not in shown.text
    async with api.sessions() as session:
        payloads = list((await session.execute(select(outbox.c.payload))).scalars())
    assert payloads
    assert "1//" not in json.dumps(payloads)


async def test_an_administrator_connects_a_colleague(api: Any, google: LocalGoogle) -> None:
    acme = await api.tenant()
    page = await sign_in(api, acme.admin, acme.user.user_id, google)
    assert page.params["connected"] == str(acme.user.user_id)
    shown = await api.client(acme.user).get(f"/users/{acme.user.user_id}/calendar-connection")
    assert shown.status_code == 200


async def test_a_user_cannot_start_connecting_a_colleague(api: Any) -> None:
    acme = await api.tenant()
    answer = await api.client(acme.user).post(
        f"/users/{acme.admin.user_id}/calendar-connection/sign-in", json={"provider": "google"}
    )
    assert answer.status_code == 403


async def test_cancelling_on_the_consent_page_connects_nothing(
    api: Any, google: LocalGoogle
) -> None:
    acme = await api.tenant()
    page = await sign_in(api, acme.user, acme.user.user_id, google, decision="deny")
    assert page.params["connect_error"] == "denied"
    shown = await api.client(acme.user).get(f"/users/{acme.user.user_id}/calendar-connection")
    assert shown.status_code == 404


async def test_a_forged_or_replayed_callback_connects_nothing(
    api: Any, google: LocalGoogle
) -> None:
    acme = await api.tenant()
    forged = await api.client(None).get("/oauth/callback?code=4/x&state=not-ours")
    assert forged.status_code == 303
    assert httpx.URL(forged.headers["location"]).params["connect_error"] == "expired"

    email = f"u{uuid4().hex[:8]}@example.com"
    await asyncio.to_thread(google.add_account, email)
    started = await api.client(acme.user).post(
        f"/users/{acme.user.user_id}/calendar-connection/sign-in", json={"provider": "google"}
    )
    back = await asyncio.to_thread(consent, started.json()["authorization_url"], email)
    url = back.path + "?" + back.query.decode()
    cookie = browser_of(started)
    assert "connected" in (await api.client(None).get(url, headers=cookie)).headers["location"]
    replay = await api.client(None).get(url, headers=cookie)  # a code works once (RFC 6749 §4.1.2)
    assert "connect_error" in replay.headers["location"]


async def test_a_sign_in_link_opened_in_another_browser_connects_nothing(
    api: Any, google: LocalGoogle
) -> None:
    """Mallory starts connecting her own calendar and sends the consent link to Alice: Alice's
    Google account must not become Mallory's connection (RFC 6749 §10.12)."""
    acme = await api.tenant()
    alice = f"alice-{uuid4().hex[:6]}@example.com"
    await asyncio.to_thread(google.add_account, alice)
    started = await api.client(acme.user).post(
        f"/users/{acme.user.user_id}/calendar-connection/sign-in", json={"provider": "google"}
    )
    back = await asyncio.to_thread(consent, started.json()["authorization_url"], alice)
    in_alices_browser = await api.client(None).get(back.path + "?" + back.query.decode())
    page = httpx.URL(in_alices_browser.headers["location"])
    assert page.params["connect_error"] == "other_browser"
    shown = await api.client(acme.user).get(f"/users/{acme.user.user_id}/calendar-connection")
    assert shown.status_code == 404


async def test_sign_in_is_only_for_providers_that_use_it(api: Any) -> None:
    acme = await api.tenant()
    answer = await api.client(acme.user).post(
        f"/users/{acme.user.user_id}/calendar-connection/sign-in", json={"provider": "caldav"}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "provider"]


async def test_the_connected_account_lists_its_calendars_to_choose_from(
    api: Any, google: LocalGoogle
) -> None:
    acme = await api.tenant()
    email = f"u{uuid4().hex[:8]}@example.com"
    await asyncio.to_thread(google.add_account, email)
    team = await asyncio.to_thread(google.add_calendar, email, "Team")
    await sign_in(api, acme.user, acme.user.user_id, google, email=email)
    path = f"/users/{acme.user.user_id}/calendar-connection"
    listed = await api.client(acme.user).get(path + "/calendars")
    assert listed.json()["verdict"] == "ok"
    assert [c["name"] for c in listed.json()["calendars"]] == [email, "Team"]
    changed = await api.client(acme.user).patch(path, json={"calendars": [email, team]})
    assert changed.status_code == 200, changed.text
    assert [c["name"] for c in changed.json()["calendars"]] == [email, "Team"]


async def test_signing_in_with_another_account_replaces_the_calendars(
    api: Any, google: LocalGoogle
) -> None:
    acme = await api.tenant()
    first, second = (f"{n}-{uuid4().hex[:6]}@example.com" for n in ("first", "second"))
    await sign_in(api, acme.user, acme.user.user_id, google, email=first)
    page = await sign_in(api, acme.user, acme.user.user_id, google, email=second)
    assert page.params["connected"] == str(acme.user.user_id)
    shown = await api.client(acme.user).get(f"/users/{acme.user.user_id}/calendar-connection")
    assert shown.json()["username"] == second
    assert [c["id"] for c in shown.json()["calendars"]] == [second]


def sync_exchange_routes(microsoft: LocalMicrosoft) -> Any:
    app = AppRegistration(microsoft.client_id, microsoft.client_secret)
    endpoints = MicrosoftEndpoints(microsoft.authority, microsoft.graph_endpoint, microsoft.ca_file)

    async def start(request: OAuthStart) -> Any:
        return exchange_oauth.start(request, app, endpoints)

    async def finish(request: OAuthFinish) -> Any:
        return await exchange_oauth.finish(request, app, endpoints)

    async def test(request: ProbeRequest) -> Any:
        return await exchange_probe(request, app, endpoints)

    return sync_service_routes(start, finish, test)


async def test_exchange_online_signs_in_and_its_invitations_are_exchanges(
    fresh_database: str, microsoft: LocalMicrosoft
) -> None:
    """Graph mails the attendees whenever it writes them: the connection's invitations are the
    provider's from the start, and cannot be switched to our notifier (never both)."""
    settings = settings_for(
        fresh_database,
        internal_api_token=TOKEN,
        sync_service_urls={"exchange": "http://sync-exchange.test"},
    )
    transport = httpx.ASGITransport(app=sync_exchange_routes(microsoft))
    async with running_api(fresh_database, settings=settings, sync_transport=transport) as api:
        acme = await api.tenant()
        email = f"u{uuid4().hex[:8]}@contoso.test"
        await asyncio.to_thread(microsoft.add_account, email)
        path = f"/users/{acme.user.user_id}/calendar-connection"
        started = await api.client(acme.user).post(path + "/sign-in", json={"provider": "exchange"})
        assert started.status_code == 200, started.text
        url = started.json()["authorization_url"]
        assert url.startswith(microsoft.authority)

        def browser() -> httpx.URL:
            query = httpx.URL(url).params
            form = {k: query[k] for k in ("redirect_uri", "client_id", "state", "code_challenge")}
            with httpx.Client(verify=microsoft.ssl_context()) as client:
                answer = client.post(
                    url.split("?")[0], data=form | {"email": email, "decision": "allow"}
                )
            return httpx.URL(answer.headers["location"])

        back = await asyncio.to_thread(browser)
        done = await api.client(None).get(
            back.path + "?" + back.query.decode(), headers=browser_of(started)
        )
        assert httpx.URL(done.headers["location"]).params["connected"] == str(acme.user.user_id)
        shown = (await api.client(acme.user).get(path)).json()
        assert (shown["provider"], shown["username"]) == ("exchange", email)
        assert shown["invitation_sender"] == "provider"
        refused = await api.client(acme.user).patch(path, json={"invitation_sender": "notifier"})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "invitation_sender"]


async def test_a_calendar_synchronised_for_a_colleague_is_not_taken_twice(
    api: Any, google: LocalGoogle
) -> None:
    acme = await api.tenant()
    shared = f"shared-{uuid4().hex[:6]}@example.com"
    await sign_in(api, acme.user, acme.user.user_id, google, email=shared)
    page = await sign_in(api, acme.admin, acme.admin.user_id, google, email=shared)
    assert page.params["connect_error"] == "taken"
    mine = await api.client(acme.admin).get(f"/users/{acme.admin.user_id}/calendar-connection")
    assert mine.status_code == 404
