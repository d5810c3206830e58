"""Calendar read benchmark: prints figures, asserts nothing (`make bench`).

What the calendar page asks for most, against crm-api in this process (ASGI, no network) on a
real PostgreSQL holding a tenant of USERS users with MEETINGS meetings each over a year, one in
PRIVATE_EVERY private (a colleague's private meetings are the reads that privacy filters):

1. ``GET /calendar`` for a week of SHOWN users (the week view with colleagues shown);
2. ``GET /meetings?q=…`` (the subject search: the list with the privacy rule in its SQL);
3. ``GET /meetings/{id}`` of a colleague's meeting (the read that asks the series, if any).

Each: ROUNDS sequential requests after WARM_UP, reported as p50 / p95 and requests/s.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from asgi_lifespan import LifespanManager
from cryptography.fernet import Fernet

from calsync_localinfra.postgres import LocalPostgres
from crm_api.adapters.database import make_engine, make_session_factory
from crm_api.adapters.orm import Meeting, Tenant, User
from crm_api.auth import Caller, mint_token
from crm_api.bootstrap import create_app, no_background
from crm_api.migrate import upgrade
from crm_api.settings import Settings

USERS = 20
MEETINGS = 500  # per user: about two a working day for a year
PRIVATE_EVERY = 10
SHOWN = 5
ROUNDS = 200
WARM_UP = 20
SECRET = "bench-secret-" + "x" * 32
YEAR_START = datetime(2027, 1, 4, tzinfo=UTC)


async def seed(database_url: str) -> tuple[Caller, list[uuid.UUID], list[uuid.UUID]]:
    """A tenant, its users and their meetings; the caller, the users and some colleague's
    public meeting ids."""
    engine = make_engine(database_url, pool_size=2)
    sessions = make_session_factory(engine)
    tenant = uuid.uuid4()
    users = [uuid.uuid4() for _ in range(USERS)]
    colleague_meetings: list[uuid.UUID] = []
    rng = random.Random(7)
    async with sessions() as session, session.begin():
        session.add(Tenant(id=tenant, name="Bench"))
        await session.flush()
        session.add_all(
            User(id=u, tenant_id=tenant, name=f"User {i}", email=f"u{i}@bench.example")
            for i, u in enumerate(users)
        )
        await session.flush()
        for owner in users:
            for n in range(MEETINGS):
                start = YEAR_START + timedelta(days=rng.randrange(365), hours=rng.randrange(8, 17))
                meeting_id = uuid.uuid4()
                session.add(
                    Meeting(
                        id=meeting_id,
                        tenant_id=tenant,
                        ical_uid=f"{meeting_id}@bench",
                        version=1,
                        owner_user_id=owner,
                        subject=f"Customer call {n}",
                        all_day=False,
                        starts_at=start,
                        ends_at=start + timedelta(minutes=45),
                        timezone="Europe/Copenhagen",
                        private=n % PRIVATE_EVERY == 0,
                    )
                )
                if owner != users[0] and n % PRIVATE_EVERY and len(colleague_meetings) < 100:
                    colleague_meetings.append(meeting_id)
    await engine.dispose()
    return Caller(users[0], tenant, False), users, colleague_meetings


async def timed(call: Callable[[int], Awaitable[httpx.Response]]) -> list[float]:
    for i in range(WARM_UP):
        (await call(i)).raise_for_status()
    samples = []
    for i in range(ROUNDS):
        began = time.perf_counter()
        (await call(i)).raise_for_status()
        samples.append(time.perf_counter() - began)
    return samples


def report(name: str, samples: list[float]) -> None:
    cuts = statistics.quantiles(samples, n=100)
    print(
        f"{name:<44} p50 {cuts[49] * 1000:6.1f} ms   p95 {cuts[94] * 1000:6.1f} ms   "
        f"{len(samples) / sum(samples):6.0f} requests/s"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder, LocalPostgres(folder, durable=False) as postgres:
        database_url = postgres.create_database("bench_calendar").async_url
        await asyncio.to_thread(upgrade, database_url)
        began = time.perf_counter()
        caller, users, colleague_meetings = await seed(database_url)
        print(f"seeded {USERS} users x {MEETINGS} meetings in {time.perf_counter() - began:.1f} s")
        settings = Settings.model_validate(
            {
                "database_url": database_url,
                "jwt_secret": SECRET,
                "secrets_key": Fernet.generate_key().decode(),
                "environment": "test",
                "kafka_bootstrap_servers": "127.0.0.1:1",
            }
        )
        app = create_app(settings, background=no_background)
        token = mint_token(SECRET, caller, timedelta(hours=1))
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers={"Authorization": f"Bearer {token}"},
            ) as api,
        ):

            async def week(i: int) -> httpx.Response:
                start = YEAR_START + timedelta(weeks=i % 50)
                params = [("start", start.isoformat()), ("end", (start + timedelta(7)).isoformat())]
                return await api.get(
                    "/calendar", params=params + [("users", str(u)) for u in users[:SHOWN]]
                )

            async def search(i: int) -> httpx.Response:
                return await api.get("/meetings", params={"q": f"call {i % 400}", "limit": 50})

            async def read(i: int) -> httpx.Response:
                return await api.get(f"/meetings/{colleague_meetings[i % len(colleague_meetings)]}")

            report(f"GET /calendar, a week of {SHOWN} users", await timed(week))
            report("GET /meetings?q= (subject search)", await timed(search))
            report("GET /meetings/{id}, a colleague's", await timed(read))


if __name__ == "__main__":
    asyncio.run(main())
