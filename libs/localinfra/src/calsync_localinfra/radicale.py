"""A real CalDAV server as a local process: Radicale 3 (PyPI), for ``make run``, tests and
benchmarks. htpasswd users in plain text (test credentials only), no auth delay (Radicale's
default delay adds ~1 s per failed login), storage in ``base_dir``, owner-only rights.

``stop()`` then ``start()`` keeps the data and the port: tests use it as "the server went down
and came back".
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from calsync_localinfra.ports import LOCALHOST, free_port
from calsync_localinfra.processes import start_server, stop_process

_CONFIG = """\
[server]
hosts = {host}:{port}

[auth]
type = htpasswd
htpasswd_filename = {htpasswd}
htpasswd_encryption = plain
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {storage}

[logging]
level = warning
"""


class LocalRadicale:
    def __init__(self, base_dir: Path | str, *, startup_timeout: float = 15.0) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.startup_timeout = startup_timeout
        self.host = LOCALHOST
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._users: dict[str, str] = {}

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalRadicale was never started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def add_user(self, username: str, password: str) -> None:
        """Radicale re-reads the htpasswd file when its modification time changes: no restart
        needed. Two writes within one second could look unchanged, so the time is moved on."""
        self._users[username] = password
        self._htpasswd.parent.mkdir(parents=True, exist_ok=True)
        before = self._htpasswd.stat().st_mtime if self._htpasswd.exists() else 0.0
        self._htpasswd.write_text("".join(f"{u}:{p}\n" for u, p in self._users.items()))
        stamp = max(time.time(), before + 1.0)
        os.utime(self._htpasswd, (stamp, stamp))

    def make_calendar(self, username: str, name: str, display_name: str | None = None) -> str:
        """MKCALENDAR (RFC 4791 §5.3.1) ``/<user>/<name>/``; returns its URL."""
        url = f"{self.url}{username}/{name}/"
        body = (
            '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
            f"<D:displayname>{display_name or name}</D:displayname>"
            "</D:prop></D:set></C:mkcalendar>"
        )
        response = httpx.request(
            "MKCALENDAR", url, content=body, auth=(username, self._users[username]), timeout=10
        )
        if response.status_code not in (201, 405, 409):  # 405 / 409: it exists already
            raise RuntimeError(f"MKCALENDAR {url} answered {response.status_code}")
        return url

    def start(self) -> LocalRadicale:
        if self.running:
            return self
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._htpasswd.touch()
        port = self._port or free_port(self.host)
        config = self.base_dir / "radicale.conf"
        config.write_text(
            _CONFIG.format(
                host=self.host,
                port=port,
                htpasswd=self._htpasswd,
                storage=self.base_dir / "collections",
            )
        )
        argv = [sys.executable, "-m", "radicale", "--config", str(config)]
        log = self.base_dir / "radicale.log"
        process = start_server("Radicale", argv, log, self.host, port, self.startup_timeout)
        self._process, self._port = process, port
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._process is not None:
            stop_process(self._process, grace=timeout)
            self._process = None
            time.sleep(0.05)  # let the listening socket close before a restart on the same port

    @property
    def _htpasswd(self) -> Path:
        return self.base_dir / "users"

    def __enter__(self) -> LocalRadicale:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
