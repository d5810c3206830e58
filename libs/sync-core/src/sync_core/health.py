"""Per-connection state machine (Twenty's channel state machine, docs/sync-engine.md).

::

    pending ──▶ syncing ──▶ in_sync
                  │  ▲
                  ▼  │ (retry_at reached)
               throttled ──(5 temporary failures)──▶ failed (retried every 30 min)
                  │
               needs_reauth (credentials refused: waits for the user to reconnect)

Temporary errors (429, 5xx, network) pause 1 min * 2^(n-1), capped at an hour, and never less
than the provider's Retry-After. Every state is published, so the CRM's sync indicator is true.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from calsync_contracts.events import ConnectionState
from sync_core.errors import AuthError, SuddenlyEmpty, TemporaryError, Unreachable

MAX_TEMPORARY_FAILURES = 5
FAILED_RETRY = timedelta(minutes=30)
FIRST_PAUSE = timedelta(minutes=1)
LONGEST_PAUSE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Health:
    state: ConnectionState = ConnectionState.PENDING
    failures: int = 0
    retry_at: datetime | None = None
    message: str = ""
    last_success_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        if self.state is ConnectionState.NEEDS_REAUTH:
            return False
        return self.retry_at is None or now >= self.retry_at


def started(health: Health) -> Health:
    return replace(health, state=ConnectionState.SYNCING)


def succeeded(health: Health, now: datetime, note: str = "") -> Health:
    return Health(ConnectionState.IN_SYNC, 0, None, note, now)


def failed(
    health: Health, error: Exception, now: datetime, first_pause: timedelta = FIRST_PAUSE
) -> Health:
    if isinstance(error, AuthError):
        return replace(
            health,
            state=ConnectionState.NEEDS_REAUTH,
            retry_at=None,
            message="The calendar server refused the saved credentials: reconnect your account.",
        )
    if isinstance(error, TemporaryError):
        return _temporary(health, error, now, first_pause)
    return replace(
        health,
        state=ConnectionState.FAILED,
        failures=health.failures + 1,
        retry_at=now + FAILED_RETRY,
        message=_describe(error),
    )


def _temporary(
    health: Health, error: TemporaryError, now: datetime, first_pause: timedelta
) -> Health:
    failures = health.failures + 1
    if failures >= MAX_TEMPORARY_FAILURES:
        state, pause = ConnectionState.FAILED, FAILED_RETRY
    else:
        state, pause = (
            ConnectionState.THROTTLED,
            min(first_pause * 2 ** (failures - 1), LONGEST_PAUSE),
        )
    if error.retry_after_seconds is not None:
        pause = max(pause, timedelta(seconds=error.retry_after_seconds))
    return replace(
        health, state=state, failures=failures, retry_at=now + pause, message=_describe(error)
    )


def _describe(error: Exception) -> str:
    if isinstance(error, Unreachable):
        return "The calendar server cannot be reached; retrying automatically."
    if isinstance(error, TemporaryError):
        return "The calendar server asked us to slow down or is busy; retrying automatically."
    if isinstance(error, SuddenlyEmpty):
        return (
            "The calendar suddenly looks empty; nothing was deleted. "
            "Check the account or calendar, then synchronise again."
        )
    return f"Synchronisation failed: {error}"
