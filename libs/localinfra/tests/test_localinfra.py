"""The local servers are real: PostgreSQL answers SQL, the broker stores and delivers records,
and the supervisor starts, watches and stops children as promised."""

from __future__ import annotations

import asyncio
import io
import shutil
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from calsync_contracts.topics import all_topic_specs
from calsync_localinfra import (
    ChildSpec,
    LocalKafka,
    LocalPostgres,
    Supervisor,
    free_port,
    port_is_free,
    wait_for_port,
)
from calsync_localinfra.processes import spawn, stop_process

PUBLIC_TABLES = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"

# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest.mark.integration
async def test_postgres_accepts_a_connection_and_a_query(local_postgres):
    connection = await asyncpg.connect(local_postgres.dsn)
    try:
        assert await connection.fetchval("SELECT 40 + 2") == 42
        version = await connection.fetchval("SHOW server_version_num")
        encoding = await connection.fetchval("SHOW server_encoding")
        # Unicode-aware case mapping without OS locales (the built-in C.UTF-8 provider).
        upper = await connection.fetchval("SELECT upper('émile')")
    finally:
        await connection.close()
    assert int(version) >= 180000
    assert encoding == "UTF8"
    assert upper == "ÉMILE"
    assert local_postgres.async_url.startswith("postgresql+asyncpg://postgres@127.0.0.1:")


@pytest.mark.integration
async def test_create_database_gives_an_empty_database_of_its_own(local_postgres):
    name = f"localinfra_{uuid.uuid4().hex[:8]}"
    database = local_postgres.create_database(name)
    assert database.name == name
    assert database.async_url == database.dsn.replace("postgresql://", "postgresql+asyncpg://")

    connection = await asyncpg.connect(database.dsn)
    try:
        assert await connection.fetchval("SELECT current_database()") == name
        assert (
            await connection.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname='public'")
            == 0
        )
        await connection.execute("CREATE TABLE mine (id int)")
    finally:
        await connection.close()

    other = local_postgres.create_database()
    connection = await asyncpg.connect(other.dsn)
    try:
        assert await connection.fetchval("SELECT to_regclass('mine')") is None
    finally:
        await connection.close()

    with pytest.raises(RuntimeError, match="already exists"):
        local_postgres.create_database(name)

    still_connected = await asyncpg.connect(database.dsn)
    local_postgres.drop_database(name)  # WITH (FORCE): open sessions do not block it
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await asyncpg.connect(database.dsn)
    await still_connected.close()
    local_postgres.drop_database(other.name)


@pytest.mark.integration
def test_create_database_refuses_names_that_would_need_quoting(local_postgres):
    with pytest.raises(ValueError, match="must match"):
        local_postgres.create_database('x"; DROP DATABASE postgres; --')


@pytest.mark.integration
async def test_fresh_database_fixture_is_empty_and_unique(fresh_database, local_postgres):
    assert fresh_database.startswith(
        f"postgresql+asyncpg://postgres@127.0.0.1:{local_postgres.port}/test_"
    )
    connection = await asyncpg.connect(fresh_database.replace("+asyncpg", ""))
    try:
        tables = await connection.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname='public'"
        )
    finally:
        await connection.close()
    assert tables == 0


@pytest.mark.integration
async def test_data_survives_a_restart_on_a_new_port():
    """What ``make run`` relies on: ``.var/postgres`` is initialised once and reused."""
    base = Path(tempfile.mkdtemp(prefix="calsync-pg-restart-")) / "postgres"
    try:
        with LocalPostgres(base, durable=False) as postgres:
            first_port = postgres.port
            connection = await asyncpg.connect(postgres.dsn)
            await connection.execute(
                "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')"
            )
            await connection.close()
        assert not postgres.running
        assert port_is_free(first_port, "127.0.0.1")

        with LocalPostgres(base) as postgres:
            connection = await asyncpg.connect(postgres.dsn)
            assert await connection.fetchval("SELECT v FROM kept") == "hello"
            await connection.close()
    finally:
        shutil.rmtree(base.parent, ignore_errors=True)


# --- Kafka (Tansu) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Topic:
    name: str
    partitions: int


