"""Outbox benchmark: prints figures, asserts nothing (`make bench`).

1. Ceiling: N writes as a bare asyncpg INSERT + a bare aiokafka send (acks=all) each, C at a time.
2. Ours through the API: N ``POST /meetings`` against a real crm-api process (uvicorn, with its
   outbox relay), C at a time, timed until every event is on Kafka. Reported as writes/s and as a
   ratio of the ceiling.
3. Outbox latency at a steady 200 writes/s: each write commits an outbox row (+ NOTIFY) as
   ``enqueue`` does (see ``outbox_writer``); crm-api's relay publishes it; latency = time the
   record is consumed from Kafka minus the time the commit returned (one monotonic clock).
   p50 / p99.

All servers are real and local (embedded PostgreSQL, Tansu), on free ports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from calsync_contracts import Topic
from calsync_contracts.topics import all_topic_specs
from calsync_localinfra.kafka import LocalKafka
from calsync_localinfra.ports import free_port
from calsync_localinfra.postgres import LocalPostgres

ROOT = Path(__file__).resolve().parents[1]


async def run_concurrently(
    n: int, concurrency: int, write: Callable[[int], Awaitable[None]]
) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            await write(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def count_records(bootstrap: str, topic: str, expected: int, seen: dict[str, float]) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid4()}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
        request_timeout_ms=40_000,
        fetch_max_wait_ms=5,  # Tansu holds a fetch for the whole wait: do not measure that
    )
    await consumer.start()
    try:
        while len(seen) < expected:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    # The record's own timestamp (set when the relay handed it to Kafka): what is
                    # measured is the system, not how fast this process happens to read.
                    seen.setdefault(record.key.decode(), record.timestamp / 1000)
    finally:
        await consumer.stop()


async def ready_consumer(
    bootstrap: str, topic: str, expected: int
) -> tuple[asyncio.Task[None], dict[str, float]]:
    seen: dict[str, float] = {}
    task = asyncio.create_task(count_records(bootstrap, topic, expected, seen))
    await asyncio.sleep(7)  # a Tansu group join takes ~5 s; start reading before writing
    return task, seen


async def bench_ceiling(dsn: str, bootstrap: str, n: int, concurrency: int) -> float:
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    await pool.execute("CREATE TABLE IF NOT EXISTS bench_bare (id uuid primary key, body jsonb)")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=1, request_timeout_ms=40_000
    )
    await producer.start()
    body = json.dumps({"subject": "x" * 60, "location": "room", "description": "y" * 200})

    async def write(_: int) -> None:
        key = uuid4()
        await pool.execute("INSERT INTO bench_bare VALUES ($1, $2::jsonb)", key, body)
        await producer.send_and_wait("bench.bare", body.encode(), key=str(key).encode())

    started = time.perf_counter()
    await run_concurrently(n, concurrency, write)
    elapsed = time.perf_counter() - started
    await producer.stop()
    await pool.close()
    return n / elapsed


def start_crm_api(
    db_url: str, bootstrap: str, port: int, log: Path
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Migrates, seeds and starts a real crm-api process; returns it and the seed output."""
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_IDEMPOTENT_PRODUCER": "false",
        "ENVIRONMENT": "dev",
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "HTTP_PORT": str(port),
        "JWT_SECRET": "bench-secret-" + "x" * 32,
        "SECRETS_KEY": "kRGqg2MD0JHbOFM2ZQwoV9X2cJ1n2wD0a9F8UdmBd9s=",
    }
    subprocess.run([sys.executable, "-m", "crm_api.migrate"], env=env, check=True, cwd=ROOT)
    seed = subprocess.run(
        [sys.executable, "-m", "crm_api.seed"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "crm_api"],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, json.loads(seed.stdout)


async def wait_ready(base: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):  # not listening yet
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("crm-api did not become ready")


def meeting_body(i: int) -> dict[str, Any]:
    hour = 8 + i % 9
    day = 1 + (i // 9) % 28
    return {
        "subject": f"Bench meeting {i}",
        "location": "Room 1",
        "description": "y" * 200,
        "start": f"2027-02-{day:02d}T{hour:02d}:00:00+01:00",
        "end": f"2027-02-{day:02d}T{hour:02d}:30:00+01:00",
        "timezone": "Europe/Copenhagen",
    }


async def bench_api(base: str, token: str, bootstrap: str, n: int, concurrency: int) -> float:
    consumer, _seen = await ready_consumer(bootstrap, Topic.MEETING_EVENTS, n)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:

        async def write(i: int) -> None:
            response = await client.post("/meetings", json=meeting_body(i))
            response.raise_for_status()

        started = time.perf_counter()
        await run_concurrently(n, concurrency, write)
        await asyncio.wait_for(consumer, 120)
        elapsed = time.perf_counter() - started
    return n / elapsed


async def relay_side_lag(dsn: str) -> str:
    """The same path seen from the database: row created → marked published by the relay
    (after every record of its batch was acknowledged by the broker)."""
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50,"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99 FROM ("
            " SELECT extract(epoch FROM published_at - created_at) * 1000 AS lag FROM outbox"
            " WHERE event_type = 'meeting.created' AND payload->'payload'->'meeting'->>'subject'"
            " LIKE 'Latency %') s"
        )
    finally:
        await connection.close()
    return (
        f"  relay side (row created → acknowledged by Kafka and marked): "
        f"p50 {row['p50']:.1f} ms, p99 {row['p99']:.1f} ms"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench_latency(
    write_one: Callable[[int], Awaitable[str]], bootstrap: str, rate: int, seconds: int
) -> list[float]:
    n = rate * seconds
    consumer, seen = await ready_consumer(bootstrap, Topic.MEETING_EVENTS, n)
    committed: dict[str, float] = {}
    started = time.perf_counter()
    pending: list[asyncio.Task[None]] = []  # paced on the monotonic clock

    async def timed(i: int) -> None:
        meeting_id = await write_one(i)
        committed[meeting_id] = time.time()  # wall clock, like the record timestamps

    for i in range(n):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        pending.append(asyncio.create_task(timed(i)))
    await asyncio.gather(*pending)
    await asyncio.wait_for(consumer, 120)
    latencies = [(seen[e] - t) * 1000 for e, t in committed.items() if e in seen]
    if os.environ.get("BENCH_DEBUG"):
        slow = [(i, round(v)) for i, v in enumerate(latencies) if v > 100]
        print("slow (index, ms):", slow[:10], "...", slow[-5:], "count", len(slow))
    return latencies


async def main(args: argparse.Namespace) -> None:
    from bench.outbox_writer import direct_writer  # uses crm-api's own write path

    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalPostgres(Path(tmp) / "pg") as pg,
        LocalKafka(log_dir=Path(tmp)) as kafka,
    ):
        await kafka.create_topics([*all_topic_specs(), _Spec("bench.bare", 12)])
        ceiling = await bench_ceiling(pg.dsn, kafka.bootstrap_servers, args.n, args.concurrency)
        print(f"ceiling (bare asyncpg INSERT + aiokafka send, acks=all): {ceiling:8.0f} writes/s")

        port = free_port()
        db = pg.create_database("bench_api")
        api, seed = start_crm_api(
            db.async_url, kafka.bootstrap_servers, port, Path(tmp) / "api.log"
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_ready(base)
            token = seed["users"][0]["token"]
            ours = await bench_api(base, token, kafka.bootstrap_servers, args.n, args.concurrency)
            print(
                f"crm-api POST /meetings, relay publishing:          {ours:8.0f} writes/s "
                f"({ours / ceiling:.2f} of the ceiling)"
            )
            async with direct_writer(db.dsn) as write_one:
                latencies = await bench_latency(
                    write_one, kafka.bootstrap_servers, args.rate, args.seconds
                )
            print(
                f"outbox latency commit → record on Kafka at {args.rate} writes/s "
                f"({len(latencies)} writes): p50 {percentile(latencies, 0.5):.1f} ms, "
                f"p99 {percentile(latencies, 0.99):.1f} ms, "
                f"mean {statistics.fmean(latencies):.1f} ms"
            )
            print(await relay_side_lag(db.dsn))
        finally:
            api.terminate()
            api.wait(10)
            if os.environ.get("BENCH_DEBUG"):
                (Path(tempfile.gettempdir()) / "bench-crm-api.log").write_bytes(
                    (Path(tmp) / "api.log").read_bytes()
                )


class _Spec:
    def __init__(self, name: str, partitions: int) -> None:
        self.name = name
        self.partitions = partitions


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
