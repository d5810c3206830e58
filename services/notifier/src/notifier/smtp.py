"""Handing mails to the configured SMTP server with aiosmtplib, with SMTP's two kinds of
failure told apart (RFC 5321 §4.2.1): 4yz is temporary (try again later), 5yz permanent.

One invitation request's mails share one SMTP session: the connection, TLS handshake and login
are paid once per request, not once per recipient (RFC 5321 §3.3 allows many transactions per
session; after a refused transaction aiosmtplib sends RSET, §4.1.1.5, so the session goes on)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from notifier.settings import NotifierSettings, SmtpSecurity


class SmtpTemporary(Exception):
    """The mail may go later: 4yz, a dropped connection, a timeout — or a relay we cannot use
    as configured (login refused, STARTTLS required): retried, then dead-lettered, never
    dropped, so it goes once an operator fixes the configuration."""


class SmtpPermanent(Exception):
    """5yz for this mail or recipient: retrying would not help."""


class MailSender(Protocol):
    async def send(self, mail: EmailMessage) -> None: ...


class Mailer(Protocol):
    def session(self) -> AbstractAsyncContextManager[MailSender]: ...


_DROPPED = (aiosmtplib.SMTPServerDisconnected, ConnectionError)


class SmtpSession:
    """One connection, opened on the first mail and again after the server dropped it."""

    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings
        self._client: aiosmtplib.SMTP | None = None
        self.connections_opened = 0

    async def send(self, mail: EmailMessage) -> None:
        reused = self._client is not None
        try:
            with _translated_failures():
                try:
                    await self._send_on_open_connection(mail)
                except _DROPPED:
                    if not reused:
                        raise
                    # The server closed the connection while we rendered the next mail (an
                    # idle timeout, RFC 5321 §4.5.3.2.7): one fresh connection, not a failed try.
                    await self.close()
                    await self._send_on_open_connection(mail)
        except SmtpTemporary:
            await self.close()  # whatever state the connection is in, start afresh next time
            raise

    async def _send_on_open_connection(self, mail: EmailMessage) -> None:
        if self._client is None:
            self._client = await self._connect()
        await self._client.send_message(mail)

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=s.smtp_password.get_secret_value() or None,
            use_tls=s.smtp_security is SmtpSecurity.TLS,
            start_tls=s.smtp_security is SmtpSecurity.STARTTLS,
            timeout=s.smtp_timeout_seconds,
            cert_bundle=s.smtp_ca_file or None,
        )
        try:
            await client.connect()  # also STARTTLS and login, as configured
        except BaseException:
            client.close()  # e.g. the login was refused on an open connection
            raise
        self.connections_opened += 1
        return client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()  # QUIT is a courtesy (RFC 5321 §4.1.1.10); drop the socket


class SmtpSender:
    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings

    @asynccontextmanager
    async def session(self) -> AsyncIterator[SmtpSession]:
        session = SmtpSession(self.settings)
        try:
            yield session
        finally:
            await session.close()

    async def send(self, mail: EmailMessage) -> None:
        """One mail in a session of its own."""
        async with self.session() as session:
            await session.send(mail)


@contextmanager
def _translated_failures() -> Iterator[None]:
    try:
        yield
    except aiosmtplib.SMTPRecipientsRefused as refused:
        codes = [r.code for r in refused.recipients]
        kind = SmtpPermanent if all(500 <= c < 600 for c in codes) else SmtpTemporary
        raise kind("; ".join(f"{r.code} {r.message}" for r in refused.recipients)) from None
    except aiosmtplib.SMTPAuthenticationError as refused:
        raise SmtpTemporary(f"login refused: {refused.code} {refused.message}") from None
    except aiosmtplib.SMTPResponseException as answered:
        kind = SmtpPermanent if 500 <= answered.code < 600 else SmtpTemporary
        raise kind(f"{answered.code} {answered.message}") from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as broken:
        # Connection trouble, or a relay the client cannot use as configured (e.g. a login
        # the server offers only after STARTTLS, RFC 4954 §4).
        raise SmtpTemporary(f"{type(broken).__name__}: {broken}") from None
