"""Google's push notifications as the shared webhook reads them ("Push notifications",
Calendar API v3): no body, only headers. ``X-Goog-Resource-State: sync`` is the handshake sent
when a channel opens; ``exists`` / ``not_exists`` say something changed."""

from __future__ import annotations

from collections.abc import Mapping

from sync_runtime.push import Delivery, Notification

WEBHOOK_PATH = "/webhooks/google"


def read_notification(
    headers: Mapping[str, str], query: Mapping[str, str], body: bytes
) -> Delivery | None:
    channel_id = headers.get("x-goog-channel-id")
    state = headers.get("x-goog-resource-state")
    if not channel_id or not state:
        return None
    token = headers.get("x-goog-channel-token", "")
    return Delivery([Notification(channel_id, token, state == "sync")])
