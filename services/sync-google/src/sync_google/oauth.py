"""Google's OAuth 2.0 for web server applications, the two steps crm-api asks for: the consent
page's address (offline access, so Google hands out a refresh token; PKCE S256, RFC 7636), and
the exchange of the code the browser brought back. ``google-auth-oauthlib`` does both."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import urlsplit

from google_auth_oauthlib.flow import Flow
from pydantic import SecretStr

from calsync_contracts.internal import OAuthFinish, OAuthFinished, OAuthStart, OAuthStarted
from sync_google.api import SCOPES, GoogleEndpoints, OAuthClient, calendar_service, execute
from sync_runtime.probe_route import Refused


class OAuthRefused(Refused):
    """Google did not exchange the code (expired, reused, or for another redirect address)."""


def start(request: OAuthStart, client: OAuthClient, endpoints: GoogleEndpoints) -> OAuthStarted:
    verifier = request.code_verifier.get_secret_value()
    flow = _flow(client, endpoints, request.redirect_uri, verifier)
    url, _ = flow.authorization_url(access_type="offline", prompt="consent", state=request.state)
    return OAuthStarted(authorization_url=url)


async def finish(
    request: OAuthFinish, client: OAuthClient, endpoints: GoogleEndpoints
) -> OAuthFinished:
    verifier = request.code_verifier.get_secret_value()
    flow = _flow(client, endpoints, request.redirect_uri, verifier)
    try:
        await asyncio.to_thread(flow.fetch_token, code=request.code.get_secret_value())
    except Exception as error:  # oauthlib raises its own tree per OAuth error code
        raise OAuthRefused(type(error).__name__) from None
    refresh_token = flow.credentials.refresh_token
    if not refresh_token:
        raise OAuthRefused("Google gave no refresh token")
    return OAuthFinished(
        account=await _primary_address(refresh_token, client, endpoints),
        refresh_token=SecretStr(refresh_token),
    )


async def _primary_address(
    refresh_token: str, client: OAuthClient, endpoints: GoogleEndpoints
) -> str:
    """The primary calendar's id is the account's address (Calendar API v3 ``calendarList``)."""
    service = calendar_service(refresh_token, client, endpoints)
    try:
        listed = await execute(service.calendarList().list())
    finally:
        service.close()
    return next((str(c["id"]) for c in listed.get("items", []) if c.get("primary")), "")


def _flow(client: OAuthClient, endpoints: GoogleEndpoints, redirect_uri: str, verifier: str) -> Any:
    _allow_plain_http_to_a_stand_in(endpoints)
    config = {
        "web": {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "auth_uri": endpoints.auth_uri,
            "token_uri": endpoints.token_uri,
            "redirect_uris": [redirect_uri],
        }
    }
    return Flow.from_client_config(
        config,
        scopes=SCOPES,
        redirect_uri=redirect_uri,
        code_verifier=verifier,
        autogenerate_code_verifier=False,
    )


def _allow_plain_http_to_a_stand_in(endpoints: GoogleEndpoints) -> None:
    """oauthlib refuses plain HTTP (RFC 6749 §3.1.2.1) unless told otherwise; a stand-in for
    Google speaks plain HTTP: on the loopback address, or when the settings allow it (dev)."""
    host = urlsplit(endpoints.token_uri).hostname
    if endpoints.allow_plain_http or host in ("127.0.0.1", "localhost", "::1"):
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


# Google may grant more scopes than asked (earlier grants of the same OAuth client, added to the
# token's scope): oauthlib would refuse the token ("Scope has changed") unless told to accept.
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
