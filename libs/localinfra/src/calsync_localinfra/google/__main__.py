"""``python -m calsync_localinfra.google --port N --client-id ID --client-secret S
[--account someone@example.com ...]``: serve the Google stand-in."""

from __future__ import annotations

import argparse

import uvicorn

from calsync_localinfra.google.api import create_app
from calsync_localinfra.google.store import GoogleState


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m calsync_localinfra.google")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--account", action="append", default=[])
    args = parser.parse_args()
    state = GoogleState(args.client_id, args.client_secret)
    for email in args.account:
        state.add_account(email)
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
