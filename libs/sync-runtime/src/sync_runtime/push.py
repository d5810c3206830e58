"""Push notifications, provider-neutral: keeping a connection's channels open (after each
pass), and the webhook a provider calls, which turns a notification into a sync request for the
connection that owns the channel.

The channel's token is an HMAC of its id under the deployment's internal secret: the webhook
checks it without storing it (Google hands it back as ``X-Goog-Channel-Token``; a stranger who
guesses a channel id still cannot make us sync). Push is a hint: a dropped notification is
caught by the next poll.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from calsync_platform.logs import get_logger
from sync_core.errors import ProviderError
from sync_core.ports import PushPort
from sync_core.push import PushChannel, plan_channels
from sync_runtime.probe_route import ASGIApp, Receive, Scope, Send
from sync_store.push_channels import PushChannelStore

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Notification:
    channel_id: str
    token: str
    initial: bool
    """The handshake a provider sends when a channel opens: nothing changed."""


NotificationReader = Callable[[Mapping[str, str]], Notification | None]
"""Reads a provider's notification from its request headers; None when it is not one."""


@dataclass(frozen=True, slots=True)
class PushConfig:
    address: str | None
    """The public address of this service's webhook; None: push is off (polling only)."""
    key: bytes
    path: str
    read: NotificationReader


def channel_token(key: bytes, channel_id: str) -> str:
    return hmac.new(key, channel_id.encode(), hashlib.sha256).hexdigest()


async def keep_channels(
    port: object,
    store: PushChannelStore,
    push: PushConfig,
    connection_id: UUID,
    calendars: Sequence[str],
    now: datetime,
) -> None:
    """Opens, replaces and stops the connection's channels; a provider's refusal is logged,
    never a failed pass (polling still syncs)."""
    if not isinstance(port, PushPort):
        return
    plan = plan_channels(await store.of_connection(connection_id), calendars, push.address, now)
    for calendar_id in plan.open:
        assert push.address is not None  # plan_channels opens nothing without an address
        channel_id = uuid4().hex
        token = channel_token(push.key, channel_id)
        try:
            resource_id, expires_at = await port.watch(calendar_id, channel_id, token, push.address)
        except ProviderError as error:
            log.warning("push channel refused", connection_id=str(connection_id), error=str(error))
            continue
        await store.save(
            PushChannel(
                channel_id, connection_id, calendar_id, resource_id, push.address, expires_at
            )
        )
    for old in plan.stop:
        with suppress(ProviderError):
            await port.stop(old.channel_id, old.resource_id)
        await store.remove(old.channel_id)


def webhook_route(
    store: PushChannelStore,
    push: PushConfig,
    request_sync: Callable[[UUID], Awaitable[None]],
) -> ASGIApp:
    """Answers 200 to every well-formed notification (a provider retries or gives up on
    errors; there is nothing it could do about an unknown channel) and 401 to a forged one."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers") or []}
        note = push.read(headers) if scope["method"] == "POST" else None
        if note is None:
            await _answer(send, 400)
            return
        if not hmac.compare_digest(note.token, channel_token(push.key, note.channel_id)):
            await _answer(send, 401)
            return
        connection_id = await store.connection_of(note.channel_id)
        if connection_id is not None and not note.initial:
            await request_sync(connection_id)
        await _answer(send, 200)

    return app


async def _answer(send: Send, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})
