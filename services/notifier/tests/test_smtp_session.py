"""One SMTP session per invitation request (RFC 5321 §3.3: many mail transactions per
session), on a real server: mails share the connection, a refused mail does not end it, and a
connection the server dropped in between is replaced without counting as a failed try."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from calsync_localinfra.smtp import LocalSmtp
from notifier.settings import NotifierSettings
from notifier.smtp import SmtpPermanent, SmtpSender, SmtpTemporary


@pytest.fixture
def own_smtp(tmp_path: Path) -> Iterator[LocalSmtp]:
    """A server of this test's own: the tests stop and restart it."""
    with LocalSmtp(tmp_path / "smtp") as server:
        yield server


def mail(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "owner@crm.test"
    message["To"] = to
    message["Subject"] = "Invitation"
    message.set_content("hello")
    return message


def sender(server: LocalSmtp) -> SmtpSender:
    return SmtpSender(NotifierSettings(smtp_host=server.host, smtp_port=server.port or 0))


async def test_mails_of_one_session_share_one_connection(own_smtp: LocalSmtp) -> None:
    own_smtp.refuse("gone@example.com", 550)
    async with sender(own_smtp).session() as session:
        await session.send(mail("ann@example.com"))
        with pytest.raises(SmtpPermanent):
            await session.send(mail("gone@example.com"))
        await session.send(mail("ben@example.com"))
    assert session.connections_opened == 1
    assert own_smtp.connections_used() == 1
    assert len(own_smtp.messages()) == 2


async def test_a_connection_dropped_between_mails_is_replaced_at_once(
    own_smtp: LocalSmtp,
) -> None:
    async with sender(own_smtp).session() as session:
        await session.send(mail("ann@example.com"))
        own_smtp.stop()  # the server goes away, taking the open connection with it
        own_smtp.start()  # and comes back on the same port
        await session.send(mail("ben@example.com"))  # no SmtpTemporary: a fresh connection
    assert session.connections_opened == 2
    assert sorted(str(m["To"]) for m in own_smtp.messages()) == [
        "ann@example.com",
        "ben@example.com",
    ]


async def test_a_server_that_is_gone_is_a_temporary_failure_and_the_session_recovers(
    own_smtp: LocalSmtp,
) -> None:
    async with sender(own_smtp).session() as session:
        await session.send(mail("ann@example.com"))
        own_smtp.stop()
        with pytest.raises(SmtpTemporary):
            await session.send(mail("ben@example.com"))
        own_smtp.start()
        await session.send(mail("ben@example.com"))  # the next try connects afresh
    assert len(own_smtp.messages()) == 2


async def test_a_session_that_sent_nothing_opens_no_connection(own_smtp: LocalSmtp) -> None:
    """A redelivered request whose mails all went before must not even connect."""
    async with sender(own_smtp).session() as session:
        assert session.connections_opened == 0
    assert session.connections_opened == 0  # closing it opened none either
