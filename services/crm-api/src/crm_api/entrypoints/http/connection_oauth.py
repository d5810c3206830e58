"""Connecting a calendar by signing in with the provider (Google): the start, which gives the
web app the consent page's address, and the callback the provider sends the browser back to.
Routes only translate; the flow is in ``service_layer.connection_oauth``."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Cookie, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from crm_api.entrypoints.http.connections import PATH, sync_services
from crm_api.entrypoints.http.deps import CallerDep, SessionDep, StateDep
from crm_api.errors import CrmError
from crm_api.service_layer import connection_oauth

router = APIRouter(tags=["calendar connections"])
PAGE = "/app/"
COOKIE = "calsync_sign_in"
CALLBACK = "/oauth/callback"


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: Literal["google", "exchange"] = Field(
        description="google: Google Calendar; exchange: Exchange Online / Microsoft 365."
    )


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
    response: Response,
    caller: CallerDep,
    session: SessionDep,
    state: StateDep,
) -> SignInOut:
    """Sets a cookie for the callback only: the sign-in must come back to this browser."""
    started = await connection_oauth.begin(
        session,
        sync_services(state),
        state.secrets,
        caller,
        user_id,
        body.provider,
        _callback_url(request, state.settings.public_url),
    )
    response.set_cookie(
        COOKIE,
        started.browser_nonce,
        max_age=int(connection_oauth.STATE_TTL.total_seconds()),
        path=CALLBACK,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back, not on cross-site posts
        secure=request.url.scheme == "https",
    )
    return SignInOut(authorization_url=started.authorization_url)


@router.get(
    CALLBACK,
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
    browser_nonce: Annotated[str | None, Cookie(alias=COOKIE)] = None,
) -> RedirectResponse:
    """No bearer token here (a browser navigation): the sealed state says who asked, and the
    cookie that this is the browser they asked from."""
    try:
        grant = connection_oauth.open_state(state.secrets, state_param, browser_nonce)
        if error or not code:
            denied = "denied" if error == "access_denied" else "failed"
            return _forget_nonce(_back(grant.user_id, error=denied))
        async with session.begin():
            await connection_oauth.complete(
                session,
                sync_services(state),
                state.secrets,
                grant,
                code,
                _callback_url(request, state.settings.public_url),
            )
    except connection_oauth.OAuthFailed as failure:
        return _forget_nonce(_back(None, error=failure.code))
    except CrmError:
        return _forget_nonce(_back(None, error="failed"))
    return _forget_nonce(_back(grant.user_id))


def _callback_url(request: Request, public_url: str | None) -> str:
    """The address the provider sends the browser back to: from ``PUBLIC_URL`` when set (behind
    a TLS-terminating proxy the request's own scheme is plain HTTP), else this request's."""
    if public_url:
        return public_url.rstrip("/") + CALLBACK
    return str(request.url_for("oauth_callback"))


def _forget_nonce(response: RedirectResponse) -> RedirectResponse:
    response.delete_cookie(COOKIE, path=CALLBACK)
    return response


def _back(user_id: uuid.UUID | None, error: str = "") -> RedirectResponse:
    """To the page, which reopens the connection dialog with the outcome: a code it words in
    the user's language (never text from the address: a crafted link could say anything)."""
    query = {"connect_error": error} if error else {}
    if user_id is not None:
        query["connect_user" if error else "connected"] = str(user_id)
    return RedirectResponse(PAGE + "?" + urlencode(query), status_code=303)
