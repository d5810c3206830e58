"""The delivery log: one row per (meeting version, recipient, method) — the once-only key."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
)

metadata = MetaData()

deliveries = Table(
    "deliveries",
    metadata,
    Column("meeting_id", Uuid, primary_key=True),
    Column("meeting_version", Integer, primary_key=True),
    Column("method", String(16), primary_key=True),
    Column("recipient", String(320), primary_key=True, comment="lower-cased address"),
    Column("tenant_id", Uuid, nullable=False),
    Column("message_id", String(300), nullable=False),
    Column(
        "state",
        String(16),
        nullable=False,
        comment="sending: handed to SMTP maybe (a crash here re-sends once, same Message-ID); "
        "sent; failed (permanent, 5xx)",
    ),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
