"""The whole system, started by the README's run command (``scripts/run_stack.py``) on the
session's real PostgreSQL and Kafka-protocol broker, for end-to-end journeys."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from calsync_localinfra import LocalKafka, LocalPostgres

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120


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

    def client(self, index: int = 0) -> httpx.AsyncClient:
        token = self.user(index)["token"]
        return httpx.AsyncClient(
            base_url=self.api, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture(scope="session")
def stack(
    local_postgres: LocalPostgres, local_kafka: LocalKafka, tmp_path_factory
) -> Iterator[Stack]:
    database = local_postgres.create_database("e2e_stack")
    work = tmp_path_factory.mktemp("stack")
    state_file, log = work / "state.json", work / "stack.log"
    env = {
        **os.environ,
        "DATABASE_URL": database.async_url,
        **local_kafka.env(),
        "LOG_LEVEL": "INFO",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "scripts/run_stack.py", "--state-file", str(state_file)],
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
