"""A real SMTP server as a local process: aiosmtpd (PyPI), keeping every accepted mail in a
Maildir that tests and people read (``LocalSmtp.messages``).

Recipients can be made to fail like real servers do (RFC 5321 §4.2): ``refuse(address, code,
times)`` answers RCPT TO for that address with ``code`` (4yz temporary, 5yz permanent) for the
next ``times`` tries (forever when None). The rules live in ``policy.json`` in the Maildir's
folder, re-read on every RCPT, so a test can change them while the server runs.

``python -m calsync_localinfra.smtp --port P --maildir DIR`` runs the server.
"""

from __future__ import annotations

import argparse
import json
import mailbox
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


class LocalSmtp:
    def __init__(self, base_dir: Path | str, *, startup_timeout: float = 20.0) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.startup_timeout = startup_timeout
        self.host = LOCALHOST
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> LocalSmtp:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        port = self.port or free_port(self.host)
        argv = [sys.executable, "-m", "calsync_localinfra.smtp", "--host", self.host]
        argv += ["--port", str(port), "--maildir", str(self.base_dir)]
        log = self.base_dir / "smtp.log"
        self._process = start_server("SMTP", argv, log, self.host, port, self.startup_timeout)
        self.port = port
        return self

    def messages(self) -> list[EmailMessage]:
        """Every accepted mail, oldest first (Maildir names start with the arrival time)."""
        box = mailbox.Maildir(self.base_dir / "mail", create=True)
        parsed = [
            message_from_bytes(box.get_bytes(key), policy=policy.default)
            for key in sorted(box.keys())
        ]
        return [m for m in parsed if isinstance(m, EmailMessage)]

    def clear(self) -> None:
        box = mailbox.Maildir(self.base_dir / "mail", create=True)
        box.clear()
        (self.base_dir / POLICY).unlink(missing_ok=True)

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


def main() -> None:
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(description="A local SMTP server keeping mail in a Maildir.")
    parser.add_argument("--host", default=LOCALHOST)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args()
    args.maildir.mkdir(parents=True, exist_ok=True)
    controller = Controller(MaildirSink(args.maildir), hostname=args.host, port=args.port)
    controller.start()
    print(f"SMTP on {args.host}:{args.port}, mail in {args.maildir / 'mail'}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
