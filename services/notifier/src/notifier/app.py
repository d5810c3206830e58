"""Composition root of the notifier: invitation requests from crm-api's outbox in, mails out
through SMTP, each once; outcomes published for the CRM's delivery log."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from sqlalchemy.ext.asyncio import create_async_engine

from calsync_contracts import Envelope, Topic
from calsync_contracts.events import (
    InvitationEvent,
    InvitationFailed,
    InvitationRequested,
    InvitationSent,
)
from calsync_platform.kafka import make_broker, subscriber_options
from calsync_platform.publishing import declare_publisher, publish_event
from calsync_platform.service_app import build_service_app
from notifier.delivery import Deliverer
from notifier.delivery_log import DeliveryLog
from notifier.settings import NotifierSettings
from notifier.smtp import SmtpSender

SERVICE_NAME = "notifier"


def create_app(settings: NotifierSettings | None = None) -> AsgiFastStream:
    settings = settings or NotifierSettings()  # from the environment
    broker = make_broker(settings, SERVICE_NAME)
    declare_publisher(broker, InvitationSent)
    declare_publisher(broker, InvitationFailed)
    db = create_async_engine(settings.database_url, pool_size=5, pool_pre_ping=True)

    async def publish(event: Envelope) -> None:
        await publish_event(broker, event)

    deliverer = Deliverer(
        DeliveryLog(db),
        SmtpSender(settings),
        publish,
        settings.mail_domain,
        attempts=settings.smtp_retry_attempts,
        first_pause_s=settings.smtp_retry_base_seconds,
        meeting_link=settings.meeting_link,
    )

    @broker.subscriber(Topic.INVITATIONS, **subscriber_options(SERVICE_NAME))  # type: ignore[untyped-decorator]
    async def on_invitation_event(event: InvitationEvent) -> None:
        if isinstance(event, InvitationRequested):  # our own outcomes share the topic
            await deliverer.deliver(event)

    app = build_service_app(broker, SERVICE_NAME, "Meeting invitations (iCalendar over SMTP).")

    @app.on_shutdown
    async def close_database() -> None:
        await db.dispose()

    return app
