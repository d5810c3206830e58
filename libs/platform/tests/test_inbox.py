"""The consumer inbox against real PostgreSQL: a (consumer, event id) is claimed at most once,
and a claim lives or dies with the transaction of the effect it guards."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from calsync_platform.inbox import claim, inbox

pytestmark = pytest.mark.integration


async def claim_in_own_transaction(outbox_db: Any, consumer: str, event_id: uuid.UUID) -> bool:
    async with outbox_db.sessions() as session, session.begin():
        return await claim(session, consumer, event_id)


async def rows(outbox_db: Any, event_id: uuid.UUID) -> int:
    async with outbox_db.sessions() as session:
        statement = select(func.count()).select_from(inbox).where(inbox.c.event_id == event_id)
        return int((await session.execute(statement)).scalar_one())


async def test_claim_is_true_once_then_false_for_the_same_consumer_and_event(outbox_db):
    event_id = uuid.uuid4()

    assert await claim_in_own_transaction(outbox_db, "crm-api", event_id) is True
    assert await claim_in_own_transaction(outbox_db, "crm-api", event_id) is False
    assert await claim_in_own_transaction(outbox_db, "crm-api", event_id) is False
    # Another consumer group applies the same event independently; another event is new.
    assert await claim_in_own_transaction(outbox_db, "notifier", event_id) is True
    assert await claim_in_own_transaction(outbox_db, "crm-api", uuid.uuid4()) is True
    assert await rows(outbox_db, event_id) == 2


async def test_rolled_back_claim_leaves_no_row(outbox_db):
    event_id = uuid.uuid4()

    async with outbox_db.sessions() as session:
        transaction = await session.begin()
        assert await claim(session, "crm-api", event_id) is True
        await transaction.rollback()  # the effect failed: the claim must go with it

    assert await rows(outbox_db, event_id) == 0
    assert await claim_in_own_transaction(outbox_db, "crm-api", event_id) is True


@pytest.mark.parametrize(("first_commits", "second_claims"), [(True, False), (False, True)])
async def test_concurrent_claims_of_one_event_apply_it_once(
    outbox_db, first_commits, second_claims
):
    """Two consumers racing on a redelivered event: the second waits for the first's transaction
    and claims only if the first rolled back."""
    event_id = uuid.uuid4()
    async with outbox_db.sessions() as first, outbox_db.sessions() as second:
        first_tx = await first.begin()
        assert await claim(first, "crm-api", event_id) is True
        second_tx = await second.begin()
        racing = asyncio.create_task(claim(second, "crm-api", event_id))
        await asyncio.sleep(0.2)
        assert not racing.done(), "the second claim must wait for the first transaction"
        await (first_tx.commit() if first_commits else first_tx.rollback())
        assert await asyncio.wait_for(racing, 5) is second_claims
        await second_tx.commit()
    assert await rows(outbox_db, event_id) == 1
