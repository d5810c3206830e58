"""Calls to Microsoft Graph: an access token from MSAL (by the connection's refresh token), then
plain HTTPS with httpx; Graph's errors turned into the engine's (``sync_core.errors``).

Graph's "Microsoft Graph error responses" and "throttling guidance": 401 → the grant is gone
(reconnect); 429 / 503 / 504 with ``Retry-After`` → back off; 410 ``SyncStateNotFound`` /
``resyncRequired`` → a delta token no longer valid; 412 → changed since read.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from dataclasses import dataclass
from typing import Any

import httpx
import msal
import requests

from sync_core.errors import (
    AuthError,
    CursorInvalid,
    ItemRefused,
    PreconditionFailed,
    ProviderError,
    TemporaryError,
    Unreachable,
)

SCOPES = [
    "https://graph.microsoft.com/Calendars.ReadWrite",
    "https://graph.microsoft.com/User.Read",
]
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@dataclass(frozen=True, slots=True)
class MicrosoftEndpoints:
    """Where Microsoft is: the real addresses by default, the local stand-in's in tests."""

    authority: str = "https://login.microsoftonline.com/common"
    graph: str = "https://graph.microsoft.com/v1.0/"
    ca_file: str | None = None
    """A certificate to trust (the stand-in's, self-signed); None: the system's."""
    sign_in_authority: str | None = None
    """The authority as browsers reach it, when not as this service does."""

    @property
    def browser_authority(self) -> str:
        return self.sign_in_authority or self.authority

    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True


@dataclass(frozen=True, slots=True)
class AppRegistration:
    client_id: str
    client_secret: str


class Missing(ProviderError):
    """404 ``ErrorItemNotFound``: the event does not exist (any more)."""


@functools.cache
def msal_app(app: AppRegistration, endpoints: MicrosoftEndpoints) -> Any:
    """One MSAL application per registration and authority for the process (it keeps its HTTP
    session and the authority's OpenID configuration; a pass must not make its own)."""
    http_client = None
    if endpoints.ca_file:
        # requests lets REQUESTS_CA_BUNDLE override a session's own ``verify``: a session that
        # ignores the environment trusts exactly the stand-in's certificate.
        http_client = requests.Session()
        http_client.trust_env = False
        http_client.verify = endpoints.ca_file
    return msal.ConfidentialClientApplication(
        app.client_id,
        client_credential=app.client_secret,
        authority=endpoints.authority,
        instance_discovery=endpoints.ca_file is None,
        http_client=http_client,
    )


async def access_token(
    refresh_token: str, app: AppRegistration, endpoints: MicrosoftEndpoints
) -> str:
    def acquire() -> dict[str, Any]:
        answer: dict[str, Any] = msal_app(app, endpoints).acquire_token_by_refresh_token(
            refresh_token, SCOPES
        )
        return answer

    try:
        answer = await asyncio.to_thread(acquire)
    except (requests.RequestException, ValueError) as error:
        raise Unreachable(
            f"Microsoft's sign-in service could not be reached ({type(error).__name__})"
        ) from None
    if "access_token" in answer:
        return str(answer["access_token"])
    if answer.get("error") in ("invalid_grant", "invalid_client", "unauthorized_client"):
        raise AuthError("Microsoft refused the stored authorisation: reconnect the calendar")
    raise TemporaryError(f"Microsoft's sign-in service answered {answer.get('error', 'an error')}")


class Graph:
    """One connection's Graph client: an access token and an HTTP connection pool."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(
        self, method: str, url: str, *, if_match: str | None = None, **kwargs: Any
    ) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if if_match:
            headers["If-Match"] = if_match
        try:
            response = await self.http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise Unreachable(
                f"Microsoft Graph could not be reached ({type(error).__name__})"
            ) from None
        if response.is_success:
            return response.json() if response.content else None
        raise _translated(response)


def _translated(response: httpx.Response) -> ProviderError:
    status = response.status_code
    try:
        code = str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        code = ""
    retry_after = response.headers.get("retry-after", "")
    if status == 401:
        return AuthError("Microsoft refused the stored authorisation: reconnect the calendar")
    if status in (429, 503, 504) or status >= 500:
        seconds = float(retry_after) if retry_after.isdigit() else None
        return TemporaryError(f"Microsoft Graph asks us to wait ({status})", seconds)
    if status == 410:
        return CursorInvalid("Microsoft Graph asks for a full sync (the delta token expired)")
    if status == 404:
        return Missing(code or "ErrorItemNotFound")
    if status == 412:
        return PreconditionFailed("the event changed in Exchange since we read it")
    return ItemRefused(f"Exchange refused the event: {code or status}")


def graph_http(token: str, endpoints: MicrosoftEndpoints) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=endpoints.graph,
        headers={"Authorization": f"Bearer {token}"},
        verify=endpoints.verify(),
        timeout=TIMEOUT,
    )
