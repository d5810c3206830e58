"""Handing a mail to the configured SMTP server with aiosmtplib, with SMTP's two kinds of
failure told apart (RFC 5321 §4.2.1): 4yz is temporary (try again later), 5yz permanent."""

from __future__ import annotations

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


class SmtpSender:
    def __init__(self, settings: NotifierSettings) -> None:
        self.settings = settings

    async def send(self, mail: EmailMessage) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                mail,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password.get_secret_value() or None,
                use_tls=s.smtp_security is SmtpSecurity.TLS,
                start_tls=s.smtp_security is SmtpSecurity.STARTTLS,
                timeout=s.smtp_timeout_seconds,
                cert_bundle=s.smtp_ca_file or None,
            )
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
