"""A second, differently-behaved CalDAV server as a local process: Xandikos (PyPI). It keeps
collections in git (sync tokens are commit ids; a bogus one answers 412 where Radicale answers
403). No authentication (its basic auth needs TLS), so tests connect with any credentials."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import TracebackType

import httpx

from calsync_localinfra.ports import LOCALHOST, free_port
from calsync_localinfra.processes import start_server, stop_process


class LocalXandikos:
    def __init__(self, base_dir: Path | str, *, startup_timeout: float = 20.0) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.startup_timeout = startup_timeout
        self.host = LOCALHOST
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("LocalXandikos was never started")
        return f"http://{self.host}:{self._port}/"

    def make_calendar(self, name: str) -> str:
        """MKCALENDAR under the default user's calendar home; returns its URL."""
        url = f"{self.url}user/calendars/{name}/"
        response = httpx.request("MKCALENDAR", url, timeout=10)
        if response.status_code not in (201, 405):
            raise RuntimeError(f"MKCALENDAR {url} answered {response.status_code}")
        return url

    def start(self) -> LocalXandikos:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        port = self._port or free_port(self.host)
        executable = shutil.which("xandikos", path=str(Path(sys.executable).parent))
        argv = [executable] if executable else [sys.executable, "-m", "xandikos"]
        argv += ["serve", "-d", str(self.base_dir / "data"), "--defaults"]
        argv += ["-l", self.host, "-p", str(port)]
        log = self.base_dir / "xandikos.log"
        process = start_server("Xandikos", argv, log, self.host, port, self.startup_timeout)
        self._process, self._port = process, port
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._process is not None:
            stop_process(self._process, grace=timeout)
            self._process = None

    def __enter__(self) -> LocalXandikos:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
