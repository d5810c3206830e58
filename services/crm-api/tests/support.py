"""Helpers for crm-api integration tests, importable from any test module of this directory
with ``from .support import ...`` (pytest runs with ``--import-mode=importlib``).

- ``settings_for(url, **overrides)``: test ``Settings`` for a database URL (strong-enough JWT
  secret ``JWT_SECRET``, a fresh Fernet ``SECRETS_KEY``, ``ENVIRONMENT=test``).
- ``make_tenant(sessions, name)``: a new tenant with an admin and a plain user, inserted with
  the ORM; returns a ``TenantCallers`` (``tenant_id``, ``admin``, ``user``).
- ``token_for(caller)`` / ``auth_headers(caller)``: a bearer token signed with ``JWT_SECRET``.
- ``running_api(database_url)``: async context manager; migrates the database, starts the app
  (no background services) inside its lifespan and yields an ``Api``: ``api.sessions`` (a
  session factory on the same database), ``api.client(caller)`` (an authenticated
  ``httpx.AsyncClient``; ``None`` for anonymous, ``token=`` for any raw token),
  ``await api.tenant(name)`` (``make_tenant`` on this database). Clients close on exit.

Example::

    async def test_something(fresh_database: str) -> None:
        async with running_api(fresh_database) as api:
            acme = await api.tenant("Acme")
            response = await api.client(acme.user).get("/me")
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import NamedTuple

import httpx
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
BASE_URL = "http://crm"


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


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables that make ``Settings()`` equal ``settings`` (subprocesses)."""
    return {
        "DATABASE_URL": settings.database_url,
        "JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "SECRETS_KEY": settings.secrets_key.get_secret_value(),
        "ENVIRONMENT": settings.environment.value,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
    }


def token_for(caller: Caller, ttl: timedelta = timedelta(hours=1)) -> str:
    return mint_token(JWT_SECRET, caller, ttl)


def auth_headers(caller: Caller) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(caller)}"}


class TenantCallers(NamedTuple):
    tenant_id: uuid.UUID
    admin: Caller
    user: Caller


async def make_tenant(sessions: SessionFactory, name: str = "Tenant") -> TenantCallers:
    """A new tenant with an admin ("Ada Admin") and a plain user ("Ulla User"); emails are
    unique per tenant (``admin-<8 hex>@example.test``, ``user-<8 hex>@example.test``)."""
    tenant_id = uuid.uuid4()
    tag = tenant_id.hex[:8]
    admin = User(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name="Ada Admin",
        email=f"admin-{tag}@example.test",
        is_admin=True,
        time_zone="Europe/Copenhagen",
        language="en",
        display_colour="#112233",
    )
    user = User(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name="Ulla User",
        email=f"user-{tag}@example.test",
        is_admin=False,
        time_zone="Europe/Warsaw",
        language="pl",
        display_colour="#445566",
    )
    async with sessions() as session, session.begin():
        session.add(Tenant(id=tenant_id, name=name))
        await session.flush()
        session.add_all([admin, user])
    return TenantCallers(
        tenant_id, Caller(admin.id, tenant_id, True), Caller(user.id, tenant_id, False)
    )


@dataclass
class Api:
    app: FastAPI
    settings: Settings
    sessions: SessionFactory
    transport: httpx.ASGITransport
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(
        self, caller: Caller | None = None, *, token: str | None = None
    ) -> httpx.AsyncClient:
        """A client of the app; authenticated as ``caller`` or with the raw ``token``."""
        headers: dict[str, str] = {}
        if caller is not None:
            token = token_for(caller)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        client = httpx.AsyncClient(transport=self.transport, base_url=BASE_URL, headers=headers)
        self.clients.append(client)
        return client

    async def tenant(self, name: str = "Tenant") -> TenantCallers:
        return await make_tenant(self.sessions, name)


@contextlib.asynccontextmanager
async def running_api(
    database_url: str,
    *,
    migrate: bool = True,
    settings: Settings | None = None,
    sync_transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Api]:
    """The app on ``database_url`` (migrated first unless ``migrate=False``);
    ``sync_transport`` answers for the sync services' internal API."""
    if migrate:
        await asyncio.to_thread(upgrade, database_url)
    settings = settings or settings_for(database_url)
    app = create_app(settings, background=no_background, sync_transport=sync_transport)
    engine = make_engine(database_url, pool_size=2)
    try:
        async with LifespanManager(app):
            api = Api(app, settings, make_session_factory(engine), httpx.ASGITransport(app=app))
            try:
                yield api
            finally:
                for client in api.clients:
                    await client.aclose()
    finally:
        await engine.dispose()
