"""``python -m calsync_localinfra.microsoft.make_cert DIR NAME...``: the stand-in's certificate
and key (``DIR/cert.pem``, ``DIR/key.pem``) for the given host names, made once (compose)."""

from __future__ import annotations

import sys
from pathlib import Path

from calsync_localinfra.microsoft import self_signed


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: make_cert DIR NAME [NAME...]\n")
        return 2
    folder = Path(argv[0])
    if not (folder / "cert.pem").exists():
        self_signed(folder / "cert.pem", folder / "key.pem", *argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
