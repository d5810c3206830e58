"""What a provider adapter may raise, so the engine reacts the same way to every provider.

::

    ProviderError
    ├── TemporaryError            pause and retry (429, 503, rate-limit 403, 5xx, network)
    │   └── Unreachable           the server could not be reached at all
    ├── AuthError                 credentials refused or revoked: the user must reconnect
    ├── CursorInvalid             the sync token / delta link is no longer valid: full re-list
    ├── PreconditionFailed        If-Match / If-None-Match refused (HTTP 412): re-fetch and merge
    │   └── AlreadyExists         a create found its chosen name taken (a retried create)
    ├── ItemRefused               the provider refused one item: record it, sync the rest
    ├── NotACalendarServer        the URL answers, but not as a calendar server
    └── SuddenlyEmpty             a full listing is empty while items are linked: abort

``UnreadableItem`` is raised by parsers (not by I/O): one provider item that cannot be understood.
It is recorded against that item and never stops the calendar's sync (Odoo #109358).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class ProviderError(Exception):
    """Base of every provider failure an adapter reports."""


class TemporaryError(ProviderError):
    def __init__(self, message: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Unreachable(TemporaryError):
    """Connection refused, DNS failure, timeout: nothing answered."""


class AuthError(ProviderError):
    """Credentials refused or revoked (401, invalid_grant): only the user can fix it."""


class CursorInvalid(ProviderError):
    """The sync token / delta link is no longer accepted: list everything again."""


class PreconditionFailed(ProviderError):
    """If-Match / If-None-Match refused (HTTP 412): someone changed the item first."""


class AlreadyExists(PreconditionFailed):
    def __init__(self, external_id: str) -> None:
        super().__init__(f"{external_id} already exists")
        self.external_id = external_id


class SuddenlyEmpty(ProviderError):
    """A full listing came back empty while items are linked: abort, delete nothing."""


class ItemRefused(ProviderError):
    """The provider refused one item (400/403/415 on a write): recorded, the rest syncs."""


class NotACalendarServer(ProviderError):
    """The address answers, but not as a calendar server (or is not allowed)."""


class UnreadableItem(Exception):
    """A provider item that cannot be parsed; carries a message safe to show a user."""


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Any failure while one provider item is read becomes ``UnreadableItem`` naming ``what``
    (pydantic's ValidationError is a ValueError): the parsers' single way out."""
    try:
        yield
    except UnreadableItem:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
        raise UnreadableItem(f"{what} could not be read ({type(error).__name__})") from error
