"""``python -m calsync_localinfra.microsoft --port N --cert C --key K --client-id ID
--client-secret S [--account someone@example.com ...]``: serve the Microsoft stand-in (HTTPS)."""

from __future__ import annotations

import argparse

import uvicorn

from calsync_localinfra.microsoft.api import create_app
from calsync_localinfra.microsoft.store import MicrosoftState


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m calsync_localinfra.microsoft")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--account", action="append", default=[])
    args = parser.parse_args()
    state = MicrosoftState(args.client_id, args.client_secret)
    for email in args.account:
        state.add_account(email)
    uvicorn.run(
        create_app(state),
        host=args.host,
        port=args.port,
        log_level="warning",
        ssl_certfile=args.cert,
        ssl_keyfile=args.key,
    )


if __name__ == "__main__":
    main()
