"""The delivery log on PostgreSQL: what makes each mail go out once.

``claim`` inserts the row as ``sending`` before the mail is handed to SMTP; ``sent`` and
``failed`` close it. A row found still ``sending`` means a crash between the SMTP server's
acceptance and ``sent``: that one mail goes again, with the same Message-ID (the only duplicate
the design allows)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.tables import deliveries


class DeliveryState(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryKey:
    meeting_id: UUID
    meeting_version: int
    method: str
    recipient: str

    @classmethod
    def of(cls, meeting_id: UUID, version: int, method: str, email: str) -> DeliveryKey:
        return cls(meeting_id, version, method, email.strip().lower())

    def where(self) -> ColumnElement[bool]:
        return and_(
            deliveries.c.meeting_id == self.meeting_id,
            deliveries.c.meeting_version == self.meeting_version,
            deliveries.c.method == self.method,
            deliveries.c.recipient == self.recipient,
        )


class DeliveryLog:
    def __init__(self, db: AsyncEngine) -> None:
        self.db = db

    async def claim(self, key: DeliveryKey, tenant_id: UUID, message_id: str) -> DeliveryState:
        """The row's state after making sure it exists: SENDING means "send it now"."""
        async with self.db.begin() as connection:
            await connection.execute(
                insert(deliveries)
                .values(
                    meeting_id=key.meeting_id,
                    meeting_version=key.meeting_version,
                    method=key.method,
                    recipient=key.recipient,
                    tenant_id=tenant_id,
                    message_id=message_id,
                    state=DeliveryState.SENDING.value,
                )
                .on_conflict_do_nothing()
            )
            state = await connection.scalar(select(deliveries.c.state).where(key.where()))
        return DeliveryState(str(state))

    async def attempted(self, key: DeliveryKey, error: str) -> None:
        await self._set(key, last_error=error, attempts=deliveries.c.attempts + 1)

    async def sent(self, key: DeliveryKey) -> None:
        await self._set(key, state=DeliveryState.SENT.value, attempts=deliveries.c.attempts + 1)

    async def failed(self, key: DeliveryKey, error: str) -> None:
        await self._set(
            key,
            state=DeliveryState.FAILED.value,
            last_error=error,
            attempts=deliveries.c.attempts + 1,
        )

    async def _set(self, key: DeliveryKey, **values: object) -> None:
        async with self.db.begin() as connection:
            await connection.execute(
                update(deliveries).where(key.where()).values(updated_at=func.now(), **values)
            )
