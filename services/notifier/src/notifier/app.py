"""Composition root of the notifier. Issue 4 adds templates, iCalendar invitations and SMTP;
until then it runs its broker connection and health endpoints only."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from calsync_platform.kafka import make_broker
from calsync_platform.service_app import build_service_app
from calsync_platform.settings import ServiceSettings

SERVICE_NAME = "notifier"


def create_app(settings: ServiceSettings | None = None) -> AsgiFastStream:
    settings = settings or ServiceSettings()
    broker = make_broker(settings, SERVICE_NAME)
    return build_service_app(broker, SERVICE_NAME, "Meeting invitations (iCalendar over SMTP).")
