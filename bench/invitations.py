"""Invitation throughput: prints figures, asserts nothing (`make bench`).

A meeting with 10 attendees, its invitation request delivered N times (each a new meeting
version, so every mail is new):
1. rendering only: the template merged per recipient, the iTIP object and the MIME message;
2. the notifier's whole path: rendering, the delivery log on real PostgreSQL (claim, then sent),
   and the hand-off to a real SMTP server (aiosmtpd in its own process, storing to a Maildir),
   plain and with STARTTLS and a login (as a real relay asks), each with one SMTP session per
   request (the notifier) and with one connection per mail (how it was before, for comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from calsync_invitations.message import prepare
from sqlalchemy.ext.asyncio import create_async_engine

from calsync_contracts import Envelope, Origin
from calsync_contracts.events import (
    InvitationMethod,
    InvitationRequest,
    InvitationRequested,
    InvitationTemplate,
    Recipient,
)
from calsync_contracts.meeting import MeetingSnapshot, Participant, ParticipantKind, TimedSpan
from calsync_localinfra.postgres import LocalPostgres
from calsync_localinfra.smtp import LocalSmtp
from notifier.delivery import Deliverer
from notifier.delivery_log import DeliveryLog
from notifier.migrate import upgrade
from notifier.settings import NotifierSettings, SmtpSecurity
from notifier.smtp import Mailer, MailSender, SmtpSender

ATTENDEES = 10
LOGIN, PASSWORD = "notifier", "bench-password"
BODY = (
    "<p>Dear {{ recipient.name }},</p><p>you are invited to <b>{{ meeting.subject }}</b> on "
    "{{ meeting.start }} ({{ meeting.time_zone }}){% if meeting.location %} at "
    "{{ meeting.location }}{% endif %}.</p><p>With {% for o in meeting.organisations %}{{ o }}"
    "{% if not loop.last %}, {% endif %}{% endfor %}.</p><p>{{ meeting.organiser }}</p>"
)


def request(version: int) -> InvitationRequested:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
    people = [
        Recipient(
            email=f"guest{i}@example.com",
            name=f"Guest {i}",
            language=("en", "da", "de")[i % 3],
            timezone=("Europe/Copenhagen", "America/New_York", "Asia/Tokyo")[i % 3],
        )
        for i in range(ATTENDEES)
    ]
    meeting = MeetingSnapshot(
        id=MEETING_ID,
        tenant_id=TENANT,
        ical_uid="bench@crm.test",
        version=version,
        owner_user_id=uuid4(),
        subject="Quarterly review",
        location="Room 4",
        description="Results and plans.",
        time=TimedSpan(start=start, end=start + timedelta(hours=1), timezone="Europe/Copenhagen"),
        participants=[
            Participant(kind=ParticipantKind.ORGANISATION, name="Acme Ltd"),
            *(Participant(kind=ParticipantKind.PERSON, name=p.name, email=p.email) for p in people),
        ],
    )
    payload = InvitationRequest(
        meeting_id=MEETING_ID,
        meeting_version=version,
        method=InvitationMethod.REQUEST,
        recipients=people,
        meeting=meeting,
        sequence=version - 1,
        organizer=Recipient(email="owner@crm.test", name="Olga Owner"),
        attendees=people,
        template=InvitationTemplate(subject="Invitation: {{ meeting.subject }}", body=BODY),
    )
    return InvitationRequested(tenant_id=TENANT, origin=Origin.crm(), payload=payload)


MEETING_ID, TENANT = uuid4(), uuid4()


def render_only(rounds: int) -> float:
    event = request(1)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for _ in range(rounds):
        prepared = prepare(event.payload, "crm.test", now)
        for recipient in event.payload.recipients:
            prepared.mail_for(recipient).as_bytes()
    return rounds * ATTENDEES / (time.perf_counter() - started)


class ConnectionPerMail:
    """Each mail in a connection of its own: the notifier before sessions were shared."""

    def __init__(self, sender: SmtpSender) -> None:
        self.sender = sender

    def session(self) -> AbstractAsyncContextManager[MailSender]:
        return nullcontext(self.sender)


def settings_for(smtp: LocalSmtp) -> NotifierSettings:
    if not smtp.starttls:
        return NotifierSettings(smtp_host=smtp.host, smtp_port=smtp.port or 0)
    return NotifierSettings(
        smtp_host=smtp.host,
        smtp_port=smtp.port or 0,
        smtp_security=SmtpSecurity.STARTTLS,
        smtp_username=LOGIN,
        smtp_password=PASSWORD,
        smtp_ca_file=str(smtp.ca_file),
    )


async def whole_path(rounds: int, database_url: str, smtp: LocalSmtp, shared: bool) -> float:
    smtp.clear()
    await asyncio.to_thread(upgrade, database_url)
    db = create_async_engine(database_url, pool_size=5)
    sender = SmtpSender(settings_for(smtp))
    mailer: Mailer = sender if shared else ConnectionPerMail(sender)

    async def publish(_: Envelope) -> None:
        return None

    deliverer = Deliverer(DeliveryLog(db), mailer, publish, "crm.test")
    events = [request(version) for version in range(1, rounds + 1)]
    started = time.perf_counter()
    for event in events:
        await deliverer.deliver(event)
    elapsed = time.perf_counter() - started
    await db.dispose()
    delivered = len(smtp.messages())
    assert delivered == rounds * ATTENDEES, f"{delivered} mails arrived"
    return rounds * ATTENDEES / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50, help="requests of 10 attendees each")
    args = parser.parse_args()
    rendered = render_only(args.rounds)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="calsync-bench-invitations-") as tmp:
        work = Path(tmp)
        with (
            LocalPostgres(work / "pg", durable=False) as postgres,
            LocalSmtp(work / "smtp") as plain,
            LocalSmtp(work / "tls", starttls=True, users={LOGIN: PASSWORD}) as secure,
        ):
            for smtp, how in ((plain, "plain SMTP"), (secure, "STARTTLS + login")):
                for shared, per in (
                    (False, "a connection per mail"),
                    (True, "a session per request"),
                ):
                    database = postgres.create_database(f"bench_{len(figures)}")
                    path = whole_path(args.rounds, database.async_url, smtp, shared)
                    figures[f"{how}, {per}"] = asyncio.run(path)
    total = args.rounds * ATTENDEES
    print(f"\nInvitations, {ATTENDEES} attendees, {args.rounds} meeting versions ({total} mails)")
    print(f"  rendered (template, iTIP, MIME)                  {rendered:8.0f} mails/s")
    print("  rendered + logged on PostgreSQL + handed to SMTP (the notifier's whole path):")
    for what, rate in figures.items():
        print(f"    {what:46} {rate:8.0f} mails/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
