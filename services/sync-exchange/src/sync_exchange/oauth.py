"""Signing in with Microsoft (the identity platform's authorization code flow, RFC 6749 §4.1,
with PKCE, RFC 7636): the consent page's address, and the exchange of the code the browser
brought back for a refresh token. ``requests-oauthlib`` does both; MSAL then turns the refresh
token into access tokens for each sync pass (graph.client)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os

from pydantic import SecretStr
from requests_oauthlib import OAuth2Session

from calsync_contracts.internal import OAuthFinish, OAuthFinished, OAuthStart, OAuthStarted
from sync_exchange.graph.client import (
    SCOPES,
    AppRegistration,
    Graph,
    MicrosoftEndpoints,
    graph_http,
)
from sync_runtime.probe_route import Refused

SIGN_IN_SCOPES = [*SCOPES, "offline_access"]
# Microsoft answers with the scopes it granted, worded its own way (no offline_access):
# oauthlib would refuse the token ("Scope has changed") unless told to accept.
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")


class SignInRefused(Refused):
    """Microsoft did not exchange the code (expired, reused, or for another address)."""


def start(request: OAuthStart, app: AppRegistration, endpoints: MicrosoftEndpoints) -> OAuthStarted:
    session = _session(app, endpoints, request.redirect_uri)
    challenge = _s256(request.code_verifier.get_secret_value())
    url, _ = session.authorization_url(
        endpoints.browser_authority + "/oauth2/v2.0/authorize",
        state=request.state,
        code_challenge=challenge,
        code_challenge_method="S256",
        prompt="select_account",
    )
    return OAuthStarted(authorization_url=url)


async def finish(
    request: OAuthFinish, app: AppRegistration, endpoints: MicrosoftEndpoints
) -> OAuthFinished:
    session = _session(app, endpoints, request.redirect_uri)

    def exchange() -> dict[str, str]:
        token: dict[str, str] = session.fetch_token(
            endpoints.authority + "/oauth2/v2.0/token",
            code=request.code.get_secret_value(),
            client_secret=app.client_secret,
            code_verifier=request.code_verifier.get_secret_value(),
            include_client_id=True,
        )
        return token

    try:
        token = await asyncio.to_thread(exchange)
    except Exception as error:  # oauthlib raises its own tree per OAuth error code
        raise SignInRefused(type(error).__name__) from None
    finally:
        session.close()
    if not token.get("refresh_token"):
        raise SignInRefused("Microsoft gave no refresh token")
    async with graph_http(token["access_token"], endpoints) as http:
        me = await Graph(http).call("GET", "me")
    return OAuthFinished(
        account=str(me.get("mail") or me.get("userPrincipalName") or ""),
        refresh_token=SecretStr(token["refresh_token"]),
    )


def _session(app: AppRegistration, endpoints: MicrosoftEndpoints, redirect: str) -> OAuth2Session:
    session = OAuth2Session(app.client_id, redirect_uri=redirect, scope=SIGN_IN_SCOPES)
    if endpoints.ca_file:  # the stand-in: trust its certificate, not the environment's bundle
        session.trust_env = False
        session.verify = endpoints.ca_file
    return session


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
