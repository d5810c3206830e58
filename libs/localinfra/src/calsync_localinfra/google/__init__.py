"""A stand-in for Google (OAuth 2.0 and Calendar API v3) as a local process: Google cannot run
here, so tests, benchmarks and ``make run`` talk to this with the real client libraries.

``LocalGoogle`` starts it on a free port; ``api_endpoint`` and ``token_uri`` are what a client
points at instead of Google's addresses. Accounts and calendars are made through its backdoor.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from calsync_localinfra.ports import LOCALHOST, free_port
from calsync_localinfra.processes import start_server, stop_process

CLIENT_ID = "local-client.apps.googleusercontent.com"
CLIENT_SECRET = "local-client-secret"  # noqa: S105 (the stand-in's, known to tests)


class LocalGoogle:
    def __init__(
        self,
        base_dir: Path | str,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        accounts: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.client_id, self.client_secret = client_id, client_secret
        self.accounts = accounts
        self.host = LOCALHOST
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("LocalGoogle was never started")
        return f"http://{self.host}:{self._port}/"

    @property
    def api_endpoint(self) -> str:
        return self.url + "calendar/v3/"

    @property
    def token_uri(self) -> str:
        return self.url + "token"

    @property
    def auth_uri(self) -> str:
        return self.url + "o/oauth2/v2/auth"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> LocalGoogle:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        port = self._port or free_port(self.host)
        argv = [sys.executable, "-m", "calsync_localinfra.google", "--host", self.host]
        argv += ["--port", str(port), "--client-id", self.client_id]
        argv += ["--client-secret", self.client_secret]
        for email in self.accounts:
            argv += ["--account", email]
        log = self.base_dir / "google.log"
        self._process = start_server("Google stand-in", argv, log, self.host, port, 20)
        self._port = port
        return self

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, grace=5)
            self._process = None

    # --- the backdoor ---------------------------------------------------------------------------

    def add_account(self, email: str) -> str:
        """An account with its primary calendar; returns that calendar's id."""
        return str(self._post("_fake/accounts", {"email": email})["id"])

    def add_calendar(self, email: str, summary: str) -> str:
        return str(self._post(f"_fake/accounts/{email}/calendars", {"name": summary})["id"])

    def revoke_account(self, email: str) -> None:
        self._post(f"_fake/accounts/{email}/revoke", None)

    def put_raw(self, calendar_id: str, event: dict[str, Any]) -> dict[str, Any]:
        return dict(self._post(f"_fake/calendars/{calendar_id}/raw", event))

    def put_many(self, calendar_id: str, events: list[dict[str, Any]]) -> list[str]:
        return list(self._post(f"_fake/calendars/{calendar_id}/bulk", events))

    def fail_next(
        self, calendar_id: str, status: int, reason: str, count: int = 1, retry_after: int = 0
    ) -> None:
        failure = {"status": status, "reason": reason, "count": count}
        self._post(
            f"_fake/calendars/{calendar_id}/fail-next",
            failure | ({"retry_after": retry_after} if retry_after else {}),
        )

    def fail_token_endpoint(self, count: int = 1) -> None:
        self._post("_fake/token/fail-next", {"count": count})

    def mailed(self) -> list[dict[str, str]]:
        response = httpx.get(self.url + "_fake/mailed", timeout=10)
        response.raise_for_status()
        return list(response.json())

    def requests(self) -> int:
        response = httpx.get(self.url + "_fake/stats", timeout=10)
        response.raise_for_status()
        return int(response.json()["requests"])

    def expire_sync_tokens(self, calendar_id: str) -> None:
        self._post(f"_fake/calendars/{calendar_id}/expire-sync-tokens", None)

    def channels(self) -> list[dict[str, Any]]:
        response = httpx.get(self.url + "_fake/channels", timeout=10)
        response.raise_for_status()
        return list(response.json())

    def grant(self, email: str) -> str:
        """A refresh token for ``email``, through the consent page and the token endpoint as a
        user and a web server would get it (no PKCE)."""
        redirect = "http://127.0.0.1/callback"
        form = {"redirect_uri": redirect, "client_id": self.client_id, "email": email}
        approved = httpx.post(self.auth_uri, data=form | {"decision": "allow"}, timeout=10)
        code = httpx.URL(approved.headers["location"]).params["code"]
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uri": redirect,
        }
        answer = httpx.post(self.token_uri, data=exchange, timeout=10)
        answer.raise_for_status()
        return str(answer.json()["refresh_token"])

    def _post(self, path: str, body: dict[str, Any] | list[Any] | None) -> Any:
        response = httpx.post(self.url + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def __enter__(self) -> LocalGoogle:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
