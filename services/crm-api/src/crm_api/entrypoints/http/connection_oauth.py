"""Connecting a calendar by signing in with the provider (Google): the start, which gives the
web app the consent page's address, and the callback the provider sends the browser back to.
Routes only translate; the flow is in ``service_layer.connection_oauth``."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict

from crm_api.entrypoints.http.connections import PATH, sync_services
from crm_api.entrypoints.http.deps import CallerDep, SessionDep, StateDep
from crm_api.errors import CrmError
from crm_api.service_layer import connection_oauth

router = APIRouter(tags=["calendar connections"])
PAGE = "/app/"


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: Literal["google"]


class SignInOut(BaseModel):
    authorization_url: str


@router.post(
    PATH + "/sign-in",
    summary="Start connecting by signing in with the provider: where to send the browser",
    responses={409: {"description": "This provider is not available in this deployment"}},
)
async def sign_in(
    user_id: uuid.UUID,
    body: SignInIn,
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    state: StateDep,
) -> SignInOut:
    url = await connection_oauth.begin(
        session,
        sync_services(state),
        state.secrets,
        caller,
        user_id,
        body.provider,
        str(request.url_for("oauth_callback")),
    )
    return SignInOut(authorization_url=url)


@router.get(
    "/oauth/callback",
    name="oauth_callback",
    summary="Where the provider sends the browser back; answers with a redirect to the page",
    include_in_schema=False,
)
async def callback(
    request: Request,
    session: SessionDep,
    state: StateDep,
    state_param: Annotated[str, Query(alias="state", max_length=4096)] = "",
    code: Annotated[str, Query(max_length=4096)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> RedirectResponse:
    """No bearer token here (a browser navigation): the sealed state says who asked."""
    try:
        grant = connection_oauth.open_state(state.secrets, state_param)
        if error or not code:
            return _back(grant.user_id, error="denied" if error == "access_denied" else "failed")
        async with session.begin():
            await connection_oauth.complete(
                session,
                sync_services(state),
                state.secrets,
                grant,
                code,
                str(request.url_for("oauth_callback")),
            )
    except CrmError as failure:
        return _back(None, message=str(failure))
    return _back(grant.user_id)


def _back(user_id: uuid.UUID | None, error: str = "", message: str = "") -> RedirectResponse:
    """To the page, which reopens the connection dialog with the outcome."""
    query = {"connected": str(user_id)} if user_id and not (error or message) else {}
    if user_id and error:
        query = {"connect_user": str(user_id), "connect_error": error}
    if message:
        query = {"connect_error": "failed", "connect_message": message[:300]}
    return RedirectResponse(PAGE + "?" + urlencode(query), status_code=303)
