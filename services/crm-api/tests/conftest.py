"""crm-api test fixtures: a migrated database per test and an in-process API on it.

``api`` gives an ``ApiWorld``: the app (no background services: the outbox is read directly),
its session factory, and ``client(caller)`` for an authenticated httpx client.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest_asyncio
from asgi_lifespan import LifespanManager
from cryptography.fernet import Fernet
from fastapi import FastAPI

from crm_api.adapters.database import SessionFactory, make_engine, make_session_factory
from crm_api.adapters.orm import Tenant, User
from crm_api.auth import Caller, mint_token
from crm_api.bootstrap import create_app, no_background
from crm_api.migrate import upgrade
from crm_api.settings import Settings

JWT_SECRET = "test-jwt-secret-of-at-least-32-bytes!"


def settings_for(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "jwt_secret": JWT_SECRET,
        "secrets_key": Fernet.generate_key().decode(),
        "environment": "test",
        "kafka_bootstrap_servers": "127.0.0.1:1",
    }
    values.update(overrides)
    return Settings.model_validate(values)


@dataclass
class ApiWorld:
    app: FastAPI
    sessions: SessionFactory
    transport: httpx.ASGITransport
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, caller: Caller | None) -> httpx.AsyncClient:
        headers = {}
        if caller is not None:
            token = mint_token(JWT_SECRET, caller, timedelta(hours=1))
            headers["Authorization"] = f"Bearer {token}"
        client = httpx.AsyncClient(transport=self.transport, base_url="http://crm", headers=headers)
        self.clients.append(client)
        return client

    async def tenant(self, name: str = "Tenant") -> tuple[Caller, Caller]:
        """A new tenant with an admin and a plain user; returns their callers."""
        tenant_id = uuid.uuid4()
        admin = User(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            name="Ada Admin",
            email=f"admin-{tenant_id.hex[:8]}@example.test",
            is_admin=True,
            time_zone="Europe/Copenhagen",
            language="en",
            display_colour="#112233",
        )
        user = User(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            name="Ulla User",
            email=f"user-{tenant_id.hex[:8]}@example.test",
            is_admin=False,
            time_zone="Europe/Warsaw",
            language="pl",
            display_colour="#445566",
        )
        async with self.sessions() as session, session.begin():
            session.add(Tenant(id=tenant_id, name=name))
            await session.flush()
            session.add_all([admin, user])
        return (Caller(admin.id, tenant_id, True), Caller(user.id, tenant_id, False))


@pytest_asyncio.fixture(loop_scope="session")
async def migrated_database(fresh_database: str) -> str:
    await asyncio.to_thread(upgrade, fresh_database)
    return fresh_database


@pytest_asyncio.fixture(loop_scope="session")
async def api(migrated_database: str) -> AsyncIterator[ApiWorld]:
    app = create_app(settings_for(migrated_database), background=no_background)
    engine = make_engine(migrated_database, pool_size=2)
    async with LifespanManager(app):
        world = ApiWorld(app, make_session_factory(engine), httpx.ASGITransport(app=app))
        yield world
        for client in world.clients:
            await client.aclose()
    await engine.dispose()
