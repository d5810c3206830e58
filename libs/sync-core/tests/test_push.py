"""Which push channels to open and to stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sync_core.push import PushChannel, plan_channels

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
ADDRESS = "https://sync.example.com/webhooks/google"
CONNECTION = uuid4()


def channel(calendar: str, days: float, address: str = ADDRESS) -> PushChannel:
    return PushChannel(
        uuid4().hex, CONNECTION, calendar, "res", address, NOW + timedelta(days=days)
    )


def test_every_chosen_calendar_gets_a_channel_once() -> None:
    plan = plan_channels([], ["a", "b", "a"], ADDRESS, NOW)
    assert plan.open == ["a", "b"]
    assert plan.stop == []


def test_a_lasting_channel_is_kept_and_one_expiring_soon_is_replaced() -> None:
    lasting, expiring = channel("a", 6), channel("b", 0.5)
    plan = plan_channels([lasting, expiring], ["a", "b"], ADDRESS, NOW)
    assert plan.open == ["b"]
    assert plan.stop == [expiring]


def test_channels_of_dropped_calendars_or_an_old_address_stop() -> None:
    dropped, moved = channel("gone", 6), channel("a", 6, address="https://old.example.com/")
    plan = plan_channels([dropped, moved], ["a"], ADDRESS, NOW)
    assert plan.open == ["a"]
    assert set(plan.stop) == {dropped, moved}


def test_of_two_channels_for_one_calendar_the_longer_lasting_is_kept() -> None:
    older, newer = channel("a", 3), channel("a", 7)
    plan = plan_channels([older, newer], ["a"], ADDRESS, NOW)
    assert plan.open == []
    assert plan.stop == [older]


def test_no_address_means_no_push() -> None:
    existing = [channel("a", 6)]
    plan = plan_channels(existing, ["a"], None, NOW)
    assert plan.open == []
    assert plan.stop == existing
