"""crm-api test fixtures. ``api``: the app (no background services: tests read the outbox
directly) on a freshly migrated database, from ``support.running_api``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from .support import Api, running_api


@pytest_asyncio.fixture(loop_scope="session")
async def api(fresh_database: str) -> AsyncIterator[Api]:
    async with running_api(fresh_database) as world:
        yield world
