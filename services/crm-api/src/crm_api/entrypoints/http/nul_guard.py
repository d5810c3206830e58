"""Refuses text containing NUL characters with a 422 naming where it is.

PostgreSQL text cannot hold U+0000 ("invalid byte sequence for encoding UTF8: 0x00"), so such a
value would otherwise fail deep in the driver as a 500. One guard covers every query parameter
and every string anywhere in a JSON body, for all routes present and future.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

MESSAGE = "NUL characters (U+0000) are not allowed"


def nul_location(value: Any, loc: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where in a decoded JSON value a NUL character is (key or string), if anywhere."""
    if isinstance(value, str):
        return loc if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return (*loc, key)
            found = nul_location(item, (*loc, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_location(item, (*loc, index))
            if found is not None:
                return found
    return None


def _refusal(loc: tuple[str | int, ...]) -> JSONResponse:
    detail = [{"loc": list(loc), "msg": MESSAGE, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def install_nul_guard(app: FastAPI) -> None:
    @app.middleware("http")
    async def refuse_nul(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        for name, value in request.query_params.multi_items():
            if "\x00" in name or "\x00" in value:
                return _refusal(("query", name))
        if "\x00" in request.url.path:
            return _refusal(("path",))
        body = await request.body()
        if body and (b"\\u0000" in body or b"\x00" in body):
            try:
                decoded = json.loads(body)
            except ValueError:
                decoded = None  # not JSON: FastAPI answers that with its own 422
            found = nul_location(decoded)
            if found is not None:
                return _refusal(("body", *found))
        return await call_next(request)
