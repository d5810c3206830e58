"""Every Kafka topic and its partition key, in one place.

Ordering rule: Kafka keeps order only within a partition, so each topic is keyed by the entity
whose events must stay in order — a meeting's events by meeting id, a connection's by connection
id. Consumers may rely on nothing else.

Dead letters: a consumer group that gives up on a record (after its retry budget) publishes it to
``dead_letter_topic(topic)`` with the failure in headers, then commits, so the partition moves on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Topic(StrEnum):
    MEETING_EVENTS = "crm.meeting-events.v1"
    """MeetingCreated / MeetingUpdated / MeetingDeleted, from crm-api's outbox. Key: meeting id."""

    PROVIDER_CHANGES = "sync.provider-changes.v1"
    """ProviderChangeObserved, from the sync services, applied by crm-api. Key: connection id."""

    SYNC_REQUESTS = "sync.requests.v1"
    """SyncRequested (page load, refresh button, schedule). Key: connection id."""

    CONNECTION_CHANGES = "crm.connection-changes.v1"
    """ConnectionChanged (created / updated / removed; never secrets). Key: connection id."""

    CONNECTION_STATUS = "sync.connection-status.v1"
    """ConnectionStatusChanged, from the sync services, read by crm-api. Key: connection id."""

    INVITATIONS = "notify.invitations.v1"
    """InvitationRequested / InvitationSent / InvitationFailed. Key: meeting id."""


DEAD_LETTER_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic of ``topic`` (one per source topic, shared by its consumer groups;
    the failing group is named in the record's headers)."""
    return f"{topic}{DEAD_LETTER_SUFFIX}"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    """Which id the records are keyed by (documentation; ``partition_key`` computes it)."""


TOPIC_SPECS: tuple[TopicSpec, ...] = (
    TopicSpec(Topic.MEETING_EVENTS, 12, "meeting_id"),
    TopicSpec(Topic.PROVIDER_CHANGES, 12, "connection_id"),
    TopicSpec(Topic.SYNC_REQUESTS, 12, "connection_id"),
    TopicSpec(Topic.CONNECTION_CHANGES, 6, "connection_id"),
    TopicSpec(Topic.CONNECTION_STATUS, 6, "connection_id"),
    TopicSpec(Topic.INVITATIONS, 6, "meeting_id"),
)


def all_topic_specs() -> tuple[TopicSpec, ...]:
    """Every topic the system uses, dead-letter topics included (one partition each: they are
    rare and read by operators, not by a scaled consumer)."""
    dlqs = tuple(TopicSpec(dead_letter_topic(s.name), 1, s.key) for s in TOPIC_SPECS)
    return TOPIC_SPECS + dlqs
