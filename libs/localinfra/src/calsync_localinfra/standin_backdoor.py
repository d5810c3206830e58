"""The operator's backdoor every provider stand-in has (``/_fake/...``; no provider has such a
thing): accounts and calendars, revoking a user's grants, failures on demand, what the provider
would have mailed, and a request count for benchmarks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import Annotated, Any, Protocol

from fastapi import Body, FastAPI, Response

from calsync_localinfra.oauth_authority import OAuthAuthority, TokenStyle


class Made(Protocol):
    id: str


class Observed(Protocol):
    """What any stand-in (with OAuth or without, as EWS) shows its operator."""

    mailed: list[dict[str, str]]
    requests: int

    def locked(self) -> AbstractContextManager[None]: ...


class StandInState(OAuthAuthority, ABC):
    """What the backdoor needs of a stand-in's state, besides its OAuth side."""

    def __init__(self, client_id: str, client_secret: str, style: TokenStyle) -> None:
        super().__init__(client_id, client_secret, style)
        self.failures: dict[str, dict[str, Any]] = {}
        self.mailed: list[dict[str, str]] = []

    @abstractmethod
    def add_account(self, email: str) -> Made: ...

    @abstractmethod
    def add_calendar(self, email: str, name: str) -> Made: ...


def add_backdoor_routes(app: FastAPI, state: StandInState) -> None:
    @app.post("/_fake/accounts")
    async def add_account(body: Annotated[dict[str, str], Body()]) -> dict[str, str]:
        """An account with its primary (default) calendar, whose id is answered."""
        return {"id": state.add_account(body["email"]).id}

    @app.post("/_fake/accounts/{email}/calendars")
    async def add_calendar(email: str, body: Annotated[dict[str, str], Body()]) -> dict[str, str]:
        return {"id": state.add_calendar(email, body["name"]).id}

    @app.post("/_fake/accounts/{email}/revoke", status_code=204)
    async def revoke_account(email: str) -> Response:
        """The user removed the app's access in their account."""
        state.revoke_all(email)
        return Response(status_code=204)

    @app.post("/_fake/calendars/{calendar_id}/fail-next", status_code=204)
    async def fail_next(calendar_id: str, body: Annotated[dict[str, Any], Body()]) -> Response:
        """The next ``count`` API calls on the calendar fail as given (a status, the provider's
        reason or code, and a Retry-After): rate limits and outages, on demand."""
        with state.locked():
            state.failures[calendar_id] = dict(body)
        return Response(status_code=204)

    @app.post("/_fake/token/fail-next", status_code=204)
    async def fail_token(body: Annotated[dict[str, int], Body()]) -> Response:
        """The token endpoint's next ``count`` answers are 503 (an outage at the provider)."""
        with state.locked():
            state.token_failures = int(body["count"])
        return Response(status_code=204)

    add_observation_routes(app, state)


def add_observation_routes(app: FastAPI, state: Observed) -> None:
    @app.get("/_fake/mailed")
    async def mailed() -> list[dict[str, str]]:
        """What the provider would have mailed to guests (invitations, cancellations)."""
        with state.locked():
            return list(state.mailed)

    @app.get("/_fake/stats")
    async def stats() -> dict[str, int]:
        return {"requests": state.requests}
