"""Value types shared by request bodies and query parameters.

Meetings live between 1900 and 2200: outside that range times are user error, and near the ends
of Python's and PostgreSQL's ranges an offset or "the day after" would overflow (year 0 / 10000)
in the driver instead of being refused here with a 422.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)


def _date_in_range(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return value


def _datetime_in_range(value: datetime) -> datetime:
    try:
        _date_in_range(value.astimezone(UTC).date())
    except OverflowError:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}") from None
    return value


CrmDate = Annotated[date, AfterValidator(_date_in_range)]
CrmDatetime = Annotated[AwareDatetime, AfterValidator(_datetime_in_range)]
