"""``python -m calsync_localinfra.ews --port N [--account someone@example.com:password ...]``:
serve the EWS stand-in over plain HTTP."""

from __future__ import annotations

import argparse

import uvicorn

from calsync_localinfra.ews.api import create_app
from calsync_localinfra.ews.store import ExchangeState


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m calsync_localinfra.ews")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--account", action="append", default=[], help="email:password")
    args = parser.parse_args()
    state = ExchangeState()
    for account in args.account:
        email, _, password = account.partition(":")
        state.add_account(email, password)
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
