"""``python -m crm_api.seed``: demo data for development and demos, in the database at
DATABASE_URL (run ``python -m crm_api.migrate`` first).

Idempotent: the tenant named "Demo" and everything below it is reused when it exists (users by
email, organisations/persons/meeting types by name, custom fields by key), so running it again
changes nothing. Prints ONE JSON object on stdout::

    {"tenant_id": "...", "users": [{"id", "name", "email", "is_admin", "token"}, ...]}

with 30-day bearer tokens signed with JWT_SECRET. ``seed(settings)`` is the same, for callers
that add more demo data (e.g. meetings) afterwards.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from calsync_contracts import Origin
from calsync_contracts.meeting import AllDaySpan, TimedSpan
from crm_api.adapters.database import make_engine, make_session_factory
from crm_api.adapters.orm import (
    CustomFieldDefinition,
    Meeting,
    MeetingType,
    Organisation,
    Person,
    Tenant,
    User,
)
from crm_api.auth import Caller, mint_token
from crm_api.service_layer import directory
from crm_api.service_layer.meetings import EventContext, MeetingDraft, create_meeting
from crm_api.settings import Settings

TENANT_NAME = "Demo"
TOKEN_TTL = timedelta(days=30)
_LOCK_KEY = 0x5EED_C12  # serialises concurrent seed runs (pg_advisory_xact_lock)

USERS: tuple[dict[str, Any], ...] = (
    {
        "name": "Alice Admin",
        "email": "alice@demo.example",
        "is_admin": True,
        "language": "en",
        "time_zone": "Europe/Copenhagen",
        "display_colour": "#1f77b4",
    },
    {
        "name": "Bjørn",
        "email": "bjorn@demo.example",
        "is_admin": False,
        "language": "da",
        "time_zone": "Europe/Copenhagen",
        "display_colour": "#2ca02c",
    },
    {
        "name": "Zofia",
        "email": "zofia@demo.example",
        "is_admin": False,
        "language": "pl",
        "time_zone": "Europe/Warsaw",
        "display_colour": "#d62728",
    },
)
ORGANISATIONS = ("Nordlys Shipping A/S", "Wisła Logistics sp. z o.o.")
PERSONS: tuple[tuple[str, str, str], ...] = (  # name, email, organisation
    ("Karen Holm", "karen.holm@nordlys.example", ORGANISATIONS[0]),
    ("Mads Berg", "mads.berg@nordlys.example", ORGANISATIONS[0]),
    ("Piotr Nowak", "piotr.nowak@wisla.example", ORGANISATIONS[1]),
)
MEETING_TYPES = ("Customer visit", "Internal")
CUSTOM_FIELD: dict[str, Any] = {
    "key": "deal_value",
    "label": "Deal value",
    "type": "number",
    "choices": [],
    "required": False,
}


@dataclass(frozen=True, slots=True)
class SeededUser:
    id: str
    name: str
    email: str
    is_admin: bool
    token: str


@dataclass(frozen=True, slots=True)
class SeedResult:
    tenant_id: str
    users: list[SeededUser]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


async def seed(settings: Settings) -> SeedResult:
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        sessions = make_session_factory(engine)
        async with sessions() as session, session.begin():
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            tenant_id = await _tenant(session)
            users = [await _user(session, tenant_id, values) for values in USERS]
            await _organisations_and_persons(session, tenant_id)
            await _meeting_types(session, tenant_id)
            await _custom_field(session, tenant_id)
            await _demo_meetings(session, tenant_id, users)
    finally:
        await engine.dispose()
    secret = settings.jwt_secret.get_secret_value()
    return SeedResult(
        tenant_id=str(tenant_id),
        users=[
            SeededUser(
                id=str(user.id),
                name=user.name,
                email=user.email,
                is_admin=user.is_admin,
                token=mint_token(secret, Caller(user.id, tenant_id, user.is_admin), TOKEN_TTL),
            )
            for user in users
        ],
    )


async def _demo_meetings(session: AsyncSession, tenant_id: uuid.UUID, users: list[User]) -> None:
    """A few meetings this week, only when the tenant has none; through the meeting service,
    so they are announced on the bus like any other (no invitations)."""
    if await session.scalar(select(Meeting.id).where(Meeting.tenant_id == tenant_id).limit(1)):
        return
    monday = date.today() - timedelta(days=date.today().weekday())
    alice, bjorn, zofia = users
    plans = [
        (alice, "Customer visit: Acme", 1, time(10), 90, False),
        (bjorn, "Pipeline review", 2, time(9), 60, False),
        (zofia, "Dentist", 3, time(14), 60, True),
    ]
    for owner, subject, weekday, start, minutes, private in plans:
        zone = ZoneInfo(owner.time_zone)
        begins = datetime.combine(monday + timedelta(days=weekday), start, tzinfo=zone)
        draft = MeetingDraft(
            owner_user_id=owner.id,
            subject=subject,
            time=TimedSpan(
                start=begins, end=begins + timedelta(minutes=minutes), timezone=owner.time_zone
            ),
            private=private,
        )
        await create_meeting(session, tenant_id, draft, EventContext(Origin.crm(), alice.id))
    fair = MeetingDraft(
        owner_user_id=bjorn.id,
        subject="Trade fair",
        time=AllDaySpan(start_date=monday + timedelta(days=3), end_date=monday + timedelta(days=5)),
    )
    await create_meeting(session, tenant_id, fair, EventContext(Origin.crm(), alice.id))


async def _tenant(session: AsyncSession) -> uuid.UUID:
    existing = await session.scalar(
        select(Tenant.id).where(Tenant.name == TENANT_NAME).order_by(Tenant.created_at).limit(1)
    )
    if existing is not None:
        return existing
    tenant = Tenant(id=uuid.uuid4(), name=TENANT_NAME)
    session.add(tenant)
    await session.flush()
    return tenant.id


async def _user(session: AsyncSession, tenant_id: uuid.UUID, values: dict[str, Any]) -> User:
    existing = await session.scalar(
        select(User).where(User.tenant_id == tenant_id, User.email == values["email"])
    )
    if existing is not None:
        return existing
    return await directory.create_user(session, tenant_id, values)


async def _organisations_and_persons(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    organisation_ids: dict[str, uuid.UUID] = {}
    for name in ORGANISATIONS:
        found = await session.scalar(
            select(Organisation.id).where(
                Organisation.tenant_id == tenant_id, Organisation.name == name
            )
        )
        if found is None:
            found = (await directory.create_organisation(session, tenant_id, {"name": name})).id
        organisation_ids[name] = found
    for name, email, organisation in PERSONS:
        found = await session.scalar(
            select(Person.id).where(Person.tenant_id == tenant_id, Person.email == email)
        )
        if found is None:
            values = {
                "name": name,
                "email": email,
                "organisation_id": organisation_ids[organisation],
            }
            await directory.create_person(session, tenant_id, values)


async def _meeting_types(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    for name in MEETING_TYPES:
        found = await session.scalar(
            select(MeetingType.id).where(
                MeetingType.tenant_id == tenant_id, MeetingType.name == name
            )
        )
        if found is None:
            await directory.create_meeting_type(session, tenant_id, {"name": name})


async def _custom_field(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    found = await session.scalar(
        select(CustomFieldDefinition.id).where(
            CustomFieldDefinition.tenant_id == tenant_id,
            CustomFieldDefinition.key == CUSTOM_FIELD["key"],
        )
    )
    if found is None:
        await directory.create_custom_field(session, tenant_id, CUSTOM_FIELD)


def main() -> None:
    settings = Settings()  # from the environment
    print(asyncio.run(seed(settings)).to_json())


if __name__ == "__main__":
    main()
