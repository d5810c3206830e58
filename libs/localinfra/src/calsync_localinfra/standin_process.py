"""A provider stand-in as a local process: started on a free port, stopped, and driven through
its backdoor (``standin_backdoor``), as the tests, benchmarks and ``make run`` need.

``LocalStandInProcess`` is the part every stand-in shares (the process, the backdoor's HTTP
calls, what the provider would have mailed, the request count); ``LocalStandIn`` adds the OAuth
side of ``LocalGoogle`` and ``LocalMicrosoft`` (client credentials, consent page and token
endpoint, ``grant``). EWS has no OAuth (``LocalExchangeServer`` signs in with HTTP Basic), so it
builds on ``LocalStandInProcess`` alone."""

from __future__ import annotations

import ssl
import subprocess
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from calsync_localinfra.ports import LOCALHOST, free_port
from calsync_localinfra.processes import start_server, stop_process


class LocalStandInProcess:
    module = ""
    """``python -m <module>`` serves the stand-in."""
    name = ""
    scheme = "http"

    def __init__(self, base_dir: Path | str, *, port: int | None = None) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.host = LOCALHOST
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} was never started")
        return self._port

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} was never started")
        return f"{self.scheme}://{self.host}:{self._port}/"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def server_argv(self) -> list[str]:
        """The arguments of ``python -m <module>`` besides ``--host`` and ``--port``."""
        return []

    def verify(self) -> ssl.SSLContext | bool:
        """What a client trusts to reach it."""
        return True

    # --- the process --------------------------------------------------------------------------

    def start(self) -> Self:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        port = self._port or free_port(self.host)
        argv = [sys.executable, "-m", self.module, "--host", self.host, "--port", str(port)]
        argv += self.server_argv()
        log = self.base_dir / f"{self.module.rsplit('.', 1)[-1]}.log"
        self._process = start_server(self.name, argv, log, self.host, port, 20)
        self._port = port
        return self

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, grace=5)
            self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what every backdoor answers ------------------------------------------------------------

    def mailed(self) -> list[dict[str, str]]:
        return list(self._get("_fake/mailed"))

    def requests(self) -> int:
        return int(self._get("_fake/stats")["requests"])

    def _post(self, path: str, body: dict[str, Any] | list[Any] | None) -> Any:
        with httpx.Client(verify=self.verify(), timeout=10) as client:
            response = client.post(self.url + path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def _get(self, path: str) -> Any:
        with httpx.Client(verify=self.verify(), timeout=10) as client:
            response = client.get(self.url + path)
        response.raise_for_status()
        return response.json()


class LocalStandIn(LocalStandInProcess, ABC):
    """A stand-in for a provider signed in to with OAuth 2.0 (Google, Microsoft)."""

    def __init__(
        self,
        base_dir: Path | str,
        *,
        client_id: str,
        client_secret: str,
        accounts: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        super().__init__(base_dir, port=port)
        self.client_id, self.client_secret = client_id, client_secret
        self.accounts = accounts

    # --- what each stand-in says of itself --------------------------------------------------------

    @property
    @abstractmethod
    def authorize_uri(self) -> str:
        """The consent page, at the provider's path."""

    @property
    @abstractmethod
    def token_endpoint(self) -> str:
        """The token endpoint, at the provider's path."""

    def extra_argv(self) -> list[str]:
        """Arguments of this stand-in's own (a certificate…), prepared before it starts."""
        return []

    def server_argv(self) -> list[str]:
        argv = ["--client-id", self.client_id, "--client-secret", self.client_secret]
        argv += self.extra_argv()
        for email in self.accounts:
            argv += ["--account", email]
        return argv

    # --- the backdoor ---------------------------------------------------------------------------

    def add_account(self, email: str) -> str:
        """An account with its primary (default) calendar; returns that calendar's id."""
        return str(self._post("_fake/accounts", {"email": email})["id"])

    def add_calendar(self, email: str, name: str) -> str:
        return str(self._post(f"_fake/accounts/{email}/calendars", {"name": name})["id"])

    def revoke_account(self, email: str) -> None:
        self._post(f"_fake/accounts/{email}/revoke", None)

    def put_raw(self, calendar_id: str, event: dict[str, Any]) -> dict[str, Any]:
        return dict(self._post(f"_fake/calendars/{calendar_id}/raw", event))

    def fail_next(
        self, calendar_id: str, status: int, reason: str, count: int = 1, retry_after: int = 0
    ) -> None:
        """The next ``count`` calls on the calendar answer ``status`` with the provider's
        ``reason`` (Google) or error code (Graph), and a Retry-After when given."""
        failure: dict[str, Any] = {"status": status, "reason": reason, "count": count}
        if retry_after:
            failure["retry_after"] = retry_after
        self._post(f"_fake/calendars/{calendar_id}/fail-next", failure)

    def fail_token_endpoint(self, count: int = 1) -> None:
        self._post("_fake/token/fail-next", {"count": count})

    def grant(self, email: str) -> str:
        """A refresh token for ``email``, through the consent page and the token endpoint as a
        user and a web server would get it (no PKCE)."""
        redirect = f"{self.scheme}://127.0.0.1/callback"
        form = {"redirect_uri": redirect, "client_id": self.client_id, "email": email}
        with httpx.Client(verify=self.verify(), timeout=10) as client:
            approved = client.post(self.authorize_uri, data=form | {"decision": "allow"})
            code = httpx.URL(approved.headers["location"]).params["code"]
            exchange = {
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "redirect_uri": redirect,
            }
            answer = client.post(self.token_endpoint, data=exchange)
            answer.raise_for_status()
            return str(answer.json()["refresh_token"])
