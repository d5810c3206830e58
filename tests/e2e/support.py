"""Helpers shared by the end-to-end journeys (``from .support import eventually``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout_s: float = 60, what: str = ""
) -> Any:
    """Polls ``check`` until it returns something truthy (and returns it), or fails the test:
    the systems under test tell no one when they are done."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)
