"""The message envelope every event on the bus carries.

Each event type is its own frozen pydantic model that extends ``Envelope`` with a literal ``type``
and ``schema_version`` and a typed ``payload``. Consumers read the envelope fields without knowing
the payload (routing, idempotency, tracing), then the payload by ``type``.

Compatibility rule (see docs/adr/0003-event-versioning.md): within one ``schema_version`` fields
are only ever ADDED, with defaults; readers ignore fields they do not know (``extra="ignore"``).
A breaking change is a new ``schema_version`` of the event, published alongside the old one until
every consumer reads it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class Frozen(BaseModel):
    """Base of every contract model: immutable, tolerant of fields added by newer writers."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Provider(StrEnum):
    GOOGLE = "google"
    EXCHANGE = "exchange"
    CALDAV = "caldav"


class OriginKind(StrEnum):
    CRM = "crm"
    PROVIDER = "provider"


class Origin(Frozen):
    """Where a change started. A sync service never writes back a change whose origin is its own
    connection: that is how echo loops are cut at the source."""

    kind: OriginKind
    connection_id: UUID | None = None
    provider: Provider | None = None

    @model_validator(mode="after")
    def _provider_origin_names_its_connection(self) -> Origin:
        if self.kind is OriginKind.PROVIDER and (
            self.connection_id is None or self.provider is None
        ):
            raise ValueError("a provider origin needs connection_id and provider")
        if self.kind is OriginKind.CRM and (self.connection_id or self.provider):
            raise ValueError("a crm origin has no connection_id or provider")
        return self

    @classmethod
    def crm(cls) -> Origin:
        return cls(kind=OriginKind.CRM)

    @classmethod
    def from_connection(cls, connection_id: UUID, provider: Provider) -> Origin:
        return cls(kind=OriginKind.PROVIDER, connection_id=connection_id, provider=provider)

    def is_connection(self, connection_id: UUID) -> bool:
        return self.kind is OriginKind.PROVIDER and self.connection_id == connection_id


def utc_now() -> datetime:
    return datetime.now(UTC)


class Envelope(Frozen):
    """Fields common to every event. ``type`` and ``schema_version`` are narrowed to literals by
    each concrete event class."""

    event_id: UUID = Field(
        default_factory=uuid4, description="Unique per event; consumers dedupe on it."
    )
    type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    tenant_id: UUID
    correlation_id: UUID = Field(
        default_factory=uuid4,
        description="Shared by every event caused, directly or not, by one user action or poll.",
    )
    causation_id: UUID | None = Field(
        default=None, description="event_id of the event that caused this one, if any."
    )
    origin: Origin

    def caused(self) -> dict[str, Any]:
        """Envelope fields for an event caused by this one (same tenant and correlation)."""
        return {
            "tenant_id": self.tenant_id,
            "correlation_id": self.correlation_id,
            "causation_id": self.event_id,
        }
