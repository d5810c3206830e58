"""Bearer tokens: HS256 JWTs carrying the user (``sub``), tenant (``tid``) and admin flag
(``adm``). Every request resolves to a ``Caller``; everything it can reach is scoped to
``caller.tenant_id``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    is_admin: bool


class InvalidToken(Exception):
    """Not a valid, unexpired token signed with our key."""


def mint_token(secret: str, caller: Caller, ttl: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(caller.user_id),
        "tid": str(caller.tenant_id),
        "adm": caller.is_admin,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> Caller:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
        return Caller(
            user_id=uuid.UUID(claims["sub"]),
            tenant_id=uuid.UUID(claims["tid"]),
            is_admin=bool(claims.get("adm", False)),
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as error:
        raise InvalidToken(str(error)) from error
