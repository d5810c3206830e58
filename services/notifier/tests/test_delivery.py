"""Invitations through a real SMTP server (aiosmtpd) with the delivery log on real PostgreSQL:
each mail once, temporary failures retried, permanent ones recorded and published."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from uuid import uuid4

import pytest
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from calsync_contracts import Envelope, Origin
from calsync_contracts.events import (
    InvitationFailed,
    InvitationMethod,
    InvitationRequest,
    InvitationRequested,
    InvitationSent,
    InvitationTemplate,
    Recipient,
)
from calsync_contracts.meeting import MeetingSnapshot, TimedSpan
from calsync_localinfra.smtp import LocalSmtp
from notifier.delivery import Deliverer
from notifier.delivery_log import DeliveryLog
from notifier.migrate import upgrade
from notifier.settings import NotifierSettings
from notifier.smtp import SmtpSender, SmtpTemporary
from notifier.tables import deliveries

OWNER = Recipient(email="owner@crm.test", name="Olga Owner")
ANN = Recipient(email="ann@example.com", name="Ann")
BEN = Recipient(email="ben@example.com", name="Ben")


def requested(
    method: InvitationMethod = InvitationMethod.REQUEST, version: int = 1, sequence: int = 0
) -> InvitationRequested:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    meeting = MeetingSnapshot(
        id=MEETING_ID,
        tenant_id=TENANT,
        ical_uid="m-1@crm.test",
        version=version,
        owner_user_id=uuid4(),
        subject="Kick-off",
        time=TimedSpan(start=start, end=start + timedelta(hours=1), timezone="Europe/Copenhagen"),
    )
    request = InvitationRequest(
        meeting_id=MEETING_ID,
        meeting_version=version,
        method=method,
        recipients=[ANN, BEN],
        meeting=meeting,
        sequence=sequence,
        organizer=OWNER,
        attendees=[ANN, BEN],
    )
    return InvitationRequested(tenant_id=TENANT, origin=Origin.crm(), payload=request)


MEETING_ID, TENANT = uuid4(), uuid4()


class Published(list[Envelope]):
    async def __call__(self, event: Envelope) -> None:
        self.append(event)


@pytest.fixture
async def db(fresh_database: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(upgrade, fresh_database)
    engine = create_async_engine(fresh_database)
    yield engine
    await engine.dispose()


def deliverer(db: AsyncEngine, smtp: LocalSmtp, published: Published) -> Deliverer:
    settings = NotifierSettings(smtp_host=smtp.host, smtp_port=smtp.port or 0)

    async def no_wait(_: float) -> None:
        return None

    return Deliverer(
        DeliveryLog(db), SmtpSender(settings), published, "crm.test", attempts=3, sleep=no_wait
    )


def to(mails: list[EmailMessage]) -> list[str]:
    return sorted(str(m["To"]) for m in mails)


async def test_each_recipient_gets_one_invitation_that_round_trips(
    db: AsyncEngine, smtp: LocalSmtp
) -> None:
    published = Published()
    await deliverer(db, smtp, published).deliver(requested())
    mails = smtp.messages()
    assert to(mails) == ["Ann <ann@example.com>", "Ben <ben@example.com>"]
    for mail in mails:
        part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
        [event] = Calendar.from_ical(part.get_content()).walk("VEVENT")
        assert str(event["UID"]) == "m-1@crm.test"
    assert [type(e) for e in published] == [InvitationSent, InvitationSent]
    assert smtp.connections_used() == 1  # one SMTP session per request, not one per mail


async def test_a_redelivered_request_or_a_restarted_notifier_sends_nothing_twice(
    db: AsyncEngine, smtp: LocalSmtp
) -> None:
    event = requested()
    await deliverer(db, smtp, Published()).deliver(event)
    await deliverer(db, smtp, Published()).deliver(event)  # redelivery
    restarted = deliverer(db, smtp, Published())  # a new process: only the database remains
    await restarted.deliver(event.model_copy(update={"event_id": uuid4()}))
    assert len(smtp.messages()) == 2


async def test_a_crash_after_smtp_accepted_resends_that_one_mail_with_the_same_message_id(
    db: AsyncEngine, smtp: LocalSmtp
) -> None:
    event = requested()
    first = deliverer(db, smtp, Published())

    async def crash_before_recording(key: object) -> None:
        raise RuntimeError("killed after the SMTP server accepted the mail")

    first.log.sent = crash_before_recording  # type: ignore[method-assign,assignment]
    with pytest.raises(RuntimeError):
        await first.deliver(event)
    await deliverer(db, smtp, Published()).deliver(event)
    mails = smtp.messages()
    assert to(mails) == ["Ann <ann@example.com>", "Ann <ann@example.com>", "Ben <ben@example.com>"]
    ann = [m["Message-ID"] for m in mails if "ann@" in str(m["To"])]
    assert ann[0] == ann[1]


async def test_temporary_failures_are_retried_then_sent(db: AsyncEngine, smtp: LocalSmtp) -> None:
    smtp.refuse("ann@example.com", 451, times=2)
    published = Published()
    await deliverer(db, smtp, published).deliver(requested())
    assert to(smtp.messages()) == ["Ann <ann@example.com>", "Ben <ben@example.com>"]
    async with db.connect() as connection:
        rows = (
            await connection.execute(
                select(deliveries.c.recipient, deliveries.c.attempts, deliveries.c.state)
            )
        ).all()
    assert sorted(rows) == [("ann@example.com", 3, "sent"), ("ben@example.com", 1, "sent")]


async def test_a_lasting_temporary_failure_is_left_to_the_consumers_retry(
    db: AsyncEngine, smtp: LocalSmtp
) -> None:
    smtp.refuse("ann@example.com", 421)
    with pytest.raises(SmtpTemporary):
        await deliverer(db, smtp, Published()).deliver(requested())
    smtp.clear()  # the server recovers; the consumer delivers the record again
    await deliverer(db, smtp, Published()).deliver(requested())
    assert to(smtp.messages()) == ["Ann <ann@example.com>", "Ben <ben@example.com>"]


async def test_a_permanent_failure_is_recorded_published_and_blocks_no_one(
    db: AsyncEngine, smtp: LocalSmtp
) -> None:
    smtp.refuse("ann@example.com", 550)
    published = Published()
    await deliverer(db, smtp, published).deliver(requested())
    assert to(smtp.messages()) == ["Ben <ben@example.com>"]
    assert smtp.connections_used() == 1  # the refused transaction was reset, the session went on
    failed = [e for e in published if isinstance(e, InvitationFailed)]
    assert [f.payload.recipient.email for f in failed] == ["ann@example.com"]
    assert failed[0].payload.permanent
    assert "550" in failed[0].payload.reason
    await deliverer(db, smtp, Published()).deliver(requested())  # not retried later either
    assert len(smtp.messages()) == 1


async def test_a_new_version_and_a_cancel_are_new_mails(db: AsyncEngine, smtp: LocalSmtp) -> None:
    await deliverer(db, smtp, Published()).deliver(requested())
    await deliverer(db, smtp, Published()).deliver(requested(version=2, sequence=1))
    await deliverer(db, smtp, Published()).deliver(
        requested(InvitationMethod.CANCEL, version=3, sequence=2)
    )
    methods = []
    for mail in smtp.messages():
        part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
        calendar = Calendar.from_ical(part.get_content())
        [event] = calendar.walk("VEVENT")
        methods.append((str(calendar["METHOD"]), int(event["SEQUENCE"])))
    assert sorted(methods) == [("CANCEL", 2)] * 2 + [("REQUEST", 0)] * 2 + [("REQUEST", 1)] * 2


async def test_the_meeting_link_is_merged_from_configuration(
    db: AsyncEngine, smtp: LocalSmtp
) -> None:
    event = requested()
    template = InvitationTemplate(subject="x", body="<a href='{{ meeting.link }}'>open</a>")
    event = event.model_copy(
        update={"payload": event.payload.model_copy(update={"template": template})}
    )
    sender = deliverer(db, smtp, Published())
    sender.meeting_link = "https://crm.example.com/meetings/{meeting_id}"
    await sender.deliver(event)
    html = next(p for p in smtp.messages()[0].walk() if p.get_content_type() == "text/html")
    assert f"https://crm.example.com/meetings/{MEETING_ID}" in html.get_content()