@pytest.mark.integration
async def test_every_topic_of_the_system_exists_with_its_partition_count(local_kafka):
    admin = AIOKafkaAdminClient(bootstrap_servers=local_kafka.bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([spec.name for spec in all_topic_specs()])
    finally:
        await admin.close()
    partitions = {topic["topic"]: len(topic["partitions"]) for topic in described}
    assert partitions == {str(spec.name): spec.partitions for spec in all_topic_specs()}


@pytest.mark.integration
async def test_a_record_is_produced_and_consumed_through_a_consumer_group(local_kafka):
    topic = _Topic(f"localinfra-test.{uuid.uuid4().hex[:8]}", 3)
    assert await local_kafka.create_topics([topic]) == [topic.name]
    assert await local_kafka.create_topics([topic]) == []  # "already exists" is not an error

    producer = AIOKafkaProducer(
        bootstrap_servers=local_kafka.bootstrap_servers, acks="all", enable_idempotence=False
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic.name, b"hello", key=b"meeting-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic.name,
        bootstrap_servers=local_kafka.bootstrap_servers,
        group_id=f"localinfra-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        request_timeout_ms=40_000,  # <= 5000 makes aiokafka loop on Tansu's ~5 s group join
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=60)
        await consumer.commit()
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"meeting-1", b"hello")
    assert (record.partition, record.offset) == (sent.partition, sent.offset)


@pytest.mark.integration
def test_kafka_starts_fast_and_stops_completely(tmp_path):
    kafka = LocalKafka(tmp_path)
    started = time.monotonic()
    kafka.start()
    elapsed = time.monotonic() - started
    try:
        port = kafka.port
        assert kafka.running
        assert kafka.env() == {
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
            "KAFKA_IDEMPOTENT_PRODUCER": "false",
        }
        assert elapsed < 5
    finally:
        kafka.stop()
    assert not kafka.running
    assert port_is_free(port, "127.0.0.1")
    assert "listening on" in (tmp_path / "tansu.log").read_text()


# --- ports ---------------------------------------------------------------------------------------


def test_wait_for_port_times_out_when_nothing_listens():
    with pytest.raises(TimeoutError):
        wait_for_port("127.0.0.1", free_port(), timeout=0.2)


def test_wait_for_port_fails_fast_when_the_server_process_dies():
    process = spawn([sys.executable, "-c", "raise SystemExit(3)"])
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="exited with code 3"):
        wait_for_port("127.0.0.1", free_port(), timeout=30, process=process)
    assert time.monotonic() - started < 10


def test_port_is_free_sees_a_listening_socket():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert not port_is_free(port)
        wait_for_port("127.0.0.1", port, timeout=1)


# --- supervisor ----------------------------------------------------------------------------------


def _python(code: str) -> list[str]:
    return [sys.executable, "-u", "-c", code]


def test_supervisor_prefixes_output_and_reports_a_child_that_dies():
    console = io.StringIO()
    with Supervisor(console=console, color=False, grace=5) as supervisor:
        supervisor.start(ChildSpec("sleeper", _python("import time; time.sleep(60)")))
        supervisor.start(
            ChildSpec("crasher", _python("print('about to fail'); raise SystemExit(7)"))
        )
        dead = supervisor.watch(poll=0.05)
        assert dead.name == "crasher"
        assert dead.returncode == 7
        assert dead.tail() == ["about to fail"]
        assert supervisor.children[0].returncode is None
    assert supervisor.children[0].returncode is not None  # stopped on leaving the block
    assert "crasher        | about to fail" in console.getvalue()


def test_supervisor_logs_to_a_file_and_kills_a_child_that_ignores_sigterm(tmp_path):
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ignoring', flush=True); time.sleep(60)"
    )
    supervisor = Supervisor(console=io.StringIO(), grace=0.5)
    child = supervisor.start(ChildSpec("stubborn", _python(code), log_path=tmp_path / "s.log"))
    deadline = time.monotonic() + 10
    while "ignoring" not in (tmp_path / "s.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    codes = supervisor.stop_all()
    assert codes == {"stubborn": -9}
    assert time.monotonic() - started < 5
    assert child.tail() == ["ignoring"]


def test_stop_process_lets_a_cooperative_child_exit_on_sigterm():
    process = spawn(_python("import time; time.sleep(60)"))
    assert stop_process(process, grace=5) == -15
