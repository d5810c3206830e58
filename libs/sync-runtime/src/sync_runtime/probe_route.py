"""``POST /internal/probe``: crm-api asks this sync service to test a connection before saving
it (libs/contracts ``internal.py``). A plain ASGI app, authenticated by the internal token."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import ValidationError

from calsync_contracts.internal import ProbeRequest, ProbeResult

Probe = Callable[[ProbeRequest], Awaitable[ProbeResult]]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 64 * 1024


def probe_route(probe: Probe, token: str) -> ASGIApp:
    expected = f"Bearer {token}".encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _respond(send, 405, b'{"detail":"use POST"}')
            return
        headers = dict(scope.get("headers") or [])
        if not hmac.compare_digest(headers.get(b"authorization", b""), expected):
            await _respond(send, 401, b'{"detail":"internal token required"}')
            return
        body = await _body(receive)
        if body is None:
            await _respond(send, 413, b'{"detail":"request too large"}')
            return
        try:
            request = ProbeRequest.model_validate_json(body)
        except ValidationError as error:
            detail = error.json(include_url=False, include_input=False).encode()
            await _respond(send, 422, b'{"detail":' + detail + b"}")
            return
        result = await probe(request)
        await _respond(send, 200, result.model_dump_json().encode())

    return app


async def _body(receive: Receive) -> bytes | None:
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
