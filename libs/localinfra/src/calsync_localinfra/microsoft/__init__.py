"""A stand-in for Microsoft (the identity platform's OAuth 2.0 and Graph's calendar API) as a
local process over HTTPS: Exchange Online cannot run here, and MSAL only talks HTTPS. The
certificate is made at start-up, self-signed for the loopback address; clients trust it through
``ca_file`` (a setting of the services, never of production).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from calsync_localinfra.ports import LOCALHOST, free_port
from calsync_localinfra.processes import start_server, stop_process

CLIENT_ID = "00000000-0000-4000-8000-00000000c0de"
CLIENT_SECRET = "local~client~secret"  # noqa: S105 (the stand-in's, known to tests)


class LocalMicrosoft:
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
            raise RuntimeError("LocalMicrosoft was never started")
        return f"https://{self.host}:{self._port}/"

    @property
    def authority(self) -> str:
        return self.url + "common"

    @property
    def graph_endpoint(self) -> str:
        return self.url + "v1.0/"

    @property
    def ca_file(self) -> str:
        return str(self.base_dir / "cert.pem")

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the stand-in's certificate (and nothing else)."""
        return ssl.create_default_context(cafile=self.ca_file)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> LocalMicrosoft:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        cert, key = self.base_dir / "cert.pem", self.base_dir / "key.pem"
        if not cert.exists():
            self_signed(cert, key, self.host, "localhost")
        port = self._port or free_port(self.host)
        argv = [sys.executable, "-m", "calsync_localinfra.microsoft", "--host", self.host]
        argv += ["--port", str(port), "--cert", str(cert), "--key", str(key)]
        argv += ["--client-id", self.client_id, "--client-secret", self.client_secret]
        for email in self.accounts:
            argv += ["--account", email]
        log = self.base_dir / "microsoft.log"
        self._process = start_server("Microsoft stand-in", argv, log, self.host, port, 20)
        self._port = port
        return self

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, grace=5)
            self._process = None

    # --- the backdoor ---------------------------------------------------------------------------

    def add_account(self, email: str) -> str:
        """An account with its default calendar; returns that calendar's id."""
        return str(self._post("_fake/accounts", {"email": email})["id"])

    def add_calendar(self, email: str, name: str) -> str:
        return str(self._post(f"_fake/accounts/{email}/calendars", {"name": name})["id"])

    def revoke_account(self, email: str) -> None:
        self._post(f"_fake/accounts/{email}/revoke", None)

    def put_raw(self, calendar_id: str, event: dict[str, Any]) -> dict[str, Any]:
        return dict(self._post(f"_fake/calendars/{calendar_id}/raw", event))

    def expire_delta_tokens(self, calendar_id: str) -> None:
        self._post(f"_fake/calendars/{calendar_id}/expire-delta-tokens", None)

    def fail_next(
        self, calendar_id: str, status: int, code: str, count: int = 1, retry_after: int = 0
    ) -> None:
        failure: dict[str, Any] = {"status": status, "code": code, "count": count}
        if retry_after:
            failure["retry_after"] = retry_after
        self._post(f"_fake/calendars/{calendar_id}/fail-next", failure)

    def mailed(self) -> list[dict[str, str]]:
        with httpx.Client(verify=self.ssl_context(), timeout=10) as client:
            response = client.get(self.url + "_fake/mailed")
            response.raise_for_status()
            return list(response.json())

    def grant(self, email: str) -> str:
        """A refresh token for ``email``, through the consent page and the token endpoint."""
        redirect = "https://127.0.0.1/callback"
        authorize = self.authority + "/oauth2/v2.0/authorize"
        form = {"redirect_uri": redirect, "client_id": self.client_id, "email": email}
        with httpx.Client(verify=self.ssl_context(), timeout=10) as client:
            approved = client.post(authorize, data=form | {"decision": "allow"})
            code = httpx.URL(approved.headers["location"]).params["code"]
            exchange = {
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "redirect_uri": redirect,
            }
            answer = client.post(self.authority + "/oauth2/v2.0/token", data=exchange)
            answer.raise_for_status()
            return str(answer.json()["refresh_token"])

    def _post(self, path: str, body: dict[str, Any] | None) -> Any:
        response = httpx.post(self.url + path, json=body, timeout=10, verify=self.ssl_context())
        response.raise_for_status()
        return response.json() if response.content else None

    def __enter__(self) -> LocalMicrosoft:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def self_signed(cert_path: Path, key_path: Path, *names: str) -> None:
    """A certificate for ``names`` (IP addresses or DNS names), signed by itself (its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "calsync Microsoft stand-in")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)
