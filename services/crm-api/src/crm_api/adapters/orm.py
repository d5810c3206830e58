"""The database schema (SQLAlchemy 2 declarative). Every tenant-owned table has ``tenant_id``;
repositories always filter on it, so a request can only ever reach its own tenant's rows.

Alembic migrations in ``services/crm-api/migrations`` create these tables; a test checks the
migrated schema matches this metadata.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from calsync_platform.outbox import define_inbox_table, define_outbox_table

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {uuid.UUID: UUID(as_uuid=True), dict[str, Any]: JSONB}


outbox = define_outbox_table(Base.metadata)
inbox = define_inbox_table(Base.metadata)


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4)


def _tenant() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200))
    conflict_policy: Mapped[str] = mapped_column(String(32), server_default="later_edit_wins")
    sync_months_back: Mapped[int] = mapped_column(Integer, server_default="3")
    sync_months_ahead: Mapped[int] = mapped_column(Integer, server_default="12")
    created_at: Mapped[datetime] = _created()


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email"),)
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    time_zone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    language: Mapped[str] = mapped_column(String(8), server_default="en")
    display_colour: Mapped[str] = mapped_column(String(7), server_default="#3366cc")
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = _created()


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()


class Person(Base):
    __tablename__ = "persons"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()


class MeetingType(Base):
    __tablename__ = "meeting_types"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()


class CustomFieldDefinition(Base):
    __tablename__ = "custom_field_definitions"
    __table_args__ = (UniqueConstraint("tenant_id", "key", name="uq_custom_fields_tenant_key"),)
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    choices: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    required: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = _created()


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (
        # A series and its edited occurrences share one UID (RFC 5545 §3.8.4.4).
        UniqueConstraint(
            "tenant_id",
            "ical_uid",
            "recurrence_id",
            name="uq_meetings_tenant_ical_uid",
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_meetings_owner_window", "tenant_id", "owner_user_id", "starts_at", "ends_at"),
    )
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    ical_uid: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    owner_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    booked_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    meeting_type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("meeting_types.id", ondelete="SET NULL")
    )
    subject: Mapped[str] = mapped_column(String(500))
    location: Mapped[str] = mapped_column(String(500), server_default="")
    description: Mapped[str] = mapped_column(Text, server_default="")
    description_html: Mapped[str] = mapped_column(Text, server_default="")
    all_day: Mapped[bool] = mapped_column(Boolean)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """Timed: the start. All-day: midnight UTC of the start date (for window queries only)."""
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    private: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    status: Mapped[str] = mapped_column(String(16), server_default="confirmed")
    custom_fields: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    series_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE")
    )
    recurrence_id: Mapped[str | None] = mapped_column(String(40))
    invitation_sequence: Mapped[int] = mapped_column(Integer, server_default="0")
    """iCalendar SEQUENCE of the invitations: +1 per significant change (RFC 5546 §2.1.4)."""
    invitation_template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("email_templates.id", ondelete="SET NULL")
    )
    invitation_subject: Mapped[str | None] = mapped_column(String(500))
    invitation_body: Mapped[str | None] = mapped_column(Text)
    """The meeting's own copy of its template, as edited in the meeting form (merge codes)."""
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    participants: Mapped[list[MeetingParticipant]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="MeetingParticipant.position"
    )


class MeetingParticipant(Base):
    __tablename__ = "meeting_participants"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    meeting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(String(200), server_default="")
    email: Mapped[str | None] = mapped_column(String(320))
    response: Mapped[str] = mapped_column(String(16), server_default="needs-action")


class MeetingRevision(Base):
    """Every version of every meeting: the merge base of inbound provider changes."""

    __tablename__ = "meeting_revisions"
    meeting_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = _tenant()
    snapshot: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = _created()


class CalendarConnection(Base):
    __tablename__ = "calendar_connections"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", name="uq_connections_user"),)
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(320), server_default="")
    server_url: Mapped[str | None] = mapped_column(String(2000))
    encrypted_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    calendars: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    invitation_sender: Mapped[str] = mapped_column(String(16), server_default="notifier")
    auth_kind: Mapped[str] = mapped_column(String(16), server_default="basic")
    mailbox: Mapped[str | None] = mapped_column(String(320))
    """Exchange Server: the mailbox whose calendar is synced (``account`` is the login)."""
    impersonate: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    """Exchange Server: ``account`` is a service account acting for ``mailbox``."""
    calendar_names: Mapped[dict[str, str]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    calendar_by_meeting_type: Mapped[dict[str, str]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    shown_fields: Mapped[list[str]] = mapped_column(
        JSONB, server_default=text("""'["participants", "meeting_type", "custom_fields"]'::jsonb""")
    )
    sync_interval_seconds: Mapped[int] = mapped_column(Integer, server_default="60")
    config_version: Mapped[int] = mapped_column(Integer, server_default="1")
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    status_message: Mapped[str] = mapped_column(Text, server_default="")
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()


class CalendarClaim(Base):
    """One CRM user per provider calendar: a second claim on the same calendar is refused."""

    __tablename__ = "calendar_claims"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "provider", "server_url", "calendar_id", name="uq_claims_calendar"
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = _tenant()
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(16))
    server_url: Mapped[str] = mapped_column(String(2000), server_default="")
    calendar_id: Mapped[str] = mapped_column(String(2000))


class MeetingLink(Base):
    """Which provider item a meeting is, per connection (maintained from inbound changes)."""

    __tablename__ = "meeting_links"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id", name="uq_links_external"),
        UniqueConstraint("connection_id", "meeting_id", name="uq_links_meeting"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = _tenant()
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="CASCADE")
    )
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(2000))
    calendar_id: Mapped[str] = mapped_column(String(2000), server_default="")
    version_tag: Mapped[str | None] = mapped_column(String(500))
    synced_version: Mapped[int | None] = mapped_column(Integer)


class SyncConflict(Base):
    """A field both sides changed, and who won (docs/conflict-rules.md rule 8)."""

    __tablename__ = "sync_conflicts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = _tenant()
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("calendar_connections.id", ondelete="CASCADE")
    )
    field: Mapped[str] = mapped_column(String(64))
    crm_value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    provider_value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    winner: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = _created()


class EmailTemplate(Base):
    """A "synced meeting" email template: its body and subject use merge codes, checked on save
    (``calsync_invitations.templates``)."""

    __tablename__ = "email_templates"
    id: Mapped[uuid.UUID] = _id()
    tenant_id: Mapped[uuid.UUID] = _tenant()
    type: Mapped[str] = mapped_column(String(32), server_default="synced_meeting")
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, server_default="")
    language: Mapped[str] = mapped_column(String(16), server_default="en")
    areas: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InvitationDelivery(Base):
    """What the notifier reported for one mail: the delivery log per meeting and recipient. No
    foreign key to meetings: cancellations are reported after the meeting is gone."""

    __tablename__ = "invitation_deliveries"
    tenant_id: Mapped[uuid.UUID] = _tenant()
    meeting_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    meeting_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    method: Mapped[str] = mapped_column(String(16), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
