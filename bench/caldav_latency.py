"""Propagation latency through the whole system (`make bench`): prints figures, asserts nothing.

The run command's stack (crm-api, its relay, the broker, sync-caldav, PostgreSQL) on fresh
servers, with a calendar on the stack's Radicale:
1. CRM write → event on the CalDAV server: ``POST /meetings`` returned → the resource answers
   ``GET`` (polled every 10 ms);
2. server change → CRM meeting after a refresh: the event is ``PUT`` on the server and a
   refresh asked (what the web page does on load) → the meeting is listed by the API.
p50 / p99 of N rounds each (default 30).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from calsync_contracts.topics import all_topic_specs
from calsync_localinfra.kafka import LocalKafka
from calsync_localinfra.postgres import LocalPostgres

ROOT = Path(__file__).resolve().parents[1]


def start_stack(
    work: Path, postgres: LocalPostgres, kafka: LocalKafka
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    database = postgres.create_database("bench_latency")
    state_file = work / "state.json"
    env = {**os.environ, "DATABASE_URL": database.async_url, **kafka.env(), "LOG_LEVEL": "WARNING"}
    log = (work / "stack.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "scripts/run_stack.py", "--state-file", str(state_file)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 180
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"stack did not start; see {work / 'stack.log'}")
        time.sleep(0.2)
    return process, json.loads(state_file.read_text())


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.0f} ms   p99 {p99 * 1000:7.0f} ms"


async def measure(state: dict[str, Any], rounds: int) -> tuple[list[float], list[float]]:
    user = state["seed"]["users"][0]
    radicale = state["radicale"]
    auth = (radicale["username"], radicale["password"])
    calendar = f"{radicale['url']}{radicale['username']}/bench-{uuid4().hex[:8]}/"
    api_url = f"http://127.0.0.1:{state['ports']['crm-api']}"
    headers = {"Authorization": f"Bearer {user['token']}"}
    async with (
        httpx.AsyncClient(timeout=30) as dav,
        httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as api,
    ):
        (await dav.request("MKCALENDAR", calendar, auth=auth)).raise_for_status()
        account = {
            "provider": "caldav",
            "server_url": radicale["url"],
            "username": radicale["username"],
            "password": radicale["password"],
            "calendars": [calendar],
        }
        saved = await api.put(f"/users/{user['id']}/calendar-connection", json=account)
        saved.raise_for_status()
        await wait_in_sync(api, user["id"])
        outbound = [await crm_to_server(api, dav, auth, calendar, i) for i in range(rounds)]
        inbound = [
            await server_to_crm(api, dav, auth, calendar, user["id"], i) for i in range(rounds)
        ]
    return outbound, inbound


async def wait_in_sync(api: httpx.AsyncClient, user_id: str) -> None:
    for _ in range(600):
        if (await api.get(f"/users/{user_id}/sync-status")).json()["state"] == "in_sync":
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the connection never got in sync")


async def crm_to_server(
    api: httpx.AsyncClient, dav: httpx.AsyncClient, auth: tuple[str, str], calendar: str, i: int
) -> float:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, hours=i)
    body = {
        "subject": f"Latency {i}",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "timezone": "UTC",
    }
    created = await api.post("/meetings", json=body)
    created.raise_for_status()
    began = time.perf_counter()
    name = re.sub(r"[^A-Za-z0-9._-]", "_", created.json()["ical_uid"])[:200] + ".ics"

    async def on_server() -> bool:
        return (await dav.get(calendar + name, auth=auth)).status_code == 200

    await poll(on_server)
    return time.perf_counter() - began


async def server_to_crm(
    api: httpx.AsyncClient,
    dav: httpx.AsyncClient,
    auth: tuple[str, str],
    calendar: str,
    user_id: str,
    i: int,
) -> float:
    start = datetime.now(UTC) + timedelta(days=2, hours=i)
    subject = f"FromServer{i}x{uuid4().hex[:6]}"
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uuid4()}\r\nDTSTAMP:20261122T100000Z\r\nSUMMARY:{subject}\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    (await dav.put(f"{calendar}{uuid4().hex}.ics", content=body, auth=auth)).raise_for_status()
    began = time.perf_counter()
    (await api.post(f"/users/{user_id}/sync-status/refresh", json={})).raise_for_status()

    async def in_crm() -> bool:
        return bool((await api.get("/meetings", params={"q": subject})).json()["items"])

    await poll(in_crm)
    return time.perf_counter() - began


async def poll(check: Callable[[], Awaitable[bool]], timeout_s: float = 60) -> None:
    """Every 10 ms: the systems measured do not tell us when they are done."""
    for _ in range(int(timeout_s * 100)):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise RuntimeError("timed out")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calsync-bench-latency-") as tmp:
        work = Path(tmp)
        with (
            LocalPostgres(work / "pg", durable=False) as postgres,
            LocalKafka(work / "kafka") as kafka,
        ):
            asyncio.run(kafka.create_topics(all_topic_specs()))
            process, state = start_stack(work, postgres, kafka)
            try:
                outbound, inbound = asyncio.run(measure(state, args.rounds))
            finally:
                process.send_signal(signal.SIGINT)
                process.wait(60)
    print(f"\nPropagation latency, {args.rounds} rounds each (whole stack, Tansu, Radicale)")
    print(f"  CRM write -> event on the CalDAV server      {percentiles(outbound)}")
    print(f"  server change -> CRM meeting after refresh   {percentiles(inbound)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
