"""Connecting a user's calendar: test, save (secret encrypted at rest), change, remove.

Every change is announced as ``connection.changed`` (no secret in it, ever) and followed by a
full ``sync.requested``, in the same transaction (outbox). One CRM user per provider calendar:
a second claim is refused with the name of the user who holds it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts import Origin, Provider
from calsync_contracts.events import (
    ConnectionAction,
    ConnectionChange,
    ConnectionChanged,
    ConnectionConfig,
    InvitationSender,
    SyncReason,
    SyncRequest,
    SyncRequested,
)
from calsync_contracts.internal import (
    AuthKind,
    Credentials,
    ProbeRequest,
    ProbeResult,
    ProbeVerdict,
)
from calsync_platform.outbox import enqueue
from crm_api.adapters.orm import CalendarClaim, CalendarConnection, Tenant, User
from crm_api.adapters.secret_box import SecretBox
from crm_api.adapters.sync_services import SyncServices, SyncServiceUnavailable
from crm_api.auth import Caller
from crm_api.domain.accounts import check_ews_url, is_exchange_server, mailbox_for
from crm_api.errors import Conflict, Forbidden, Invalid, NotFound

DEFAULT_SHOWN = ["participants", "meeting_type", "custom_fields"]


@dataclass(frozen=True, slots=True)
class Account:
    """Where and how to log in; ``secret`` is the password or the OAuth2 bearer token.
    Exchange Server only: ``mailbox``, the mailbox whose calendar is synced, and
    ``impersonate``, when ``username`` is a service account acting for it."""

    provider: str
    server_url: str
    username: str
    secret: SecretStr
    auth_kind: AuthKind
    mailbox: str = ""
    impersonate: bool = False


def checked(account: Account, plain_http_hosts: Sequence[str]) -> Account:
    """A new account as typed, checked (``domain.accounts``), its mailbox filled in."""
    mailbox = mailbox_for(
        account.provider, account.auth_kind, account.username, account.mailbox, account.impersonate
    )
    if is_exchange_server(account.provider, account.auth_kind):
        check_ews_url(account.server_url, plain_http_hosts)
    return replace(account, mailbox=mailbox)


@dataclass(frozen=True, slots=True)
class Choices:
    calendars: list[str] | None = None
    calendar_by_meeting_type: dict[str, str] | None = None
    shown_fields: list[str] | None = None
    sync_interval_seconds: int | None = None
    invitation_sender: str | None = None


# --- who may ---------------------------------------------------------------------------------


async def check_user(session: AsyncSession, caller: Caller, user_id: uuid.UUID) -> None:
    """Users manage their own connection; administrators anyone's in their tenant."""
    found = await session.scalar(
        select(User.id).where(User.tenant_id == caller.tenant_id, User.id == user_id)
    )
    if found is None:
        raise NotFound("user")
    if user_id != caller.user_id and not caller.is_admin:
        raise Forbidden("only administrators can manage another user's calendar connection")


async def connection_of(
    session: AsyncSession, caller: Caller, user_id: uuid.UUID
) -> CalendarConnection:
    await check_user(session, caller, user_id)
    connection = await _find(session, caller.tenant_id, user_id)
    if connection is None:
        raise NotFound("calendar connection")
    return connection


