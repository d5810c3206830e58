"""Ports for servers started on this machine.

The machines this project runs on already have PostgreSQL, Redis, RabbitMQ, NATS, MariaDB and
Mosquitto listening on their standard ports, and several test sessions may run at once, so every
server we start asks the kernel for a free port instead of assuming one.
"""

from __future__ import annotations

import socket
import subprocess
import time

LOCALHOST = "127.0.0.1"


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that is free right now on ``host`` (chosen by the kernel).

    The socket is closed before returning, so another process could take the port before our
    server binds it; callers that start servers retry with a new port when the bind fails.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "0.0.0.0") -> bool:  # noqa: S104
    """Whether a server could bind ``port`` now.

    Checks the wildcard address by default because the services bind ``0.0.0.0``, which fails if
    anything holds the port on any interface. ``SO_REUSEADDR`` mirrors what uvicorn does, so
    sockets left in TIME_WAIT by a previous run do not count as taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def preferred_or_free_port(preferred: int, host: str = "0.0.0.0") -> int:  # noqa: S104
    """``preferred`` if it is free, else any free port: well-known URLs when possible, but a
    busy port never stops the stack from starting."""
    return preferred if port_is_free(preferred, host) else free_port(LOCALHOST)


def wait_for_port(
    host: str,
    port: int,
    timeout: float = 10.0,
    *,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Block until something accepts TCP connections on ``host:port``.

    Raises ``TimeoutError`` after ``timeout`` seconds. When ``process`` is given and it exits
    first, raises ``RuntimeError`` at once: a server that crashed at start-up should fail fast,
    not after the whole timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process {process.args!r} exited with code {process.returncode} "
                f"before listening on {host}:{port}"
            )
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.02)
