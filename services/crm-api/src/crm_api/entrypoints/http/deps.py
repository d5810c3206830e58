"""Typed dependencies of the routes: the caller, the database session, the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from crm_api.auth import Caller, InvalidToken, read_token
from crm_api.bootstrap_state import AppState

_bearer = HTTPBearer(auto_error=False, description="A bearer token (`make token`).")


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.crm
    return state


StateDep = Annotated[AppState, Depends(app_state)]


def current_caller(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return read_token(state.settings.jwt_secret.get_secret_value(), credentials.credentials)
    except InvalidToken:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or expired token",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


CallerDep = Annotated[Caller, Depends(current_caller)]


def admin_caller(caller: CallerDep) -> Caller:
    if not caller.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "administrators only")
    return caller


AdminDep = Annotated[Caller, Depends(admin_caller)]


async def session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as db_session:
        yield db_session


SessionDep = Annotated[AsyncSession, Depends(session)]
