"""Connecting a Google account, against the Google stand-in: the consent page's address, the
code exchange (with PKCE), and the connection test's verdicts."""

from __future__ import annotations

import asyncio
import secrets
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from calsync_contracts.internal import (
    AuthKind,
    Credentials,
    OAuthFinish,
    OAuthStart,
    ProbeRequest,
    ProbeVerdict,
)
from calsync_localinfra.google import LocalGoogle
from sync_google import oauth
from sync_google.api import GoogleEndpoints, OAuthClient
from sync_google.probe import probe

REDIRECT = "http://127.0.0.1:9/oauth/callback"


def client_of(google: LocalGoogle) -> tuple[OAuthClient, GoogleEndpoints]:
    return (
        OAuthClient(google.client_id, google.client_secret),
        GoogleEndpoints(google.api_endpoint, google.token_uri, google.auth_uri),
    )


def consent(url: str, email: str, decision: str = "allow") -> httpx.URL:
    """What the user's browser does on Google's consent page; returns where Google sends it."""
    query = httpx.URL(url).params
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200
    assert email in page.text
    form = {k: query[k] for k in ("redirect_uri", "client_id", "state", "code_challenge")}
    answer = httpx.post(url.split("?")[0], data=form | {"email": email, "decision": decision})
    return httpx.URL(answer.headers["location"])


async def test_consent_then_exchange_gives_a_refresh_token_for_the_account(
    google: LocalGoogle,
) -> None:
    client, endpoints = client_of(google)
    email = f"u{uuid4().hex[:8]}@example.com"
    await asyncio.to_thread(google.add_account, email)
    await asyncio.to_thread(google.add_calendar, email, "Team")

    verifier = SecretStr(secrets.token_urlsafe(64))
    start = OAuthStart(redirect_uri=REDIRECT, state="opaque-state", code_verifier=verifier)
    started = oauth.start(start, client, endpoints)
    query = httpx.URL(started.authorization_url).params
    assert query["access_type"] == "offline"
    assert query["code_challenge_method"] == "S256"
    back = await asyncio.to_thread(consent, started.authorization_url, email)
    assert back.params["state"] == "opaque-state"

    finish = OAuthFinish(
        redirect_uri=REDIRECT,
        code=SecretStr(back.params["code"]),
        code_verifier=verifier,
    )
    finished = await oauth.finish(finish, client, endpoints)
    assert finished.account == email

    credentials = Credentials(kind=AuthKind.OAUTH_REFRESH, secret=finished.refresh_token)
    result = await probe(ProbeRequest(server_url="", credentials=credentials), client, endpoints)
    assert result.verdict is ProbeVerdict.OK
    assert [c.name for c in result.calendars] == [email, "Team"]  # the primary first

    with pytest.raises(oauth.OAuthRefused):  # a code works once
        await oauth.finish(finish, client, endpoints)


async def test_a_wrong_pkce_verifier_is_refused(google: LocalGoogle) -> None:
    client, endpoints = client_of(google)
    email = f"u{uuid4().hex[:8]}@example.com"
    await asyncio.to_thread(google.add_account, email)
    verifier = SecretStr(secrets.token_urlsafe(64))
    start = OAuthStart(redirect_uri=REDIRECT, state="s", code_verifier=verifier)
    started = oauth.start(start, client, endpoints)
    back = await asyncio.to_thread(consent, started.authorization_url, email)
    wrong = OAuthFinish(
        redirect_uri=REDIRECT,
        code=SecretStr(back.params["code"]),
        code_verifier=SecretStr("x" * 50),
    )
    with pytest.raises(oauth.OAuthRefused):
        await oauth.finish(wrong, client, endpoints)


async def test_a_revoked_or_foreign_credential_is_a_wrong_credentials_verdict(
    google: LocalGoogle,
) -> None:
    client, endpoints = client_of(google)
    email = f"u{uuid4().hex[:8]}@example.com"
    await asyncio.to_thread(google.add_account, email)
    token = await asyncio.to_thread(google.grant, email)
    await asyncio.to_thread(google.revoke_account, email)
    revoked = Credentials(kind=AuthKind.OAUTH_REFRESH, secret=SecretStr(token))
    result = await probe(ProbeRequest(server_url="", credentials=revoked), client, endpoints)
    assert result.verdict is ProbeVerdict.WRONG_CREDENTIALS
    password = Credentials(kind=AuthKind.BASIC, username=email, secret=SecretStr("pw"))
    result = await probe(ProbeRequest(server_url="", credentials=password), client, endpoints)
    assert result.verdict is ProbeVerdict.WRONG_CREDENTIALS
