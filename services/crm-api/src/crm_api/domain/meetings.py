"""Pure rules for meetings written through the API (no I/O; lookups are passed in)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from calsync_contracts.meeting import AllDaySpan, CustomValue, MeetingTime, TimedSpan
from crm_api.errors import Invalid

SERIES_ARE_READ_ONLY = (
    "Recurring series are created and restructured in the user's own calendar program "
    "(Google, Outlook, …) and are read-only here: the CRM shows their occurrences and lets you "
    "edit a single occurrence, but cannot create a series or change its pattern or times."
)

MAX_MEETING_DAYS = 366


def refuse_recurrence(value: object) -> None:
    if value is not None:
        raise Invalid(("recurrence",), SERIES_ARE_READ_ONLY)


def build_time(
    *,
    all_day: bool,
    start: Any,
    end: Any,
    timezone: str | None,
    start_date: date | None,
    end_date: date | None,
) -> MeetingTime:
    """A timed or all-day span from request fields, naming the field that is wrong."""
    if all_day:
        if start_date is None:
            raise Invalid(("start_date",), "an all-day meeting needs start_date", "missing")
        end_date = end_date or start_date.fromordinal(start_date.toordinal() + 1)
        if end_date <= start_date:
            raise Invalid(
                ("end_date",),
                "end_date is exclusive and must be after start_date",
                "end_not_after_start",
            )
        _check_length(end_date.toordinal() - start_date.toordinal(), "end_date")
        return AllDaySpan(start_date=start_date, end_date=end_date)
    if start is None:
        raise Invalid(("start",), "a timed meeting needs start (or set all_day)", "missing")
    if end is None:
        raise Invalid(("end",), "a timed meeting needs end", "missing")
    if end <= start:
        raise Invalid(("end",), "end must be after start", "end_not_after_start")
    _check_length((end - start).days, "end")
    zone = timezone or "UTC"
    try:
        return TimedSpan(start=start, end=end, timezone=zone)
    except ValueError:
        raise Invalid(
            ("timezone",), f"unknown IANA time zone {zone!r}", "unknown_time_zone"
        ) from None


def _check_length(days: int, field: str) -> None:
    if days > MAX_MEETING_DAYS:
        raise Invalid(
            (field,), f"a meeting may last at most {MAX_MEETING_DAYS} days", "meeting_too_long"
        )


def validate_custom_fields(
    values: Mapping[str, Any],
    definitions: Mapping[str, tuple[str, list[str], bool]],
    *,
    require_all: bool,
) -> dict[str, CustomValue]:
    """Checks values against definitions ``key → (type, choices, required)``; returns them in
    their JSON form (dates as ISO strings)."""
    clean: dict[str, CustomValue] = {}
    for key, value in values.items():
        if key not in definitions:
            raise Invalid(("custom_fields", key), f"unknown custom field {key!r}")
        kind, choices, _ = definitions[key]
        clean[key] = _check_value(key, kind, choices, value)
    if require_all:
        for key, (_, _, required) in definitions.items():
            if required and clean.get(key) in (None, ""):
                raise Invalid(("custom_fields", key), f"custom field {key!r} is required")
    return clean


def _check_value(key: str, kind: str, choices: list[str], value: Any) -> CustomValue:
    loc: tuple[str | int, ...] = ("custom_fields", key)
    if value is None:
        return None
    if kind == "text" and isinstance(value, str) and len(value) <= 2000:
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "choice" and value in choices:
        return str(value)
    if kind == "date" and isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise Invalid(loc, f"{key!r} must be a date (YYYY-MM-DD)") from None
    expected = {"choice": f"one of {choices}"}.get(kind, f"a {kind}")
    raise Invalid(loc, f"{key!r} must be {expected}")
