"""Composition root of sync-caldav."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from calsync_contracts import Provider
from calsync_platform.settings import ServiceSettings
from calsync_platform.sync_skeleton import build_skeleton_sync_service

SERVICE_NAME = "sync-caldav"


def create_app(settings: ServiceSettings | None = None) -> AsgiFastStream:
    settings = settings or ServiceSettings()
    return build_skeleton_sync_service(settings, Provider.CALDAV, SERVICE_NAME)
