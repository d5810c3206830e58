"""Calendar connection set-up (per user; administrators for anyone in their tenant) and the
tenant's sync window. Routes only translate; the rules are in ``service_layer.connections``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from calsync_contracts import Provider
from calsync_contracts.internal import AuthKind, CalendarInfo, ProbeVerdict
from crm_api.adapters.orm import CalendarConnection
from crm_api.adapters.sync_services import SyncServices
from crm_api.domain.accounts import MAILBOX_PATTERN
from crm_api.entrypoints.http.deps import CallerDep, SessionDep, StateDep
from crm_api.errors import Invalid
from crm_api.service_layer import connections
from crm_api.service_layer.connections import Account, Choices

router = APIRouter(tags=["calendar connections"])

ProviderName = Literal["caldav", "google", "exchange"]
ShownField = Literal["participants", "meeting_type", "custom_fields"]


class AccountIn(BaseModel):
    """Where and how to sign in. Exchange Server on premises is provider ``exchange`` with
    ``auth_kind`` basic: ``server_url`` its EWS address (https), ``username``/``password`` the
    mailbox owner's, or with ``impersonate`` a service account's; ``mailbox`` the address whose
    calendar is synced."""

    model_config = ConfigDict(extra="forbid")
    provider: ProviderName
    server_url: str = Field(
        min_length=1,
        max_length=2000,
        examples=["https://dav.example.com/", "https://mail.example.com/EWS/Exchange.asmx"],
    )
    username: str = Field(default="", max_length=320)
    password: SecretStr | None = Field(default=None, max_length=1000)
    bearer_token: SecretStr | None = Field(default=None, max_length=4000)
    auth_kind: AuthKind = AuthKind.BASIC
    mailbox: str | None = Field(
        default=None,
        max_length=320,
        pattern=MAILBOX_PATTERN,
        examples=["ann@corp.example"],
        description=(
            "Exchange Server: the mailbox whose calendar is synced; defaults to the username "
            "when that is an address."
        ),
    )
    impersonate: bool = Field(
        default=False,
        description=(
            "Exchange Server: username and password are a service account's holding Exchange's "
            "ApplicationImpersonation role, acting for the mailbox."
        ),
    )

    def account(self) -> Account:
        if self.auth_kind is AuthKind.BEARER:
            if self.bearer_token is None:
                raise Invalid(("body", "bearer_token"), "an OAuth2 bearer token is required")
            secret = self.bearer_token
        else:
            if self.password is None:
                raise Invalid(("body", "password"), "a password is required")
            secret = self.password
        return Account(
            self.provider,
            self.server_url,
            self.username,
            secret,
            self.auth_kind,
            mailbox=self.mailbox or "",
            impersonate=self.impersonate,
        )


class ChoicesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    calendars: list[Annotated[str, Field(max_length=2000)]] | None = Field(
        default=None, max_length=50, description="Calendar ids from the connection test."
    )
    calendar_by_meeting_type: dict[uuid.UUID, str] | None = None
    shown_fields: list[ShownField] | None = Field(
        default=None, description="CRM-only details shown in the provider event."
    )
    sync_interval_seconds: int | None = Field(default=None, ge=10, le=86400)
    invitation_sender: Literal["notifier", "provider"] | None = None

    def choices(self) -> Choices:
        mapping = self.calendar_by_meeting_type
        return Choices(
            calendars=self.calendars,
            calendar_by_meeting_type=None
            if mapping is None
            else {str(k): v for k, v in mapping.items()},
            shown_fields=list(self.shown_fields) if self.shown_fields is not None else None,
            sync_interval_seconds=self.sync_interval_seconds,
            invitation_sender=self.invitation_sender,
        )


class ConnectionIn(AccountIn, ChoicesIn):
    model_config = ConfigDict(extra="forbid")


class ProbeOut(BaseModel):
    verdict: ProbeVerdict
    message: str
    usable: bool
    calendars: list[CalendarInfo]


class ConnectionOut(BaseModel):
    """A connection as the web app shows it. Never the password or token."""

    id: uuid.UUID
    user_id: uuid.UUID
    provider: str
    server_url: str | None
    username: str
    auth_kind: str
    mailbox: str | None = Field(description="Exchange Server: the mailbox synced.")
    impersonate: bool = Field(description="Exchange Server: signed in as a service account.")
    calendars: list[CalendarInfo]
    calendar_by_meeting_type: dict[str, str]
    shown_fields: list[str]
    sync_interval_seconds: int
    invitation_sender: str
    state: str
    message: str
    last_success_at: datetime | None

    @classmethod
    def of(cls, c: CalendarConnection) -> ConnectionOut:
        return cls(
            id=c.id,
            user_id=c.user_id,
            provider=c.provider,
            server_url=c.server_url,
            username=c.account,
            auth_kind=c.auth_kind,
            mailbox=c.mailbox,
            impersonate=c.impersonate,
            calendars=[CalendarInfo(id=i, name=c.calendar_names.get(i, i)) for i in c.calendars],
            calendar_by_meeting_type=c.calendar_by_meeting_type,
            shown_fields=c.shown_fields,
            sync_interval_seconds=c.sync_interval_seconds,
            invitation_sender=c.invitation_sender,
            state=c.state,
            message=c.status_message,
            last_success_at=c.last_success_at,
        )


class SyncWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    months_back: int = Field(ge=0, le=120)
    months_ahead: int = Field(ge=1, le=120)


def sync_services(state: StateDep) -> SyncServices:
    token = state.settings.internal_api_token
    return SyncServices(
        state.sync_services,
        state.settings.sync_service_urls,
        token.get_secret_value() if token else None,
    )


PATH = "/users/{user_id}/calendar-connection"


class ProviderOut(BaseModel):
    provider: str
    available: bool = Field(description="False: this deployment has no sync service for it yet.")


@router.get("/calendar-providers", summary="The calendar providers and whether they can be used")
async def providers(caller: CallerDep, state: StateDep) -> list[ProviderOut]:
    urls = state.settings.sync_service_urls
    return [ProviderOut(provider=p.value, available=p.value in urls) for p in Provider]


@router.post(
    PATH + "/test",
    summary="Test an account before saving it: a verdict in words, and its calendars",
    responses={409: {"description": "This provider is not available in this deployment"}},
)
async def test_account(
    user_id: uuid.UUID, body: AccountIn, caller: CallerDep, session: SessionDep, state: StateDep
) -> ProbeOut:
    result = await connections.test_account(
        session, sync_services(state), caller, user_id, body.account(), state.settings.ssrf_allow
    )
    return ProbeOut(**result.model_dump(), usable=result.usable)


@router.put(
    PATH,
    summary="Connect (or reconnect) the user's calendar: tests it, stores it, synchronises",
    responses={409: {"description": "A calendar is already synchronised for another user"}},
)
async def save(
    user_id: uuid.UUID, body: ConnectionIn, caller: CallerDep, session: SessionDep, state: StateDep
) -> ConnectionOut:
    async with session.begin():
        saved = await connections.save(
            session,
            sync_services(state),
            state.secrets,
            caller,
            user_id,
            body.account(),
            body.choices(),
            state.settings.ssrf_allow,
        )
        return ConnectionOut.of(saved)


@router.get(PATH, summary="The user's calendar connection (without secrets)")
async def get(user_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> ConnectionOut:
    return ConnectionOut.of(await connections.connection_of(session, caller, user_id))


@router.get(
    PATH + "/calendars",
    summary="The connected account tested again with its saved sign-in: verdict and calendars",
)
async def account_calendars(
    user_id: uuid.UUID, caller: CallerDep, session: SessionDep, state: StateDep
) -> ProbeOut:
    result = await connections.account_calendars(
        session, sync_services(state), state.secrets, caller, user_id
    )
    return ProbeOut(**result.model_dump(), usable=result.usable)


@router.patch(PATH, summary="Change calendars, type mapping, shown fields or poll interval")
async def change(
    user_id: uuid.UUID,
    body: Annotated[ChoicesIn, Body()],
    caller: CallerDep,
    session: SessionDep,
    state: StateDep,
) -> ConnectionOut:
    async with session.begin():
        changed = await connections.change(
            session, sync_services(state), state.secrets, caller, user_id, body.choices()
        )
        return ConnectionOut.of(changed)


@router.delete(
    PATH,
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Disconnect: meetings are unlinked, nothing is deleted anywhere",
)
async def remove(user_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> None:
    async with session.begin():
        await connections.remove(session, caller, user_id)


@router.get("/settings/sync-window", summary="The tenant's sync window in months")
async def get_window(caller: CallerDep, session: SessionDep) -> SyncWindow:
    from crm_api.adapters.orm import Tenant

    tenant = await session.get(Tenant, caller.tenant_id)
    assert tenant is not None
    return SyncWindow(months_back=tenant.sync_months_back, months_ahead=tenant.sync_months_ahead)


@router.put("/settings/sync-window", summary="Change the tenant's sync window (administrators)")
async def put_window(body: SyncWindow, caller: CallerDep, session: SessionDep) -> SyncWindow:
    async with session.begin():
        await connections.set_sync_window(session, caller, body.months_back, body.months_ahead)
    return body
