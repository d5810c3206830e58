"""Composition root of sync-google."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from calsync_contracts import Provider
from calsync_platform.settings import ServiceSettings
from calsync_platform.sync_skeleton import build_skeleton_sync_service

SERVICE_NAME = "sync-google"


def create_app(settings: ServiceSettings | None = None) -> AsgiFastStream:
    settings = settings or ServiceSettings()
    return build_skeleton_sync_service(settings, Provider.GOOGLE, SERVICE_NAME)
