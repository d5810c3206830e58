"""Errors the service layer raises, mapped to HTTP by ``entrypoints.http.errors``.

CrmError
├── NotFound          404 — also for another tenant's object: its existence is not revealed
├── Forbidden         403 — authenticated, not allowed (admin-only endpoints)
├── Invalid           422 — names the offending field (``loc``)
├── VersionMismatch   412 — If-Match does not match the current version
└── Conflict          409 — a uniqueness rule (e.g. a calendar claimed twice)
"""

from __future__ import annotations


class CrmError(Exception):
    status = 400


class NotFound(CrmError):
    status = 404

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")


class Forbidden(CrmError):
    status = 403


class Invalid(CrmError):
    """422 at a field. ``code`` is the error's ``type`` in the response, as pydantic's are
    ("missing", "string_too_short"): clients word it in their user's language by the code, not
    by our English ``msg``."""

    status = 422

    def __init__(self, loc: tuple[str | int, ...], message: str, code: str = "value_error") -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.code = code


class VersionMismatch(CrmError):
    status = 412


class Conflict(CrmError):
    status = 409
