"""Connecting a calendar by OAuth 2.0 (Google): the authorization code flow, RFC 6749 §4.1.

1. ``begin``: for the user being connected (themselves, or anyone for an administrator), make a
   PKCE verifier (RFC 7636 §4.1) and a ``state`` sealed with crm-api's key that names the
   tenant, the user, who asked, the provider and the verifier; the sync service turns them into
   the consent page's address.
2. The browser goes to the provider, the user agrees, the provider sends the browser back to
   ``/oauth/callback`` with a code and the state.
3. ``complete``: the state is opened (it proves the request started here, for whom, at most
   ``STATE_TTL`` ago: the CSRF defence of RFC 6749 §10.12), the sync service exchanges the code
   for a refresh token, and the connection is saved as any other (tested, the token encrypted
   at rest, announced, synchronised).

The refresh token never reaches the browser; the verifier travels only sealed.
"""

from __future__ import annotations

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

OAUTH_PROVIDERS = ("google",)
STATE_TTL = timedelta(minutes=15)


class OAuthFailed(CrmError):
    """The connection could not be completed; the message is meant for the user."""


@dataclass(frozen=True, slots=True)
class PendingGrant:
    caller: Caller
    user_id: uuid.UUID
    provider: str
    verifier: str


async def begin(
    session: AsyncSession,
    sync: SyncServices,
    box: SecretBox,
    caller: Caller,
    user_id: uuid.UUID,
    provider: str,
    callback_url: str,
) -> str:
    """The provider's consent page's address for connecting ``user_id``'s calendar."""
    if provider not in OAUTH_PROVIDERS:
        raise Invalid(("body", "provider"), f"{provider} is not connected by signing in")
    await connections.check_user(session, caller, user_id)
    verifier = secrets.token_urlsafe(64)
    state = _seal(box, PendingGrant(caller, user_id, provider, verifier))
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
    return started.authorization_url


def open_state(box: SecretBox, state: str) -> PendingGrant:
    try:
        data = json.loads(box.open_recent(state.encode(), int(STATE_TTL.total_seconds())))
        caller = Caller(
            user_id=uuid.UUID(data["c"]), tenant_id=uuid.UUID(data["t"]), is_admin=bool(data["a"])
        )
        return PendingGrant(caller, uuid.UUID(data["u"]), str(data["p"]), str(data["v"]))
    except (ValueError, KeyError, TypeError):
        raise OAuthFailed(
            "The sign-in link has expired or is not ours. Start connecting again."
        ) from None


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
        raise OAuthFailed("Google did not accept the sign-in. Start connecting again.") from None
    except (SyncServiceDown, SyncServiceUnavailable):
        raise OAuthFailed("The calendar sync service did not answer; try again.") from None
    account = Account(
        provider=grant.provider,
        server_url="",
        username=finished.account,
        secret=finished.refresh_token,
        auth_kind=AuthKind.OAUTH_REFRESH,
    )
    return await connections.save(
        session, sync, box, grant.caller, grant.user_id, account, Choices()
    )


def _seal(box: SecretBox, grant: PendingGrant) -> str:
    data = {
        "t": str(grant.caller.tenant_id),
        "c": str(grant.caller.user_id),
        "a": grant.caller.is_admin,
        "u": str(grant.user_id),
        "p": grant.provider,
        "v": grant.verifier,
    }
    return box.seal(json.dumps(data)).decode()
