"""The state behind the Microsoft stand-in: accounts (each with its default calendar), OAuth
grants, and every calendar's events with a numbered change log, so a delta token can name a
point in a calendar's history. Times are kept as UTC instants, as Exchange does."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from calsync_localinfra.oauth_authority import TokenStyle
from calsync_localinfra.standin_backdoor import StandInState

Event = dict[str, Any]
SCOPE = "https://graph.microsoft.com/Calendars.ReadWrite https://graph.microsoft.com/User.Read"


class GraphError(Exception):
    """An error as Graph answers it: ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after: int | None = None

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


@dataclass
class Calendar:
    id: str
    owner: str
    name: str
    color: str
    default: bool = False
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    """Changes when delta tokens stop being valid (``expire_delta_tokens``)."""
    seq: int = 0
    events: dict[str, Event] = field(default_factory=dict)
    changed_at: dict[str, int] = field(default_factory=dict)
    removed_at: dict[str, int] = field(default_factory=dict)


@dataclass
class Subscription:
    """A change-notification subscription (Graph ``subscription`` resource) to a calendar."""

    id: str
    calendar_id: str
    url: str
    client_state: str
    expires: datetime


MICROSOFT_TOKENS = TokenStyle(
    SCOPE,
    access_prefix="eyJ0eXAiOiJKV1Qi.",
    refresh_prefix="0.AR8A",
    code_prefix="0.AX",
    extra=(("ext_expires_in", 3599),),
)


def graph_id() -> str:
    """Exchange ids are long base64 strings (``AAMkAD…``)."""
    return "AAMkAD" + base64.urlsafe_b64encode(secrets.token_bytes(33)).decode()


class MicrosoftState(StandInState):
    def __init__(self, client_id: str, client_secret: str) -> None:
        super().__init__(client_id, client_secret, MICROSOFT_TOKENS)
        self.calendars: dict[str, Calendar] = {}
        self.subscriptions: dict[str, Subscription] = {}

    def add_account(self, email: str) -> Calendar:
        with self.lock:
            self.accounts.add(email)
            found = next(
                (c for c in self.calendars.values() if c.owner == email and c.default), None
            )
            if found is None:
                found = Calendar(graph_id(), email, "Calendar", "auto", default=True)
                self.calendars[found.id] = found
            return found

    def add_calendar(self, email: str, name: str) -> Calendar:
        with self.lock:
            self.add_account(email)
            calendar = Calendar(graph_id(), email, name, "lightBlue")
            self.calendars[calendar.id] = calendar
            return calendar

    def user_of(self, authorization: str | None) -> str:
        email = self.bearer(authorization)
        if email is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        return email

    def calendar(self, email: str, calendar_id: str) -> Calendar:
        found = self.calendars.get(calendar_id)
        if found is None or found.owner != email:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found.")
        self._injected_failure(found.id)
        return found

    def calendar_of_event(self, email: str, event_id: str) -> Calendar:
        for calendar in self.calendars.values():
            if calendar.owner == email and event_id in calendar.events:
                self._injected_failure(calendar.id)
                return calendar
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found.")

    def _injected_failure(self, calendar_id: str) -> None:
        failure = self.failures.get(calendar_id)
        if not failure or failure.get("count", 0) <= 0:
            return
        failure["count"] -= 1
        error = GraphError(int(failure["status"]), str(failure["reason"]), "Injected failure")
        error.retry_after = failure.get("retry_after")
        raise error
