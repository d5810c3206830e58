"""Calls to Google through ``google-api-python-client`` (blocking, so each runs in a worker
thread), with Google's errors turned into the engine's (``sync_core.errors``).

Error reasons from Calendar API v3 "Handle API errors": 403 ``rateLimitExceeded`` /
``userRateLimitExceeded`` and 429 → back off; 410 ``fullSyncRequired`` → list again; 412 →
someone changed the event first; ``invalid_grant`` at the token endpoint → the user revoked us.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials as OAuthCredentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from sync_core.errors import (
    AuthError,
    CursorInvalid,
    ItemRefused,
    PreconditionFailed,
    ProviderError,
    TemporaryError,
    Unreachable,
)

SCOPES = ["https://www.googleapis.com/auth/calendar"]
RATE_LIMITED = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}
TIMEOUT_SECONDS = 30


@dataclass(frozen=True, slots=True)
class GoogleEndpoints:
    """Where Google is: the real addresses by default, the local stand-in's in tests."""

    api_endpoint: str = "https://www.googleapis.com/calendar/v3/"
    token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 (an address)
    auth_uri: str = "https://accounts.google.com/o/oauth2/v2/auth"
    allow_plain_http: bool = False
    """A stand-in on plain HTTP (oauthlib refuses it otherwise); loopback addresses always."""


@dataclass(frozen=True, slots=True)
class OAuthClient:
    client_id: str
    client_secret: str


class Gone(ProviderError):
    """404 / 410 ``deleted``: the event does not exist (any more)."""


class Duplicate(ProviderError):
    """409 ``duplicate``: the chosen event id is taken."""


def calendar_service(refresh_token: str, client: OAuthClient, endpoints: GoogleEndpoints) -> Any:
    """A Calendar API v3 client acting for the user who granted ``refresh_token``; access
    tokens are fetched and renewed by ``google-auth``."""
    credentials = OAuthCredentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=refresh_token,
        token_uri=endpoints.token_uri,
        client_id=client.client_id,
        client_secret=client.client_secret,
        scopes=SCOPES,
    )
    http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=TIMEOUT_SECONDS))
    return build(
        "calendar",
        "v3",
        http=http,
        cache_discovery=False,
        static_discovery=True,
        client_options={"api_endpoint": endpoints.api_endpoint},
    )


async def execute(request: Any, if_match: str | None = None) -> Any:
    """Runs one API request in a thread; ``if_match`` makes a write conditional."""
    if if_match:
        request.headers["If-Match"] = if_match
    try:
        return await asyncio.to_thread(request.execute, num_retries=0)
    except HttpError as error:
        raise _translated(error) from None
    except RefreshError as error:
        if getattr(error, "retryable", False):  # Google's token endpoint down, not a refusal
            raise TemporaryError("Google's sign-in service is not answering") from None
        raise AuthError("Google refused the stored authorisation: reconnect the calendar") from (
            error
        )
    except (TransportError, httplib2.HttpLib2Error, OSError) as error:
        raise Unreachable(f"Google could not be reached ({type(error).__name__})") from None


def _translated(error: HttpError) -> ProviderError:
    status = int(error.resp.status)
    reason = _reason(error)
    if status == 401:
        return AuthError("Google refused the stored authorisation: reconnect the calendar")
    if status == 429 or (status == 403 and reason in RATE_LIMITED):
        retry_after = error.resp.get("retry-after")
        seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
        return TemporaryError("Google asks us to slow down", seconds)
    if status == 410 and reason != "deleted":
        return CursorInvalid("Google asks for a full sync (the sync token expired)")
    if status in (404, 410):
        return Gone(reason or "notFound")
    if status == 409:
        return Duplicate(reason or "duplicate")
    if status == 412:
        return PreconditionFailed("the event changed in Google since we read it")
    if status >= 500:
        return TemporaryError(f"Google answered {status}")
    return ItemRefused(f"Google refused the event: {reason or status}")


def _reason(error: HttpError) -> str:
    try:
        body = json.loads(error.content)
        return str(body["error"]["errors"][0]["reason"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
