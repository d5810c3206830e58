"""HTTP statuses → ``sync_core.errors``, the same for every request (RFC 9110 §15)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from sync_core.errors import AuthError, ItemRefused, ProviderError, TemporaryError

_BUSY = frozenset({429, 502, 503, 504})


def raise_for_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    if status == 401:
        raise AuthError("the calendar server refused the credentials")
    if status in _BUSY or status >= 500:
        raise TemporaryError(f"{what}: server answered {status}", retry_after(response))
    if status in (400, 403, 413, 415, 422):
        raise ItemRefused(f"{what}: server refused it ({status})")
    raise ProviderError(f"{what}: server answered {status}")


def retry_after(response: httpx.Response) -> float | None:
    """RFC 9110 §10.2.3: delta-seconds or an HTTP-date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
