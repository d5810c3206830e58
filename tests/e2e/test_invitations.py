"""Invitations end to end: a meeting saved through the CRM API with "save and send" reaches
every participant's mailbox on a real SMTP server (aiosmtpd) as an iCalendar invitation, once;
the delivery log says so. Real crm-api, outbox relay, Kafka-protocol broker, notifier,
PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from icalendar import Calendar

from calsync_localinfra.smtp import LocalSmtp

from .support import eventually

pytestmark = pytest.mark.e2e


def slot(days: int) -> dict[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    return {
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "timezone": "Europe/Copenhagen",
    }


def mails_to(smtp: LocalSmtp, tag: str) -> list[EmailMessage]:
    return [m for m in smtp.messages() if tag in str(m["To"])]


def itip(mail: EmailMessage) -> tuple[str, Any]:
    part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    calendar = Calendar.from_ical(part.get_content())
    [event] = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), event


async def test_save_and_send_reaches_every_participant_once(stack, smtp_server: LocalSmtp) -> None:
    _, _, token = await stack.isolated_admin()
    tag = uuid.uuid4().hex[:8]
    ann, ben = f"ann-{tag}@example.com", f"ben-{tag}@example.com"
    async with httpx.AsyncClient(
        base_url=stack.api, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as api:
        template = await api.post(
            "/email-templates",
            json={
                "name": "Standard",
                "subject": "Invitation: {{ meeting.subject }}",
                "body": "<p>Dear {{ recipient.name }}, see you {{ meeting.start }}.</p>",
            },
        )
        assert template.status_code == 201, template.text
        participants = [
            {"kind": "external", "email": ann, "name": "Ann"},
            {"kind": "external", "email": ben, "name": "Ben"},
        ]
        silent = await api.post(
            "/meetings",
            json={"subject": f"Quiet {tag}", **slot(5), "participants": participants},
        )
        assert silent.status_code == 201, silent.text
        created = await api.post(
            "/meetings",
            json={
                "subject": f"Kick-off {tag}",
                **slot(3),
                "participants": participants,
                "template_id": template.json()["id"],
                "send_invitations": True,
            },
        )
        assert created.status_code == 201, created.text
        meeting = created.json()

        async def both_invited() -> list[EmailMessage] | None:
            found = mails_to(smtp_server, tag)
            return found if len(found) >= 2 else None

        mails = await eventually(both_invited, what="two invitations in the SMTP server")
        assert sorted(str(m["To"]) for m in mails) == [f"Ann <{ann}>", f"Ben <{ben}>"]
        for mail in mails:
            assert mail["Subject"] == f"Invitation: Kick-off {tag}"
            method, event = itip(mail)
            assert method == "REQUEST"
            assert str(event["UID"]) == meeting["ical_uid"]
            assert int(event["SEQUENCE"]) == 0

        moved = await api.patch(
            f"/meetings/{meeting['id']}",
            json={**slot(4), "participants": participants[:1], "send_invitations": True},
        )
        assert moved.status_code == 200, moved.text

        async def updates() -> list[EmailMessage] | None:
            found = mails_to(smtp_server, tag)
            return found if len(found) >= 4 else None

        after = await eventually(updates, what="the update and the cancellation")
        sent = [(*itip(m), str(m["To"])) for m in after]
        assert sorted((method, int(e["SEQUENCE"]), to) for method, e, to in sent) == [
            ("CANCEL", 1, f"Ben <{ben}>"),
            ("REQUEST", 0, f"Ann <{ann}>"),
            ("REQUEST", 0, f"Ben <{ben}>"),
            ("REQUEST", 1, f"Ann <{ann}>"),
        ]

        async def logged() -> list[dict[str, Any]] | None:
            log = (await api.get(f"/meetings/{meeting['id']}/invitations")).json()
            return log if len(log) == 4 else None

        log = await eventually(logged, what="the delivery log")
        assert {entry["state"] for entry in log} == {"sent"}
    # Nothing for "save without sending", nothing twice.
    assert len(mails_to(smtp_server, tag)) == 4
    assert not [m for m in smtp_server.messages() if f"Quiet {tag}" in str(m["Subject"])]
