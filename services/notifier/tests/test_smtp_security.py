"""The SMTP hand-off with STARTTLS (RFC 3207) and a login (RFC 4954), against a real server
that requires both. A relay we cannot use as configured never fails a mail for good: it is
retried (then dead-lettered), so it goes once the configuration is fixed."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from calsync_localinfra.smtp import LocalSmtp
from notifier.settings import NotifierSettings, SmtpSecurity
from notifier.smtp import SmtpPermanent, SmtpSender, SmtpTemporary

LOGIN, PASSWORD = "notifier", "relay-password"


@pytest.fixture(scope="module")
def secure_smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSmtp]:
    folder: Path = tmp_path_factory.mktemp("secure-smtp")
    with LocalSmtp(folder, starttls=True, users={LOGIN: PASSWORD}) as server:
        yield server


def mail() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "owner@crm.test"
    message["To"] = "ann@example.com"
    message["Subject"] = "Invitation"
    message.set_content("hello")
    return message


def sender(server: LocalSmtp, **changes: object) -> SmtpSender:
    values: dict[str, object] = {
        "smtp_host": server.host,
        "smtp_port": server.port,
        "smtp_security": SmtpSecurity.STARTTLS,
        "smtp_username": LOGIN,
        "smtp_password": PASSWORD,
        "smtp_ca_file": str(server.ca_file),
    }
    values.update(changes)
    return SmtpSender(NotifierSettings.model_validate(values))


async def test_starttls_and_login_deliver(secure_smtp: LocalSmtp) -> None:
    secure_smtp.clear()
    await sender(secure_smtp).send(mail())
    assert [m["Subject"] for m in secure_smtp.messages()] == ["Invitation"]


async def test_a_wrong_password_is_retried_not_a_refused_mail(secure_smtp: LocalSmtp) -> None:
    """The relay's configuration is wrong, not the mail: retried, then dead-lettered."""
    with pytest.raises(SmtpTemporary, match="login refused: 535"):
        await sender(secure_smtp, smtp_password="wrong").send(mail())


async def test_plain_text_where_tls_is_required_is_refused(secure_smtp: LocalSmtp) -> None:
    """The server offers no login before STARTTLS (RFC 4954 §4): a configuration error."""
    with pytest.raises(SmtpTemporary, match="not supported"):
        await sender(secure_smtp, smtp_security=SmtpSecurity.NONE).send(mail())


async def test_an_untrusted_certificate_is_not_talked_to(secure_smtp: LocalSmtp) -> None:
    with pytest.raises((SmtpTemporary, SmtpPermanent), match=r"(?i)certificate"):
        await sender(secure_smtp, smtp_ca_file="").send(mail())
