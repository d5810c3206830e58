"""The whole system, started by the README's run command (``scripts/run_stack.py``) on the
session's real PostgreSQL and Kafka-protocol broker, for end-to-end journeys."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from calsync_localinfra import LocalKafka, LocalPostgres
from calsync_localinfra.radicale import LocalRadicale
from calsync_localinfra.smtp import LocalSmtp

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120
SYNC_TUNING = {
    "LEASE_SECONDS": "6",  # a killed replica's connections are taken over within seconds
    "RETRY_BASE_SECONDS": "1",  # "server down" backs off 1 s, 2 s, … instead of minutes
    "TICK_SECONDS": "0.5",
}


@dataclass(frozen=True)
class Stack:
    state: dict[str, Any]
    log: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.state['ports']['crm-api']}"

    @property
    def database_url(self) -> str:
        return str(self.state["database_url"])

    def user(self, index: int) -> dict[str, Any]:
        return dict(self.state["seed"]["users"][index])

    def isolated_admin_token(self) -> str:
        """A new tenant with one administrator, for tests that change tenant configuration
        (the fuzzer adds required custom fields…) without touching the demo tenant."""
        return asyncio.run(self.isolated_admin())[2]

    async def isolated_admin(self) -> tuple[str, str, str]:
        """(tenant id, user id, bearer token) of a new tenant's only user, an administrator."""
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        from crm_api.auth import Caller, mint_token

        tenant_id, user_id = uuid.uuid4(), uuid.uuid4()
        engine = create_async_engine(self.database_url)
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO tenants (id, name) VALUES (:id, 'Isolated')"), {"id": tenant_id}
            )
            await connection.execute(
                text(
                    "INSERT INTO users (id, tenant_id, name, email, is_admin) VALUES "
                    "(:id, :tenant, 'Isolated Admin', 'admin@example.com', true)"
                ),
                {"id": user_id, "tenant": tenant_id},
            )
        await engine.dispose()
        secret = self.dev_secret("JWT_SECRET")
        token = mint_token(secret, Caller(user_id, tenant_id, True), timedelta(hours=1))
        return str(tenant_id), str(user_id), token

    async def token_for(self, user_id: str) -> str:
        """A bearer token of an existing (non-administrator) user, found in the database."""
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        from crm_api.auth import Caller, mint_token

        engine = create_async_engine(self.database_url)
        async with engine.begin() as connection:
            tenant_id = (
                await connection.execute(
                    text("SELECT tenant_id FROM users WHERE id = :id"), {"id": user_id}
                )
            ).scalar_one()
        await engine.dispose()
        caller = Caller(uuid.UUID(user_id), tenant_id, False)
        return mint_token(self.dev_secret("JWT_SECRET"), caller, timedelta(hours=1))

    def dev_secret(self, name: str) -> str:
        return str(json.loads((ROOT / ".var" / "dev-secrets.json").read_text())[name])

    def client(self, index: int = 0) -> httpx.AsyncClient:
        token = self.user(index)["token"]
        return httpx.AsyncClient(
            base_url=self.api, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture(scope="session")
def e2e_radicale(local_servers_dir: Path) -> Iterator[LocalRadicale]:
    """The CalDAV server the journeys connect to; the tests stop and start it at will."""
    with LocalRadicale(local_servers_dir / "e2e-radicale") as server:
        yield server


@pytest.fixture(scope="session")
def stack(
    local_postgres: LocalPostgres,
    local_kafka: LocalKafka,
    e2e_radicale: LocalRadicale,
    smtp_server: LocalSmtp,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    database = local_postgres.create_database("e2e_stack")
    work = tmp_path_factory.mktemp("stack")
    state_file, log = work / "state.json", work / "stack.log"
    env = {
        **os.environ,
        "DATABASE_URL": database.async_url,
        **local_kafka.env(),
        "LOG_LEVEL": "INFO",
        **SYNC_TUNING,
        "SSRF_ALLOW": json.dumps([f"127.0.0.1:{e2e_radicale.port}"]),
        "SMTP_HOST": smtp_server.host,
        "SMTP_PORT": str(smtp_server.port),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "scripts/run_stack.py",
                "--free-ports",
                "--state-file",
                str(state_file),
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(state_file, process, log)
        yield Stack(json.loads(state_file.read_text()), log)
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C does
        code = process.wait(60)
    assert code == 0, f"run command did not stop cleanly (exit {code}):\n{_tail(log)}"


def _wait_for(state_file: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not state_file.exists():
        if process.poll() is not None:
            pytest.fail(f"run command exited with {process.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"stack not ready after {START_TIMEOUT_S} s:\n{_tail(log)}")
        time.sleep(0.2)


def _tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# The browser and a signed-in page for the calendar page's tests (test_web*.py).
from .web_support import browser, signed_in  # noqa: E402, F401
