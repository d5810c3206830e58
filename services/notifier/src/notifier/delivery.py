"""Sending one invitation request: each recipient's mail once (``DeliveryLog``), temporary SMTP
failures retried with a doubling pause, permanent ones recorded and published as failed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage

from calsync_invitations.message import PreparedInvitation, message_id, prepare
from jinja2 import TemplateError

from calsync_contracts import Envelope, Origin
from calsync_contracts.events import (
    InvitationFailed,
    InvitationFailure,
    InvitationOutcome,
    InvitationRequest,
    InvitationRequested,
    InvitationSent,
    Recipient,
)
from notifier.delivery_log import DeliveryKey, DeliveryLog, DeliveryState
from notifier.smtp import Mailer, MailSender, SmtpPermanent, SmtpTemporary

Publish = Callable[[Envelope], Awaitable[None]]


@dataclass
class Deliverer:
    log: DeliveryLog
    mailer: Mailer
    publish: Publish
    domain: str
    attempts: int = 4
    first_pause_s: float = 1.0
    meeting_link: str = ""
    """``{meeting_id}`` in it is replaced: the meeting's address for ``{{ meeting.link }}``."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def deliver(self, event: InvitationRequested) -> None:
        """Raises ``SmtpTemporary`` when a mail still fails after its tries: the consumer's retry
        (then dead-letter) policy takes over, and mails already sent are not sent again."""
        prepared: list[PreparedInvitation] = []  # made once, on the first mail to send
        async with self.mailer.session() as smtp:  # connects on the first mail to send
            for recipient in event.payload.recipients:
                await self._one(event, recipient, prepared, smtp)

    async def _one(
        self,
        event: InvitationRequested,
        recipient: Recipient,
        prepared: list[PreparedInvitation],
        smtp: MailSender,
    ) -> None:
        request = event.payload
        key = DeliveryKey.of(
            request.meeting_id, request.meeting_version, request.method.value, recipient.email
        )
        mail_id = message_id(request, recipient, self.domain)
        if await self.log.claim(key, event.tenant_id, mail_id) is not DeliveryState.SENDING:
            return  # sent (or refused for good) before: a redelivery
        outcome = InvitationOutcome(
            meeting_id=request.meeting_id,
            meeting_version=request.meeting_version,
            method=request.method,
            recipient=recipient,
            message_id=mail_id,
        )
        try:
            if not prepared:
                prepared.append(prepare(self._linked(request), self.domain, self.clock()))
            mail = prepared[0].mail_for(recipient)
            await self._send(smtp, key, mail)
        except (SmtpPermanent, TemplateError, ValueError) as refused:
            await self.log.failed(key, str(refused))
            failure = InvitationFailure(**outcome.model_dump(), reason=str(refused), permanent=True)
            await self.publish(InvitationFailed(**_caused(event), payload=failure))
            return
        await self.log.sent(key)
        await self.publish(InvitationSent(**_caused(event), payload=outcome))

    def _linked(self, request: InvitationRequest) -> InvitationRequest:
        if not self.meeting_link or request.merge.link:
            return request
        link = self.meeting_link.replace("{meeting_id}", str(request.meeting_id))
        return request.model_copy(update={"merge": request.merge.model_copy(update={"link": link})})

    async def _send(self, smtp: MailSender, key: DeliveryKey, mail: EmailMessage) -> None:
        pause = self.first_pause_s
        for attempt in range(1, self.attempts + 1):
            try:
                await smtp.send(mail)
                return
            except SmtpTemporary as temporary:
                await self.log.attempted(key, str(temporary))
                if attempt == self.attempts:
                    raise
                await self.sleep(pause)
                pause *= 2


def _caused(event: InvitationRequested) -> dict[str, object]:
    return {**event.caused(), "origin": Origin.crm()}
