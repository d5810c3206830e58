"""The state behind the Google stand-in: accounts, OAuth grants, calendars and their events, each
change numbered so sync tokens can name a point in a calendar's history.

Behaviour follows Google's documentation of Calendar API v3 (events resource, "Synchronize
resources efficiently", "Push notifications") and of OAuth 2.0 for web server applications;
where the docs are silent it does what the real service is observed to do (an event's id cannot
be reused after deletion; deleted events stay readable as ``status: cancelled``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]

ACCESS_TOKEN_SECONDS = 3599
CODE_SECONDS = 600
SCOPE = "https://www.googleapis.com/auth/calendar"


class ApiError(Exception):
    """An error as Google's JSON error body (``{"error": {"code", "message", "errors"}}``)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        self.retry_after: int | None = None

    def body(self) -> dict[str, Any]:
        error = {"domain": "global", "reason": self.reason, "message": self.message}
        return {"error": {"code": self.status, "message": self.message, "errors": [error]}}


class OAuthError(Exception):
    """An error of the token endpoint (RFC 6749 §5.2): ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass
class Channel:
    id: str
    resource_id: str
    calendar_id: str
    address: str
    token: str | None
    expiration_ms: int
    messages: int = 0


@dataclass
class Calendar:
    id: str
    owner: str
    summary: str
    color: str
    primary: bool = False
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    """Changes when old sync tokens stop being valid (``expire_sync_tokens``)."""
    seq: int = 0
    events: dict[str, Event] = field(default_factory=dict)
    changed_at: dict[str, int] = field(default_factory=dict)


@dataclass
class Grant:
    email: str
    client_id: str


@dataclass
class PendingCode:
    grant: Grant
    redirect_uri: str
    challenge: str | None
    expires: float


class GoogleState:
    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.lock = threading.RLock()
        self.calendars: dict[str, Calendar] = {}
        self.accounts: set[str] = set()
        self.codes: dict[str, PendingCode] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, tuple[str, float]] = {}
        self.channels: dict[str, Channel] = {}
        self.failures: dict[str, dict[str, Any]] = {}
        self.token_failures = 0
        self.mailed: list[dict[str, str]] = []
        self.requests = 0

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self.lock:
            yield

    # --- accounts and calendars (set up by the operator of the stand-in) ------------------------

    def add_account(self, email: str) -> Calendar:
        """An account with its primary calendar, whose id is the address (as at Google)."""
        with self.lock:
            self.accounts.add(email)
            if email not in self.calendars:
                self.calendars[email] = Calendar(email, email, email, "#9fe1e7", primary=True)
            return self.calendars[email]

    def add_calendar(self, email: str, summary: str) -> Calendar:
        with self.lock:
            self.add_account(email)
            calendar_id = f"{secrets.token_hex(13)}@group.calendar.google.com"
            calendar = Calendar(calendar_id, email, summary, "#f83a22")
            self.calendars[calendar_id] = calendar
            return calendar

    def calendar(self, email: str, calendar_id: str) -> Calendar:
        found = self.calendars.get(email if calendar_id == "primary" else calendar_id)
        if found is None or found.owner != email:
            raise ApiError(404, "notFound", "Not Found")
        self._injected_failure(found.id)
        return found

    def _injected_failure(self, calendar_id: str) -> None:
        failure = self.failures.get(calendar_id)
        if not failure or failure.get("count", 0) <= 0:
            return
        failure["count"] -= 1
        error = ApiError(int(failure["status"]), str(failure["reason"]), "Injected failure")
        error.retry_after = failure.get("retry_after")
        raise error

    def calendars_of(self, email: str) -> list[Calendar]:
        return [c for c in self.calendars.values() if c.owner == email]

    # --- OAuth 2.0 ----------------------------------------------------------------------------

    def issue_code(
        self, email: str, client_id: str, redirect_uri: str, challenge: str | None
    ) -> str:
        with self.lock:
            code = "4/" + secrets.token_urlsafe(24)
            grant = Grant(email, client_id)
            expires = time.monotonic() + CODE_SECONDS
            self.codes[code] = PendingCode(grant, redirect_uri, challenge, expires)
            return code

    def exchange_code(
        self, code: str, client_id: str, secret: str, redirect_uri: str, verifier: str | None
    ) -> dict[str, Any]:
        with self.lock:
            self._check_client(client_id, secret)
            pending = self.codes.pop(code, None)
            if pending is None or pending.expires < time.monotonic():
                raise OAuthError("invalid_grant", "Malformed auth code.")
            if pending.redirect_uri != redirect_uri:
                raise OAuthError("redirect_uri_mismatch", "Bad Request")
            if pending.challenge is not None and _s256(verifier or "") != pending.challenge:
                raise OAuthError("invalid_grant", "Invalid code verifier.")
            refresh = "1//" + secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = pending.grant
            return {**self._access(pending.grant.email), "refresh_token": refresh}

    def refresh(self, refresh_token: str, client_id: str, secret: str) -> dict[str, Any]:
        with self.lock:
            self._check_client(client_id, secret)
            grant = self.refresh_tokens.get(refresh_token)
            if grant is None or grant.client_id != client_id:
                raise OAuthError("invalid_grant", "Token has been expired or revoked.")
            return self._access(grant.email)

    def revoke(self, token: str) -> None:
        """Revoking a refresh token ends its access tokens too (Google's revoke endpoint)."""
        with self.lock:
            grant = self.refresh_tokens.pop(token, None)
            if grant is None:
                self.access_tokens.pop(token, None)
                return
            for access, (email, _) in list(self.access_tokens.items()):
                if email == grant.email:
                    del self.access_tokens[access]

    def revoke_all(self, email: str) -> None:
        """The user removed the app's access in their Google account."""
        with self.lock:
            for refresh, grant in list(self.refresh_tokens.items()):
                if grant.email == email:
                    self.revoke(refresh)

    def user_of(self, authorization: str | None) -> str:
        with self.lock:
            self.requests += 1
            token = (authorization or "").removeprefix("Bearer ").strip()
            found = self.access_tokens.get(token)
            if found is None or found[1] < time.monotonic():
                raise ApiError(401, "authError", "Invalid Credentials")
            return found[0]

    def _access(self, email: str) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(32)
        self.access_tokens[token] = (email, time.monotonic() + ACCESS_TOKEN_SECONDS)
        return {
            "access_token": token,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": SCOPE,
            "token_type": "Bearer",
        }

    def _check_client(self, client_id: str, secret: str) -> None:
        if client_id != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            raise OAuthError("invalid_client", "The OAuth client was not found.", 401)


def _s256(verifier: str) -> str:
    """PKCE S256 (RFC 7636 §4.2): BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
