"""A real SMTP server as a local process: aiosmtpd (PyPI), keeping every accepted mail in a
Maildir that tests and people read (``LocalSmtp.messages``).

Each accepted mail's client address is noted (``connections_used``), so a test sees whether
mails shared a connection.

Recipients can be made to fail like real servers do (RFC 5321 §4.2): ``refuse(address, code,
times)`` answers RCPT TO for that address with ``code`` (4yz temporary, 5yz permanent) for the
next ``times`` tries (forever when None). The rules live in ``policy.json`` in the Maildir's
folder, re-read on every RCPT, so a test can change them while the server runs.

With ``starttls=True`` the server offers STARTTLS (RFC 3207) with a certificate of its own
(``ca_file`` is what a client trusts) and requires it; with ``users`` it requires AUTH PLAIN /
LOGIN (RFC 4954) with those logins, refusing others with 535.

``python -m calsync_localinfra.smtp --port P --maildir DIR [--tls-cert C --tls-key K]
[--users users.json]`` runs the server.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import re
import signal
import subprocess
import sys
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from calsync_localinfra.ports import LOCALHOST, free_port
from calsync_localinfra.processes import start_server, stop_process

POLICY = "policy.json"
PEERS = "peers.log"


class MaildirSink:
    """aiosmtpd handler: RCPT by the policy file, DATA into the Maildir."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.box = mailbox.Maildir(folder / "mail", create=True)
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self._refusal(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.box.add(envelope.original_content or envelope.content)
            with (self.folder / PEERS).open("a") as peers:  # which connection brought it
                peers.write(f"{session.peer[0]} {session.peer[1]}\n")
        return "250 Message accepted for delivery"

    def _refusal(self, address: str) -> str | None:
        path = self.folder / POLICY
        with self.lock:
            rules = json.loads(path.read_text()) if path.exists() else {}
            rule = rules.get(address)
            if rule is None:
                return None
            if rule["times"] is not None:
                rule["times"] -= 1
                if rule["times"] <= 0:
                    del rules[address]
                path.write_text(json.dumps(rules))
        return f"{rule['code']} {rule['message']}"


MAILDIR_NAME = re.compile(r"(\d+)\.M(\d+)P\d+Q(\d+)\.")


def arrival(key: str) -> tuple[int, int, int]:
    """When a mail arrived, from its Maildir name ``<seconds>.M<microseconds>P<pid>Q<n>.<host>``
    (Python's mailbox). Not the name's text order: the microseconds are not zero-padded, so
    M999 sorts after M1000 as text."""
    found = MAILDIR_NAME.match(key)
    if found is None:
        raise ValueError(f"not a Maildir name written by this server: {key!r}")
    seconds, micros, count = found.groups()
    return int(seconds), int(micros), int(count)


class LocalSmtp:
    def __init__(
        self,
        base_dir: Path | str,
        *,
        startup_timeout: float = 20.0,
        starttls: bool = False,
        users: dict[str, str] | None = None,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.startup_timeout = startup_timeout
        self.starttls = starttls
        self.users = users or {}
        self.host = LOCALHOST
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> LocalSmtp:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        port = self.port or free_port(self.host)
        argv = [sys.executable, "-m", "calsync_localinfra.smtp", "--host", self.host]
        argv += ["--port", str(port), "--maildir", str(self.base_dir)]
        if self.starttls:
            cert, key = _self_signed(self.base_dir, self.host)
            argv += ["--tls-cert", str(cert), "--tls-key", str(key)]
        if self.users:
            users = self.base_dir / "users.json"
            users.write_text(json.dumps(self.users))
            argv += ["--users", str(users)]
        log = self.base_dir / "smtp.log"
        self._process = start_server("SMTP", argv, log, self.host, port, self.startup_timeout)
        self.port = port
        return self

    @property
    def ca_file(self) -> Path:
        """The certificate a client must trust to talk STARTTLS to this server."""
        return self.base_dir / "tls-cert.pem"

    def messages(self) -> list[EmailMessage]:
        """Every accepted mail, oldest first."""
        box = mailbox.Maildir(self.base_dir / "mail", create=True)
        parsed = [
            message_from_bytes(box.get_bytes(key), policy=policy.default)
            for key in sorted(box.keys(), key=arrival)
        ]
        return [m for m in parsed if isinstance(m, EmailMessage)]

    def connections_used(self) -> int:
        """Over how many SMTP connections the accepted mails came (distinct client addresses)."""
        peers = self.base_dir / PEERS
        return len(set(peers.read_text().splitlines())) if peers.exists() else 0

    def clear(self) -> None:
        box = mailbox.Maildir(self.base_dir / "mail", create=True)
        box.clear()
        (self.base_dir / POLICY).unlink(missing_ok=True)
        (self.base_dir / PEERS).unlink(missing_ok=True)

    def refuse(self, address: str, code: int, times: int | None = None, message: str = "") -> None:
        path = self.base_dir / POLICY
        rules = json.loads(path.read_text()) if path.exists() else {}
        text = message or ("try again later" if code < 500 else "no such user here")
        rules[address.lower()] = {"code": code, "times": times, "message": text}
        path.write_text(json.dumps(rules))

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self._process is not None:
            stop_process(self._process, grace=timeout)
            self._process = None

    def __enter__(self) -> LocalSmtp:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _self_signed(folder: Path, host: str) -> tuple[Path, Path]:
    """A certificate for ``host`` (as an IP address SAN) and its key, made with cryptography."""
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls-cert.pem", folder / "tls-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _authenticator(users: dict[str, str]) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and users.get(data.login.decode()) == (
            data.password.decode()
        )
        return AuthResult(success=ok, handled=False)

    return check


def main() -> None:
    import ssl

    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(description="A local SMTP server keeping mail in a Maildir.")
    parser.add_argument("--host", default=LOCALHOST)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--users", type=Path, help="JSON {login: password}: AUTH required")
    args = parser.parse_args()
    args.maildir.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {}
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        options |= {"tls_context": context, "require_starttls": True}
    if args.users:
        users = json.loads(args.users.read_text())
        options |= {
            "authenticator": _authenticator(users),
            "auth_required": True,
            "auth_require_tls": bool(args.tls_cert),
        }
    controller = Controller(
        MaildirSink(args.maildir), hostname=args.host, port=args.port, **options
    )
    controller.start()
    print(f"SMTP on {args.host}:{args.port}, mail in {args.maildir / 'mail'}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