async def _find(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> CalendarConnection | None:
    return await session.scalar(
        select(CalendarConnection)
        .where(CalendarConnection.tenant_id == tenant_id, CalendarConnection.user_id == user_id)
        .with_for_update()
    )


# --- test ------------------------------------------------------------------------------------


async def test_account(
    session: AsyncSession,
    sync: SyncServices,
    caller: Caller,
    user_id: uuid.UUID,
    account: Account,
    plain_http_hosts: Sequence[str],
) -> ProbeResult:
    """``plain_http_hosts``: the deployment's SSRF allow-list (``domain.accounts``)."""
    await check_user(session, caller, user_id)
    return await _probe(sync, checked(account, plain_http_hosts))


async def _probe(sync: SyncServices, account: Account) -> ProbeResult:
    request = ProbeRequest(
        server_url=account.server_url,
        credentials=Credentials(
            kind=account.auth_kind,
            username=account.username,
            secret=account.secret,
            mailbox=account.mailbox,
            impersonate=account.impersonate,
        ),
    )
    try:
        return await sync.probe(account.provider, request)
    except SyncServiceUnavailable:
        raise Conflict(
            f"{account.provider} synchronisation is not available in this deployment yet"
        ) from None


# --- save --------------------------------------------------------------------------------------


async def save(
    session: AsyncSession,
    sync: SyncServices,
    box: SecretBox,
    caller: Caller,
    user_id: uuid.UUID,
    account: Account,
    choices: Choices,
    plain_http_hosts: Sequence[str] = (),
) -> CalendarConnection:
    """Call inside ``session.begin()``: tests the account, then stores and announces it.
    ``plain_http_hosts``: the deployment's SSRF allow-list (``domain.accounts``)."""
    await check_user(session, caller, user_id)
    account = checked(account, plain_http_hosts)
    result = await _probe(sync, account)
    _require_usable(result)
    connection = await _find(session, caller.tenant_id, user_id)
    created = connection is None
    was_exchange_server = connection is not None and is_exchange_server(
        connection.provider, connection.auth_kind
    )
    if connection is None:
        connection = CalendarConnection(
            id=uuid.uuid4(), tenant_id=caller.tenant_id, user_id=user_id, config_version=0
        )
        session.add(connection)
    connection.provider = account.provider
    connection.server_url = account.server_url
    connection.account = account.username
    connection.auth_kind = account.auth_kind.value
    connection.mailbox = account.mailbox or None
    connection.impersonate = account.impersonate
    if _provider_always_sends(connection):
        connection.invitation_sender = "provider"  # never both, whatever the request said
    elif is_exchange_server(connection.provider, connection.auth_kind) and not was_exchange_server:
        connection.invitation_sender = "provider"  # the default; the request may choose ours
    connection.encrypted_secret = box.seal(account.secret.get_secret_value())
    connection.calendar_names = {c.id: c.name for c in result.calendars}
    connection.state = "pending"
    connection.status_message = ""
    _apply(connection, choices, result, default_calendars=True)
    await _claim(session, connection)
    await _announce(
        session, connection, ConnectionAction.CREATED if created else ConnectionAction.UPDATED
    )
    return connection


def _require_usable(result: ProbeResult) -> None:
    if result.usable:
        return
    field_name = "password" if result.verdict is ProbeVerdict.WRONG_CREDENTIALS else "server_url"
    # The verdict as the code: the page words it in its user's language, as a test's verdict.
    raise Invalid(("body", field_name), result.message, f"verdict_{result.verdict.value}")


def _apply(
    connection: CalendarConnection,
    choices: Choices,
    result: ProbeResult | None,
    default_calendars: bool = False,
) -> None:
    known = {c.id for c in result.calendars} if result else set(connection.calendar_names)
    calendars = choices.calendars
    if calendars is None and default_calendars:
        # Reconnecting keeps the calendars the account still has; another account (or
        # provider) starts from its first calendar.
        kept = [c for c in connection.calendars or [] if c in known]
        calendars = kept or [c.id for c in (result.calendars if result else [])][:1]
    if calendars is not None:
        unknown = [c for c in calendars if c not in known]
        if unknown or not calendars:
            raise Invalid(
                ("body", "calendars"),
                f"choose at least one calendar of this account; unknown: {', '.join(unknown)}"
                if unknown
                else "choose at least one calendar of this account",
            )
        connection.calendars = list(dict.fromkeys(calendars))
    if choices.calendar_by_meeting_type is not None:
        wrong = [
            c for c in choices.calendar_by_meeting_type.values() if c not in connection.calendars
        ]
        if wrong:
            raise Invalid(
                ("body", "calendar_by_meeting_type"),
                "meeting types can only be mapped to chosen calendars",
            )
        connection.calendar_by_meeting_type = dict(choices.calendar_by_meeting_type)
    if choices.shown_fields is not None:
        connection.shown_fields = list(choices.shown_fields)
    if choices.sync_interval_seconds is not None:
        connection.sync_interval_seconds = choices.sync_interval_seconds
    if choices.invitation_sender is not None:
        if choices.invitation_sender == "notifier" and _provider_always_sends(connection):
            raise Invalid(
                ("body", "invitation_sender"),
                "Exchange Online mails the attendees itself: its invitations cannot be ours",
            )
        connection.invitation_sender = choices.invitation_sender


def _provider_always_sends(connection: CalendarConnection) -> bool:
    """Graph writes attendees only by inviting them (no silent add, unlike Google's
    ``sendUpdates=none`` or CalDAV's SCHEDULE-AGENT=CLIENT): Exchange Online's invitations are
    Exchange's, never ours.

    Exchange Server (EWS, ``auth_kind`` basic) is not held to this: EWS saves a meeting with
    attendees without mailing them (``SendMeetingInvitations="SendToNone"`` on CreateItem and
    UpdateItem, ``SendMeetingCancellations="SendToNone"`` on DeleteItem), which sync-exchange
    does when our notifier sends. So either may send for it; it starts as Exchange's, like
    Exchange Online, the behaviour its users know from Outlook (``save``)."""
    return connection.provider == "exchange" and connection.auth_kind == "oauth_refresh"


async def _claim(session: AsyncSession, connection: CalendarConnection) -> None:
    """One CRM user per calendar (issue: a second claim is refused with a clear error)."""
    await session.execute(delete(CalendarClaim).where(CalendarClaim.connection_id == connection.id))
    for calendar_id in connection.calendars:
        holder = await session.scalar(
            select(User.name)
            .join(CalendarClaim, CalendarClaim.user_id == User.id)
            .where(
                CalendarClaim.tenant_id == connection.tenant_id,
                CalendarClaim.provider == connection.provider,
                CalendarClaim.server_url == (connection.server_url or ""),
                CalendarClaim.calendar_id == calendar_id,
            )
        )
        if holder is not None:
            name = connection.calendar_names.get(calendar_id, calendar_id)
            raise Conflict(f"the calendar {name!r} is already synchronised for {holder}")
        session.add(
            CalendarClaim(
                tenant_id=connection.tenant_id,
                connection_id=connection.id,
                user_id=connection.user_id,
                provider=connection.provider,
                server_url=connection.server_url or "",
                calendar_id=calendar_id,
            )
        )
    await session.flush()


# --- change / remove -----------------------------------------------------------------------------


async def change(
    session: AsyncSession,
    sync: SyncServices,
    box: SecretBox,
    caller: Caller,
    user_id: uuid.UUID,
    choices: Choices,
) -> CalendarConnection:
    connection = await connection_of(session, caller, user_id)
    result = None
    if choices.calendars is not None:  # the account's calendars may have changed: ask again
        result = await _probe(sync, stored_account(connection, box))
        _require_usable(result)
        connection.calendar_names = {c.id: c.name for c in result.calendars}
    _apply(connection, choices, result)
    await _claim(session, connection)
    await _announce(session, connection, ConnectionAction.UPDATED)
    return connection


async def account_calendars(
    session: AsyncSession, sync: SyncServices, box: SecretBox, caller: Caller, user_id: uuid.UUID
) -> ProbeResult:
    """The saved account tested again: its calendars now (to change which are synchronised,
    for accounts whose secret the user never typed, as after signing in with Google)."""
    connection = await connection_of(session, caller, user_id)
    return await _probe(sync, stored_account(connection, box))


async def remove(session: AsyncSession, caller: Caller, user_id: uuid.UUID) -> None:
    """The sync service forgets its links (a logical unlink): nothing is deleted in the
    calendar or in the CRM."""
    connection = await connection_of(session, caller, user_id)
    await _announce(session, connection, ConnectionAction.REMOVED, sync=False)
    await session.delete(connection)


def stored_account(connection: CalendarConnection, box: SecretBox) -> Account:
    if connection.encrypted_secret is None:
        raise Conflict("the connection has no stored credentials: connect it again")
    return Account(
        provider=connection.provider,
        server_url=connection.server_url or "",
        username=connection.account,
        secret=SecretStr(box.open(connection.encrypted_secret)),
        auth_kind=AuthKind(connection.auth_kind),
        mailbox=connection.mailbox or "",
        impersonate=connection.impersonate,
    )


# --- events ---------------------------------------------------------------------------------------


async def _announce(
    session: AsyncSession,
    connection: CalendarConnection,
    action: ConnectionAction,
    sync: bool = True,
) -> None:
    connection.config_version += 1
    await session.flush()
    config = await config_of(session, connection)
    await enqueue(
        session,
        ConnectionChanged(
            tenant_id=connection.tenant_id,
            origin=Origin.crm(),
            payload=ConnectionChange(action=action, config=config),
        ),
    )
    if sync:
        await enqueue(
            session,
            SyncRequested(
                tenant_id=connection.tenant_id,
                origin=Origin.crm(),
                payload=SyncRequest(
                    connection_id=connection.id,
                    provider=Provider(connection.provider),
                    user_id=connection.user_id,
                    reason=SyncReason.CONNECTION_CHANGED,
                    full=True,
                ),
            ),
        )


async def config_of(session: AsyncSession, connection: CalendarConnection) -> ConnectionConfig:
    tenant = await session.get(Tenant, connection.tenant_id)
    user = await session.get(User, connection.user_id)
    assert tenant is not None
    assert user is not None
    return ConnectionConfig(
        connection_id=connection.id,
        provider=Provider(connection.provider),
        user_id=connection.user_id,
        # Exchange Server: the mailbox synced, which may not be the login (impersonation).
        account=connection.mailbox or connection.account,
        server_url=connection.server_url,
        calendars=list(connection.calendars),
        sync_window_months_back=tenant.sync_months_back,
        sync_window_months_ahead=tenant.sync_months_ahead,
        invitation_sender=InvitationSender(connection.invitation_sender),
        calendar_by_meeting_type=dict(connection.calendar_by_meeting_type),
        shown_fields=list(connection.shown_fields),
        sync_interval_seconds=connection.sync_interval_seconds,
        time_zone=user.time_zone,
        config_version=max(connection.config_version, 1),
    )


# --- the tenant's sync window --------------------------------------------------------------------


async def user_zone_changed(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The user's zone rides in their connection's config (all-day meetings at Exchange):
    the config is announced again; nothing needs syncing for it."""
    connection = await session.scalar(
        select(CalendarConnection).where(CalendarConnection.user_id == user_id)
    )
    if connection is not None:
        await _announce(session, connection, ConnectionAction.UPDATED, sync=False)


async def set_sync_window(session: AsyncSession, caller: Caller, back: int, ahead: int) -> Tenant:
    """Administrators only; every connection of the tenant is re-announced with the new window
    (meetings leaving it are unlinked, never deleted)."""
    if not caller.is_admin:
        raise Forbidden("only administrators can change the sync window")
    tenant = await session.get(Tenant, caller.tenant_id, with_for_update=True)
    if tenant is None:
        raise NotFound("tenant")
    tenant.sync_months_back, tenant.sync_months_ahead = back, ahead
    await session.flush()
    connections = await session.scalars(
        select(CalendarConnection).where(CalendarConnection.tenant_id == caller.tenant_id)
    )
    for connection in connections:
        await _announce(session, connection, ConnectionAction.UPDATED)
    return tenant
