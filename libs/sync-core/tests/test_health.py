"""The per-connection health state machine, one named test per rule of ``sync_core.health``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calsync_contracts.events import ConnectionState
from sync_core.errors import (
    AuthError,
    NotACalendarServer,
    SuddenlyEmpty,
    TemporaryError,
    Unreachable,
)
from sync_core.health import (
    FAILED_RETRY,
    FIRST_PAUSE,
    LONGEST_PAUSE,
    MAX_TEMPORARY_FAILURES,
    Health,
    failed,
    started,
    succeeded,
)

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def failing(times: int, error: Exception | None = None) -> Health:
    health = Health()
    for _ in range(times):
        health = failed(started(health), error or TemporaryError("503"), NOW)
    return health


def test_a_new_connection_is_pending_and_due() -> None:
    health = Health()
    assert health.state is ConnectionState.PENDING
    assert health.due(NOW)


def test_starting_a_pass_is_syncing() -> None:
    assert started(Health()).state is ConnectionState.SYNCING


def test_success_is_in_sync_and_clears_failures() -> None:
    health = succeeded(failing(3), NOW, "1 item could not be read")
    assert health == Health(ConnectionState.IN_SYNC, 0, None, "1 item could not be read", NOW)
    assert health.due(NOW)


@pytest.mark.parametrize(
    ("failures", "pause"),
    [(1, FIRST_PAUSE), (2, 2 * FIRST_PAUSE), (3, 4 * FIRST_PAUSE), (4, 8 * FIRST_PAUSE)],
)
def test_temporary_failure_throttles_with_exponential_pause(
    failures: int, pause: timedelta
) -> None:
    health = failing(failures)
    assert health.state is ConnectionState.THROTTLED
    assert health.failures == failures
    assert health.retry_at == NOW + pause
    assert not health.due(NOW + pause - timedelta(seconds=1))
    assert health.due(NOW + pause)


def test_retry_after_is_honoured_when_longer_than_the_pause() -> None:
    health = failed(Health(), TemporaryError("429", retry_after_seconds=600), NOW)
    assert health.state is ConnectionState.THROTTLED
    assert health.retry_at == NOW + timedelta(seconds=600)


def test_a_shorter_retry_after_does_not_shorten_the_pause() -> None:
    health = failed(Health(), TemporaryError("429", retry_after_seconds=5), NOW)
    assert health.retry_at == NOW + FIRST_PAUSE


def test_pauses_grow_and_never_exceed_an_hour() -> None:
    pauses = []
    health = Health()
    for _ in range(MAX_TEMPORARY_FAILURES - 1):
        health = failed(health, TemporaryError("503"), NOW)
        assert health.retry_at is not None
        pauses.append(health.retry_at - NOW)
    assert pauses == sorted(pauses)
    assert max(pauses) <= LONGEST_PAUSE


def test_five_temporary_failures_fail_and_retry_every_30_minutes() -> None:
    health = failing(MAX_TEMPORARY_FAILURES)
    assert MAX_TEMPORARY_FAILURES == 5
    assert health.state is ConnectionState.FAILED
    assert health.retry_at == NOW + FAILED_RETRY
    assert health.retry_at - NOW == timedelta(minutes=30)
    assert "retrying automatically" in health.message


def test_auth_error_needs_reauth_and_is_never_due() -> None:
    health = failed(failing(2), AuthError("401"), NOW)
    assert health.state is ConnectionState.NEEDS_REAUTH
    assert health.retry_at is None
    assert "reconnect" in health.message
    assert not health.due(NOW)
    assert not health.due(NOW + timedelta(days=30))


def test_reconnecting_after_reauth_starts_again() -> None:
    health = failed(Health(), AuthError("401"), NOW)
    assert succeeded(started(health), NOW).state is ConnectionState.IN_SYNC


@pytest.mark.parametrize(
    "error", [SuddenlyEmpty("empty"), NotACalendarServer("html"), RuntimeError("bug")]
)
def test_other_errors_fail_and_retry_in_30_minutes(error: Exception) -> None:
    health = failed(Health(), error, NOW)
    assert health.state is ConnectionState.FAILED
    assert health.failures == 1
    assert health.retry_at == NOW + FAILED_RETRY


def test_suddenly_empty_tells_the_user_nothing_was_deleted() -> None:
    health = failed(Health(), SuddenlyEmpty("empty"), NOW)
    assert "nothing was deleted" in health.message


def test_unreachable_says_so() -> None:
    health = failed(Health(), Unreachable("dns"), NOW)
    assert health.state is ConnectionState.THROTTLED
    assert "cannot be reached" in health.message


def test_messages_never_leak_temporary_error_details() -> None:
    health = failed(Health(), TemporaryError("token=secret123 refused"), NOW)
    assert "secret123" not in health.message
