"""One mailbox on an Exchange Server, reached through EWS with exchangelib, and the translation of
exchangelib's errors into the adapter errors the engine understands (``sync_core.errors``).

exchangelib is synchronous: every call runs in a worker thread (``Mailbox.run``), so a slow
Exchange never blocks the service's event loop.

- Authentication: exchangelib asks the server which scheme it offers (``auth_type=None``: NTLM,
  Basic, …) with the user's login and password, or a service account's.
- Impersonation: a service account holding the ApplicationImpersonation role acts for the
  mailbox (the ``ExchangeImpersonation`` SOAP header), as "Configure impersonation" in the EWS
  documentation describes; otherwise the login is the mailbox's own (delegate access).
- Requests name the Exchange2016 schema, which Exchange 2016, 2019 and Subscription Edition
  serve (EWS ``RequestServerVersion``); older servers are out of support (ADR 13).
- Throttling (``ErrorServerBusy``) is reported with the server's back-off, not retried in the
  thread: the engine pauses the connection (``TemporaryError.retry_after_seconds``).
- exchangelib logs every request's headers at DEBUG, Basic authentication's ``Authorization``
  among them, and every answer's XML (the mailbox's meetings): its loggers stay at WARNING
  whatever the service's level.
- Any other exchangelib error is a ``ProviderError``: nothing but ``sync_core.errors`` leaves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import exchangelib
from exchangelib import errors as ews_errors
from exchangelib.protocol import FailFast, Protocol
from exchangelib.version import EXCHANGE_2016, Version
from requests.exceptions import RequestException

from calsync_contracts.internal import Credentials
from sync_core.errors import AuthError, ProviderError, TemporaryError, Unreachable

T = TypeVar("T")

TEMPORARY = (
    ews_errors.ErrorServerBusy,
    ews_errors.ErrorTimeoutExpired,
    ews_errors.ErrorInternalServerTransientError,
    ews_errors.ErrorMailboxStoreUnavailable,
    ews_errors.RateLimitError,
)
REFUSED = (
    ews_errors.UnauthorizedError,
    ews_errors.ErrorAccessDenied,
    ews_errors.ErrorImpersonateUserDenied,
    ews_errors.ErrorNonExistentMailbox,
)


QUIET = "exchangelib"
"""exchangelib's loggers: DEBUG lines carry the Authorization header and mailbox contents."""


class Mailbox:
    """An exchangelib ``Account`` for the connection's mailbox, opened per sync pass."""

    def __init__(self, server_url: str, credentials: Credentials) -> None:
        logging.getLogger(QUIET).setLevel(logging.WARNING)
        mailbox = credentials.mailbox or credentials.username
        if "@" not in mailbox:
            raise AuthError("the connection names no mailbox address: connect it again")
        self.config = exchangelib.Configuration(
            service_endpoint=server_url,
            credentials=exchangelib.Credentials(
                credentials.username, credentials.secret.get_secret_value()
            ),
            auth_type=None,
            version=Version(build=EXCHANGE_2016),
            retry_policy=FailFast(),
            max_connections=2,
        )
        self.account = exchangelib.Account(
            primary_smtp_address=mailbox,
            config=self.config,
            autodiscover=False,
            access_type=exchangelib.IMPERSONATION
            if credentials.impersonate
            else exchangelib.DELEGATE,
            default_timezone=exchangelib.UTC,
        )

    async def run(self, work: Callable[[], T]) -> T:
        """``work`` (exchangelib calls) in a worker thread, its errors translated."""
        return await asyncio.to_thread(self._translated, work)

    def _translated(self, work: Callable[[], T]) -> T:
        with translated_errors(self.config):
            return work()

    def close(self) -> None:
        """Idle connections closed; the protocol stays cached for the next pass of the same
        account (exchangelib keeps one per endpoint and login, with its detected auth type)."""
        _close(self.account.protocol)


@contextmanager
def translated_errors(config: Any) -> Iterator[None]:
    try:
        yield
    except TEMPORARY as busy:
        back_off = getattr(busy, "back_off", None)
        raise TemporaryError(f"Exchange is busy: {type(busy).__name__}", back_off) from busy
    except REFUSED as refused:
        _forget_protocol(config)  # a new password or role is detected afresh next time
        raise AuthError(_refusal(refused)) from refused
    except (ews_errors.TransportError, RequestException, ConnectionError) as down:
        if isinstance(down, ews_errors.ResponseMessageError):
            raise ProviderError(f"Exchange refused the request: {type(down).__name__}") from down
        _forget_protocol(config)
        raise Unreachable(f"Exchange could not be reached ({type(down).__name__})") from down
    except ews_errors.EWSError as other:  # CASError, UnknownTimeZone, …: still a provider's
        raise ProviderError(f"Exchange failed: {type(other).__name__}") from other


def _refusal(error: Exception) -> str:
    if isinstance(error, ews_errors.ErrorImpersonateUserDenied):
        return "the service account may not act for this mailbox (impersonation not granted)"
    if isinstance(error, ews_errors.ErrorNonExistentMailbox):
        return "Exchange knows no mailbox with this address"
    if isinstance(error, ews_errors.ErrorAccessDenied):
        return "Exchange denied access to this mailbox's calendar"
    return "Exchange refused the username or password"


def _forget_protocol(config: Any) -> None:
    try:
        protocol, _ = Protocol[config]
        del Protocol[config]
    except KeyError:
        return
    if not isinstance(protocol, Exception):
        _close(protocol)


def _close(protocol: Any) -> None:
    """One protocol serves every mailbox of a login (a service account's impersonated ones in
    concurrent passes): its pool is resized under its lock, as ``Protocol.clear_cache`` does,
    or a lost update of the pool's size leaves a later request waiting forever."""
    with protocol._session_pool_lock:
        protocol.close()
