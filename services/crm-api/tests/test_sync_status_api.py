"""Sync status, refresh and reported statuses on a real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from calsync_contracts import Origin, Provider
from calsync_contracts.events import ConnectionState, ConnectionStatus, ConnectionStatusChanged
from crm_api.adapters.orm import CalendarConnection, outbox
from crm_api.service_layer.sync_status import apply_connection_status


async def connect(api, user, provider: str = "caldav") -> uuid.UUID:
    connection_id = uuid.uuid4()
    async with api.sessions() as session, session.begin():
        session.add(
            CalendarConnection(
                id=connection_id,
                tenant_id=user.tenant_id,
                user_id=user.user_id,
                provider=provider,
                encrypted_secret=b"sealed",
            )
        )
    return connection_id


def reported(
    tenant_id, connection_id, user_id, state, observed_at, message=""
) -> ConnectionStatusChanged:
    return ConnectionStatusChanged(
        tenant_id=tenant_id,
        origin=Origin.from_connection(connection_id, Provider.CALDAV),
        payload=ConnectionStatus(
            connection_id=connection_id,
            provider=Provider.CALDAV,
            user_id=user_id,
            state=state,
            message=message,
            observed_at=observed_at,
        ),
    )


async def sync_requests(api) -> list[dict]:
    async with api.sessions() as session:
        rows = await session.execute(
            select(outbox.c.partition_key, outbox.c.payload).where(
                outbox.c.event_type == "sync.requested"
            )
        )
        return [dict(row._mapping) for row in rows]


async def test_not_configured_until_a_calendar_is_connected(api) -> None:
    _, _admin, user = await api.tenant()
    client = api.client(user)
    status = (await client.get(f"/users/{user.user_id}/sync-status")).json()
    assert status["state"] == "not_configured"
    assert (await client.post(f"/users/{user.user_id}/sync-status/refresh")).status_code == 409
    await connect(api, user)
    status = (await client.get(f"/users/{user.user_id}/sync-status")).json()
    assert (status["state"], status["provider"]) == ("pending", "caldav")
    assert "secret" not in str(status)


async def test_refresh_enqueues_one_sync_request_keyed_by_connection(api) -> None:
    _, _admin, user = await api.tenant()
    connection_id = await connect(api, user)
    client = api.client(user)
    first = await client.post(
        f"/users/{user.user_id}/sync-status/refresh", json={"reason": "page_load"}
    )
    again = await client.post(f"/users/{user.user_id}/sync-status/refresh")
    assert (first.status_code, again.status_code) == (202, 202)
    [request] = await sync_requests(api)  # the second click within 2 s coalesced
    assert request["partition_key"] == str(connection_id).encode()
    assert request["payload"]["payload"]["reason"] == "page_load"
    assert "sealed" not in str(request["payload"])


async def test_only_admins_refresh_other_users(api) -> None:
    _, admin, user = await api.tenant()
    await connect(api, admin)
    response = await api.client(user).post(f"/users/{admin.user_id}/sync-status/refresh")
    assert response.status_code == 403
    await connect(api, user)
    response = await api.client(admin).post(f"/users/{user.user_id}/sync-status/refresh")
    assert response.status_code == 202


async def test_other_tenants_users_are_404(api) -> None:
    _, _admin, user_a = await api.tenant("A")
    _, _admin_b, user_b = await api.tenant("B")
    response = await api.client(user_b).get(f"/users/{user_a.user_id}/sync-status")
    assert response.status_code == 404


async def test_reported_status_is_shown_and_an_older_report_is_ignored(api) -> None:
    _, _admin, user = await api.tenant()
    connection_id = await connect(api, user)
    now = datetime.now(UTC)
    newer = reported(
        user.tenant_id,
        connection_id,
        user.user_id,
        ConnectionState.FAILED,
        now,
        "server unreachable",
    )
    older = reported(
        user.tenant_id,
        connection_id,
        user.user_id,
        ConnectionState.IN_SYNC,
        now - timedelta(seconds=5),
    )
    async with api.sessions() as session, session.begin():
        assert await apply_connection_status(session, newer)
        assert not await apply_connection_status(session, older)
    statuses = (
        await api.client(user).get("/sync-status", params={"users": [str(user.user_id)]})
    ).json()
    assert [(s["state"], s["message"]) for s in statuses] == [("failed", "server unreachable")]


async def test_a_refresh_after_the_last_request_was_published_is_not_swallowed(api) -> None:
    """A change made after the previous pass started must not wait for the next poll."""
    _, _admin, user = await api.tenant()
    await connect(api, user)
    client = api.client(user)
    await client.post(f"/users/{user.user_id}/sync-status/refresh")
    async with api.sessions() as session, session.begin():
        await session.execute(update(outbox).values(published_at=func.now()))
    await client.post(f"/users/{user.user_id}/sync-status/refresh")
    assert len(await sync_requests(api)) == 2
