"""The sync services' internal routes (libs/contracts ``internal.py``): ``POST /internal/probe``,
where crm-api asks this sync service to test a connection before saving it, and any other
JSON-in, JSON-out call crm-api makes (``internal_route``). Plain ASGI apps, authenticated by the
internal token."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from calsync_contracts.internal import ProbeRequest, ProbeResult

Probe = Callable[[ProbeRequest], Awaitable[ProbeResult]]
Handler = Callable[[Any], Awaitable[BaseModel]]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 64 * 1024


class Refused(Exception):
    """A handler's "no" worth telling the caller (answered 409 with the message)."""


def probe_route(probe: Probe, token: str) -> ASGIApp:
    return internal_route(ProbeRequest, probe, token)


def internal_route(request_model: type[BaseModel], handler: Handler, token: str) -> ASGIApp:
    """POST a ``request_model`` as JSON, get the handler's model back as JSON. Secrets inside
    (``SecretStr``) are revealed in the answer only: this is the internal network's one way to
    hand them over."""
    expected = f"Bearer {token}".encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _respond(send, 405, b'{"detail":"use POST"}')
            return
        headers = dict(scope.get("headers") or [])
        if not hmac.compare_digest(headers.get(b"authorization", b""), expected):
            await _respond(send, 401, b'{"detail":"internal token required"}')
            return
        body = await read_body(receive)
        if body is None:
            await _respond(send, 413, b'{"detail":"request too large"}')
            return
        try:
            request = request_model.model_validate_json(body)
        except ValidationError as error:
            detail = error.json(include_url=False, include_input=False).encode()
            await _respond(send, 422, b'{"detail":' + detail + b"}")
            return
        try:
            result = await handler(request)
        except Refused as refused:
            await _respond(send, 409, json.dumps({"detail": str(refused)}).encode())
            return
        await _respond(send, 200, _revealed_json(result))

    return app


async def read_body(receive: Receive) -> bytes | None:
    """The request body, or None when larger than ``MAX_BODY``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _revealed_json(model: BaseModel) -> bytes:
    def reveal(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        return value

    data = model.model_dump(mode="python")
    return json.dumps(_walk(data, reveal), default=str).encode()


def _walk(value: Any, reveal: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, reveal) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, reveal) for v in value]
    return reveal(value)
