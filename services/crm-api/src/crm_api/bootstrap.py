"""Composition root: builds the app from settings, wires adapters into the routes, and runs the
background services (outbox relay, Kafka consumers) for the app's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from crm_api.adapters.database import make_engine, make_session_factory
from crm_api.adapters.secret_box import SecretBox
from crm_api.bootstrap_state import AppState
from crm_api.entrypoints.http import (
    calendar,
    connection_oauth,
    connections,
    directory,
    health,
    internal,
    meetings,
    sync_status,
    templates,
)
from crm_api.entrypoints.http.errors import install_error_handlers
from crm_api.entrypoints.http.nul_guard import install_nul_guard
from crm_api.settings import Settings

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    meetings.router,
    directory.router,
    sync_status.router,
    calendar.router,
    connections.router,
    connection_oauth.router,
    internal.router,
    templates.router,
)


class BackgroundService(Protocol):
    async def run(self) -> None: ...
    def stop(self) -> None: ...


BackgroundFactory = Callable[[AppState], list[BackgroundService]]


def no_background(_: AppState) -> list[BackgroundService]:
    return []


def create_app(
    settings: Settings,
    background: BackgroundFactory | None = None,
    sync_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``background`` builds the services run beside the API; by default the outbox relay and
    the Kafka consumers (``crm_api.messaging.runtime``). Tests of the HTTP layer alone pass
    ``no_background``; ``sync_transport`` stands in for the sync services' internal API."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, settings.db_pool_size)
        state = AppState(
            settings=settings,
            sessions=make_session_factory(engine),
            secrets=SecretBox(settings.secrets_key.get_secret_value()),
            sync_services=httpx.AsyncClient(
                transport=sync_transport, timeout=httpx.Timeout(12.0, connect=3.0)
            ),
        )
        app.state.crm = state
        services = (background or _default_background)(state)
        tasks = [asyncio.create_task(service.run()) for service in services]
        try:
            yield
        finally:
            for service in services:
                service.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            await state.sync_services.aclose()
            await engine.dispose()

    app = FastAPI(
        title="CRM API",
        version="1.0.0",
        description=(
            "Meetings and configuration of the CRM, kept in two-way sync with users' Google, "
            "Exchange and CalDAV calendars. Authenticate with a bearer token."
        ),
        lifespan=lifespan,
    )
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    install_nul_guard(app)
    mount_web_page(app, settings.web_root)
    # A server span per request, continuing an incoming W3C traceparent; the outbox row written
    # inside it carries the trace on to Kafka and every consumer (calsync_platform.telemetry).
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app


# URL path -> the prebuilt files of a package of web/package.json, under web/node_modules.
VENDOR_BUNDLES = {
    "/app/vendor/quill": Path("node_modules/quill/dist"),  # the description's editor (BSD-3)
    "/app/vendor": Path("node_modules/@event-calendar/build/dist"),  # the calendar (MIT)
}


def mount_web_page(app: FastAPI, web_root: str) -> None:
    """The CRM calendar page at /app/ (static files: it talks to this API like any client) and
    its npm packages' bundles under /app/vendor/. Not mounted when ``WEB_ROOT`` is unset."""
    if not web_root:
        return
    root = Path(web_root)
    for path, bundle in VENDOR_BUNDLES.items():  # the longer path first: mounts match in order
        if (root / bundle).is_dir():
            app.mount(path, StaticFiles(directory=root / bundle), name=path.rsplit("/", 1)[-1])
    app.mount("/app", StaticFiles(directory=root / "app", html=True), name="web")


def _default_background(state: AppState) -> list[BackgroundService]:
    from crm_api.messaging.runtime import background_services

    return background_services(state)
