"""The state behind the Google stand-in: accounts, OAuth grants, calendars and their events, each
change numbered so sync tokens can name a point in a calendar's history.

Behaviour follows Google's documentation of Calendar API v3 (events resource, "Synchronize
resources efficiently", "Push notifications") and of OAuth 2.0 for web server applications;
where the docs are silent it does what the real service is observed to do (an event's id cannot
be reused after deletion; deleted events stay readable as ``status: cancelled``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from calsync_localinfra.oauth_authority import TokenStyle
from calsync_localinfra.standin_backdoor import StandInState

Event = dict[str, Any]

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


GOOGLE_TOKENS = TokenStyle(SCOPE, access_prefix="ya29.", refresh_prefix="1//", code_prefix="4/")


class GoogleState(StandInState):
    def __init__(self, client_id: str, client_secret: str) -> None:
        super().__init__(client_id, client_secret, GOOGLE_TOKENS)
        self.calendars: dict[str, Calendar] = {}
        self.channels: dict[str, Channel] = {}

    # --- accounts and calendars (set up by the operator of the stand-in) ------------------------

    def add_account(self, email: str) -> Calendar:
        """An account with its primary calendar, whose id is the address (as at Google)."""
        with self.lock:
            self.accounts.add(email)
            if email not in self.calendars:
                self.calendars[email] = Calendar(email, email, email, "#9fe1e7", primary=True)
            return self.calendars[email]

    def add_calendar(self, email: str, name: str) -> Calendar:
        with self.lock:
            self.add_account(email)
            calendar_id = f"{secrets.token_hex(13)}@group.calendar.google.com"
            calendar = Calendar(calendar_id, email, name, "#f83a22")
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

    def user_of(self, authorization: str | None) -> str:
        email = self.bearer(authorization)
        if email is None:
            raise ApiError(401, "authError", "Invalid Credentials")
        return email
