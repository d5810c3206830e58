"""``python -m crm_api.devtoken --tenant T --user U [--admin] [--hours N]``: print a bearer token.

Signed with JWT_SECRET from the environment or, for the local stack, from the development
secrets ``make run`` keeps in ``.var/dev-secrets.json`` (``--secrets-file`` to point elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

from crm_api.auth import Caller, mint_token


def jwt_secret(secrets_file: Path) -> str:
    if secret := os.environ.get("JWT_SECRET"):
        return secret
    if secrets_file.exists():
        return str(json.loads(secrets_file.read_text())["JWT_SECRET"])
    raise SystemExit(f"set JWT_SECRET, or run `make run` once to create {secrets_file}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant", type=uuid.UUID, required=True)
    parser.add_argument("--user", type=uuid.UUID, required=True)
    parser.add_argument("--admin", action="store_true")
    parser.add_argument("--hours", type=int, default=12)
    parser.add_argument("--secrets-file", type=Path, default=Path(".var/dev-secrets.json"))
    args = parser.parse_args()
    caller = Caller(user_id=args.user, tenant_id=args.tenant, is_admin=args.admin)
    print(mint_token(jwt_secret(args.secrets_file), caller, timedelta(hours=args.hours)))


if __name__ == "__main__":
    main()
