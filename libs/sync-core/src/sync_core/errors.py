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


class ProviderError(Exception):
    """Base of every provider failure an adapter reports."""


class TemporaryError(ProviderError):
    def __init__(self, message: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Unreachable(TemporaryError):
    pass


class AuthError(ProviderError):
    pass


class CursorInvalid(ProviderError):
    pass


class PreconditionFailed(ProviderError):
    pass


class AlreadyExists(PreconditionFailed):
    def __init__(self, external_id: str) -> None:
        super().__init__(f"{external_id} already exists")
        self.external_id = external_id


class SuddenlyEmpty(ProviderError):
    pass


class ItemRefused(ProviderError):
    pass


class NotACalendarServer(ProviderError):
    pass


class UnreadableItem(Exception):
    """A provider item that cannot be parsed; carries a message safe to show a user."""
