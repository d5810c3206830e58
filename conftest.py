"""Fixtures shared by the whole repository: the real servers integration tests run against.

Each server starts once per test session, on a free port, the first time a test asks for it
(a run of unit tests starts nothing), and stops when the session ends:

- ``local_postgres``: a ``LocalPostgres`` (PostgreSQL 18, fsync off). Do not use its
  ``postgres`` database for test data; take a database of your own:
- ``fresh_database``: the ``postgresql+asyncpg://`` URL of a new empty database for one test,
  dropped afterwards; ``module_database``: the same, shared by one test module;
  ``new_database``: a factory, ``new_database(name=None) -> LocalPostgresDatabase`` (``.dsn``,
  ``.async_url``), for any other scope.
- ``radicale`` / ``xandikos``: real CalDAV servers (``LocalRadicale``, ``LocalXandikos``).
- ``google``: the stand-in for Google's OAuth and Calendar API v3 (``LocalGoogle``): Google
  cannot run here; the real client libraries talk to it.
- ``microsoft``: the stand-in for Microsoft's identity platform and Graph's calendars
  (``LocalMicrosoft``, HTTPS with its own certificate); MSAL and httpx talk to it.
- ``smtp``: a real SMTP server (aiosmtpd) keeping mail in a Maildir (``LocalSmtp``), emptied
  for each test.
- ``local_kafka``: a ``LocalKafka`` (Tansu) with every topic of ``all_topic_specs()`` created.
  Producers must pass ``enable_idempotence=False``; see ``calsync_localinfra.kafka``.

Tests that use these fixtures are marked ``integration`` automatically, so
``pytest -m "not integration"`` never starts a server.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from calsync_contracts.topics import all_topic_specs
from calsync_localinfra import LocalKafka, LocalPostgres, LocalPostgresDatabase
from calsync_localinfra.ews import LocalExchangeServer
from calsync_localinfra.google import LocalGoogle
from calsync_localinfra.kafka_tail import KafkaTail
from calsync_localinfra.microsoft import LocalMicrosoft
from calsync_localinfra.radicale import LocalRadicale
from calsync_localinfra.smtp import LocalSmtp
from calsync_localinfra.xandikos import LocalXandikos

_SERVER_FIXTURES = frozenset(
    {
        "local_postgres",
        "local_kafka",
        "fresh_database",
        "module_database",
        "new_database",
        "radicale",
        "xandikos",
        "google",
        "microsoft",
        "smtp",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def local_servers_dir() -> Iterator[Path]:
    """Data and logs of the session's servers. Not pytest's ``tmp_path_factory``: its base
    directory is private to the user running pytest, and as root PostgreSQL runs as another
    account that must reach its data directory."""
    path = Path(tempfile.mkdtemp(prefix="calsync-test-servers-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def local_postgres(local_servers_dir: Path) -> Iterator[LocalPostgres]:
    with LocalPostgres(local_servers_dir / "postgres", durable=False) as postgres:
        yield postgres


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def local_kafka(local_servers_dir: Path) -> AsyncIterator[LocalKafka]:
    with LocalKafka(local_servers_dir / "kafka") as kafka:
        await kafka.create_topics(all_topic_specs())
        yield kafka


@pytest.fixture(scope="session")
def radicale(local_servers_dir: Path) -> Iterator[LocalRadicale]:
    """Radicale 3 with htpasswd users (``add_user``) and ``make_calendar``."""
    with LocalRadicale(local_servers_dir / "radicale") as server:
        yield server


@pytest.fixture(scope="session")
def xandikos(local_servers_dir: Path) -> Iterator[LocalXandikos]:
    """Xandikos, a second CalDAV server that answers differently (no auth)."""
    with LocalXandikos(local_servers_dir / "xandikos") as server:
        yield server


@pytest.fixture(scope="session")
def google(local_servers_dir: Path) -> Iterator[LocalGoogle]:
    """The Google stand-in; tests make their own accounts (``add_account``)."""
    with LocalGoogle(local_servers_dir / "google") as server:
        yield server


@pytest.fixture(scope="session")
def microsoft(local_servers_dir: Path) -> Iterator[LocalMicrosoft]:
    """The Microsoft stand-in; tests make their own accounts (``add_account``)."""
    with LocalMicrosoft(local_servers_dir / "microsoft") as server:
        yield server


@pytest.fixture(scope="session")
def exchange_server(local_servers_dir: Path) -> Iterator[LocalExchangeServer]:
    """The Exchange Server (EWS) stand-in; tests make their own mailboxes (``add_account``)."""
    with LocalExchangeServer(local_servers_dir / "ews") as server:
        yield server


@pytest.fixture(scope="session")
def smtp_server(local_servers_dir: Path) -> Iterator[LocalSmtp]:
    with LocalSmtp(local_servers_dir / "smtp") as server:
        yield server


@pytest.fixture
def smtp(smtp_server: LocalSmtp) -> LocalSmtp:
    """The SMTP server with no mail and no refusal rules."""
    smtp_server.clear()
    return smtp_server


@pytest.fixture(scope="session")
def new_database(local_postgres: LocalPostgres) -> Callable[..., LocalPostgresDatabase]:
    """``new_database(name=None)`` creates an empty database (unique name by default); the
    caller may drop it with ``local_postgres.drop_database(name)``."""
    return local_postgres.create_database


@pytest.fixture
def fresh_database(local_postgres: LocalPostgres) -> Iterator[str]:
    """Async URL of a new empty database for this test; dropped afterwards."""
    database = local_postgres.create_database()
    yield database.async_url
    local_postgres.drop_database(database.name)


@pytest.fixture(scope="module")
def module_database(local_postgres: LocalPostgres) -> Iterator[str]:
    """Async URL of a new empty database shared by the tests of one module; dropped after."""
    database = local_postgres.create_database()
    yield database.async_url
    local_postgres.drop_database(database.name)


@pytest.fixture
async def kafka_tail(local_kafka: LocalKafka) -> AsyncIterator[Callable[..., Awaitable[KafkaTail]]]:
    """``await kafka_tail(topic, ...)`` opens a tail positioned at the topics' current ends."""
    tails: list[KafkaTail] = []

    async def open_tail(*topics: str) -> KafkaTail:
        tail = KafkaTail(local_kafka.bootstrap_servers, tuple(topics))
        tails.append(tail)
        await tail.open()
        return tail

    yield open_tail
    await asyncio.gather(*(tail.close() for tail in tails))
