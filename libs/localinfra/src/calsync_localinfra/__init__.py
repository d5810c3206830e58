"""Real servers as local processes, for ``make run``, the test suite and benchmarks.

No Docker here, and the machines already run other servers on the standard ports, so each server
is a child process on a free port: PostgreSQL 18 (``postgres``), a Kafka-protocol broker
(``kafka``), and a small supervisor for child processes (``processes``).
"""

from calsync_localinfra.kafka import LocalKafka, TopicLike, create_topics
from calsync_localinfra.ports import free_port, port_is_free, preferred_or_free_port, wait_for_port
from calsync_localinfra.postgres import LocalPostgres, LocalPostgresDatabase
from calsync_localinfra.processes import ChildSpec, StopRequested, Supervisor

__all__ = [
    "ChildSpec",
    "LocalKafka",
    "LocalPostgres",
    "LocalPostgresDatabase",
    "StopRequested",
    "Supervisor",
    "TopicLike",
    "create_topics",
    "free_port",
    "port_is_free",
    "preferred_or_free_port",
    "wait_for_port",
]
