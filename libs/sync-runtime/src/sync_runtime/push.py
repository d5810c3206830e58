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
from urllib.parse import parse_qs
from uuid import UUID, uuid4

from calsync_platform.logs import get_logger
from sync_core.errors import ProviderError
from sync_core.ports import PushPort
from sync_core.push import PushChannel, plan_channels
from sync_runtime.probe_route import ASGIApp, Receive, Scope, Send, read_body
from sync_store.push_channels import PushChannelStore

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Notification:
    channel_id: str
    token: str
    initial: bool
    """The handshake a provider sends when a channel opens: nothing changed."""


@dataclass(frozen=True, slots=True)
class Handshake:
    """A provider checking the address before it sends anything (Graph's ``validationToken``):
    answered 200 with ``echo`` as plain text."""

    echo: str


Reply = Callable[[bool], tuple[bytes, bytes]]
"""The answer body and its content type a provider expects, given whether the channels named
are still kept (EWS: ``SendNotificationResult`` OK, or Unsubscribe to end its subscription)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a provider's request to the webhook says: its notifications (Google sends one per
    request in headers, Graph several in a JSON body, EWS one SOAP request), or a handshake."""

    notifications: list[Notification]
    handshake: Handshake | None = None
    reply: Reply | None = None
    """How to answer, for a provider that wants more than a status code."""


NotificationReader = Callable[[Mapping[str, str], Mapping[str, str], bytes], Delivery | None]
"""Reads a provider's request (headers, query, body); None when it is none of its."""


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
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        body = await read_body(receive)
        delivery = push.read(headers, query, body or b"") if scope["method"] == "POST" else None
        if delivery is None or body is None:
            await _answer(send, 400)
            return
        if delivery.handshake is not None:
            await _answer(send, 200, delivery.handshake.echo.encode(), b"text/plain")
            return
        notes = delivery.notifications
        if any(
            not hmac.compare_digest(n.token, channel_token(push.key, n.channel_id)) for n in notes
        ):
            await _answer(send, 401)
            return
        owners = {n.channel_id: await store.connection_of(n.channel_id) for n in notes}
        for connection_id in {owners[n.channel_id] for n in notes if not n.initial}:
            if connection_id is not None:
                await request_sync(connection_id)
        if delivery.reply is not None:
            body, kind = delivery.reply(all(owner is not None for owner in owners.values()))
            await _answer(send, 200, body, kind)
            return
        await _answer(send, 202 if len(notes) != 1 else 200)

    return app


async def _answer(send: Send, status: int, body: bytes = b"", kind: bytes = b"") -> None:
    headers = [(b"content-type", kind)] if kind else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
