"""Connecting a calendar by OAuth 2.0 (Google): the authorization code flow, RFC 6749 §4.1.

1. ``begin``: for the user being connected (themselves, or anyone for an administrator), make a
   PKCE verifier (RFC 7636 §4.1), a browser nonce, and a ``state`` sealed with crm-api's key
   that names the tenant, the user, who asked, the provider, the verifier and the nonce's hash;
   the sync service turns them into the consent page's address. The nonce goes to the asking
   browser only, as an httpOnly cookie.
2. The browser goes to the provider, the user agrees, the provider sends the browser back to
   ``/oauth/callback`` with a code and the state.
3. ``complete``: the state is opened (it proves the request started here, for whom, at most
   ``STATE_TTL`` ago) and must come back in the browser holding its nonce (RFC 6749 §10.12:
   bound to the user-agent; else a link sent to someone else would connect THEIR calendar to
   the sender's CRM user), the sync service exchanges the code
   for a refresh token, and the connection is saved as any other (tested, the token encrypted
   at rest, announced, synchronised).

The refresh token never reaches the browser; the verifier travels only sealed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts.internal import AuthKind, OAuthFinish, OAuthStart
from crm_api.adapters.orm import CalendarConnection
from crm_api.adapters.secret_box import SecretBox
from crm_api.adapters.sync_services import (
    SyncServiceDown,
    SyncServiceRefused,
    SyncServices,
    SyncServiceUnavailable,
)
from crm_api.auth import Caller
from crm_api.errors import Conflict, CrmError, Invalid
from crm_api.service_layer import connections
from crm_api.service_layer.connections import Account, Choices

OAUTH_PROVIDERS = ("google", "exchange")
PROVIDER_SENDS = ("exchange",)
"""Providers that mail the attendees themselves whenever an event with attendees is written
(Graph cannot add an attendee silently): their connections' invitations are the provider's."""
STATE_TTL = timedelta(minutes=15)


class OAuthFailed(CrmError):
    """The connection could not be completed; ``code`` says why (the page words it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class PendingGrant:
    caller: Caller
    user_id: uuid.UUID
    provider: str
    verifier: str
    browser_hash: str = ""
    """SHA-256 of the nonce kept in the asking browser's cookie."""


@dataclass(frozen=True, slots=True)
class SignInStarted:
    authorization_url: str
    browser_nonce: str
    """For the asking browser's cookie only."""


async def begin(
    session: AsyncSession,
    sync: SyncServices,
    box: SecretBox,
    caller: Caller,
    user_id: uuid.UUID,
    provider: str,
    callback_url: str,
) -> SignInStarted:
    """The provider's consent page's address for connecting ``user_id``'s calendar."""
    if provider not in OAUTH_PROVIDERS:
        raise Invalid(("body", "provider"), f"{provider} is not connected by signing in")
    await connections.check_user(session, caller, user_id)
    verifier, nonce = secrets.token_urlsafe(64), secrets.token_urlsafe(32)
    state = _seal(box, PendingGrant(caller, user_id, provider, verifier, _hash(nonce)))
    request = OAuthStart(redirect_uri=callback_url, state=state, code_verifier=SecretStr(verifier))
    try:
        started = await sync.oauth_start(provider, request)
    except SyncServiceUnavailable:
        raise Conflict(
            f"{provider} synchronisation is not available in this deployment yet"
        ) from None
    except (SyncServiceDown, SyncServiceRefused):
        raise Conflict(
            f"the {provider} sync service did not answer; try again in a moment"
        ) from None
    return SignInStarted(started.authorization_url, nonce)


def open_state(box: SecretBox, state: str, browser_nonce: str | None) -> PendingGrant:
    """The grant the state names, if this browser started it (its cookie's nonce)."""
    try:
        data = json.loads(box.open_recent(state.encode(), int(STATE_TTL.total_seconds())))
        caller = Caller(
            user_id=uuid.UUID(data["c"]), tenant_id=uuid.UUID(data["t"]), is_admin=bool(data["a"])
        )
        grant = PendingGrant(
            caller, uuid.UUID(data["u"]), str(data["p"]), str(data["v"]), str(data["b"])
        )
    except (ValueError, KeyError, TypeError):
        raise OAuthFailed(
            "expired", "The sign-in link has expired or is not ours. Start connecting again."
        ) from None
    if not browser_nonce or not hmac.compare_digest(_hash(browser_nonce), grant.browser_hash):
        raise OAuthFailed(
            "other_browser", "This sign-in was started in another browser. Start again here."
        )
    return grant


async def complete(
    session: AsyncSession,
    sync: SyncServices,
    box: SecretBox,
    grant: PendingGrant,
    code: str,
    callback_url: str,
) -> CalendarConnection:
    """Call inside ``session.begin()``."""
    finish = OAuthFinish(
        redirect_uri=callback_url, code=SecretStr(code), code_verifier=SecretStr(grant.verifier)
    )
    try:
        finished = await sync.oauth_finish(grant.provider, finish)
    except SyncServiceRefused:
        raise OAuthFailed("refused", "The provider did not accept the sign-in.") from None
    except (SyncServiceDown, SyncServiceUnavailable):
        raise OAuthFailed("unavailable", "The calendar sync service did not answer.") from None
    account = Account(
        provider=grant.provider,
        server_url="",
        username=finished.account,
        secret=finished.refresh_token,
        auth_kind=AuthKind.OAUTH_REFRESH,
    )
    choices = Choices(invitation_sender="provider" if grant.provider in PROVIDER_SENDS else None)
    try:
        return await connections.save(
            session, sync, box, grant.caller, grant.user_id, account, choices
        )
    except Conflict as taken:  # a calendar of this account is another user's already
        raise OAuthFailed("taken", str(taken)) from None


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _seal(box: SecretBox, grant: PendingGrant) -> str:
    data = {
        "t": str(grant.caller.tenant_id),
        "c": str(grant.caller.user_id),
        "a": grant.caller.is_admin,
        "u": str(grant.user_id),
        "p": grant.provider,
        "v": grant.verifier,
        "b": grant.browser_hash,
    }
    return box.seal(json.dumps(data)).decode()
