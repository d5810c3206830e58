"""``python -m crm_api.devtoken --tenant T --user U [--admin] [--hours N]``: print a bearer token
signed with JWT_SECRET (development and operations)."""

from __future__ import annotations

import argparse
import uuid
from datetime import timedelta

from crm_api.auth import Caller, mint_token
from crm_api.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant", type=uuid.UUID, required=True)
    parser.add_argument("--user", type=uuid.UUID, required=True)
    parser.add_argument("--admin", action="store_true")
    parser.add_argument("--hours", type=int, default=12)
    args = parser.parse_args()
    settings = Settings()
    caller = Caller(user_id=args.user, tenant_id=args.tenant, is_admin=args.admin)
    print(mint_token(settings.jwt_secret.get_secret_value(), caller, timedelta(hours=args.hours)))


if __name__ == "__main__":
    main()
