"""The sync service's own state (each sync service has its own database; nothing is shared with
crm-api). SQLAlchemy Core tables; the schema is created by the Alembic migrations beside them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

connections = Table(
    "connections",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("provider", String(16), nullable=False),
    Column("config", JSONB, nullable=False),
    Column("config_version", Integer, nullable=False),
    Column("removed", Boolean, nullable=False, server_default=text("false")),
    # health (sync_core.health.Health)
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("retry_at", DateTime(timezone=True)),
    Column("message", Text, nullable=False, server_default=""),
    Column("last_success_at", DateTime(timezone=True)),
    # scheduling: a pass is due when asked for, when changes wait, or when the poll interval ends
    Column("sync_requested_at", DateTime(timezone=True)),
    Column("full_requested", Boolean, nullable=False, server_default=text("false")),
    Column("next_poll_at", DateTime(timezone=True), server_default=func.now()),
    Column("last_started_at", DateTime(timezone=True)),
    # one replica at a time: a lease that expires when its holder dies
    Column("lease_owner", String(200)),
    Column("lease_until", DateTime(timezone=True)),
)

links = Table(
    "links",
    metadata,
    Column("connection_id", Uuid, nullable=False),
    Column("external_id", String(2000), nullable=False),
    Column("calendar_id", String(2000), nullable=False),
    Column("version_tag", String(500)),
    Column("provider_hash", String(64)),
    Column("crm_meeting_id", Uuid),
    Column("ical_uid", String(1000)),
    Column("crm_version", Integer),
    Column("crm_hash", String(64)),
    Column("display_hash", String(64)),
    Column("base", JSONB(none_as_null=True)),
    Column("last_error", Text),
    Column("pending", JSONB(none_as_null=True)),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    PrimaryKeyConstraint("connection_id", "external_id"),
    Index("ix_links_meeting", "connection_id", "crm_meeting_id"),
    Index("ix_links_uid", "connection_id", "ical_uid"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("connection_id", Uuid, nullable=False),
    Column("calendar_id", String(2000), nullable=False),
    Column("cursor", Text),
    PrimaryKeyConstraint("connection_id", "calendar_id"),
)

bad_items = Table(
    "bad_items",
    metadata,
    Column("connection_id", Uuid, nullable=False),
    Column("external_id", String(2000), nullable=False),
    Column("calendar_id", String(2000), nullable=False),
    Column("error", Text, nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("connection_id", "external_id"),
)

forgotten_meetings = Table(
    "forgotten_meetings",
    metadata,
    Column("connection_id", Uuid, nullable=False),
    Column("meeting_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("connection_id", "meeting_id"),
)

pending_changes = Table(
    "pending_changes",
    metadata,
    Column("connection_id", Uuid, nullable=False),
    Column("meeting_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("change", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    PrimaryKeyConstraint("connection_id", "meeting_id"),
)

push_channels = Table(
    "push_channels",
    metadata,
    # A provider's push subscription for one calendar of a connection (a Google channel, a
    # Graph subscription, an EWS push subscription): renewed before it expires, replaced when
    # the calendar or the address changes. A notification names the channel, never the user.
    Column("channel_id", String(64), primary_key=True),
    Column("connection_id", Uuid, nullable=False),
    Column("calendar_id", String(2000), nullable=False),
    Column("resource_id", String(2000), nullable=False),
    Column("address", String(2000), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_push_channels_connection", "connection_id"),
)
