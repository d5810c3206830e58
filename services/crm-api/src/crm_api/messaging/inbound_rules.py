"""Pure decisions for applying a provider change to a CRM meeting (docs/conflict-rules.md).

Works on contract types only — no SQL, no Kafka — so every rule is a table test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from calsync_contracts.events import DeletionKind, ProviderChange
from calsync_contracts.meeting import MeetingSnapshot
from sync_core.merge import ConflictPolicy, EditTimes, FieldConflict, three_way_merge
from sync_core.views import meeting_view, provider_view


class Action(StrEnum):
    SKIP = "skip"
    """Nothing to do: an echo of our own write, or a delete of something already gone."""
    REFRESH_LINK = "refresh_link"
    """Same content under a new version tag: remember the tag, emit nothing (rule 2)."""
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNLINK = "unlink"
    REVIVE = "revive"
    """Deleted in the provider but changed in the CRM since: keep, unlink, re-announce (rule 10)."""


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    changes: Mapping[str, Any] | None = None
    """Provider-mapped fields to set on the meeting (``attendees`` as ``attendee_view`` values)."""
    conflicts: tuple[FieldConflict, ...] = ()


def decide_upsert(
    change: ProviderChange,
    current: MeetingSnapshot | None,
    base: MeetingSnapshot | None,
    linked_version_tag: str | None,
    policy: ConflictPolicy,
    crm_updated_at: datetime | None,
) -> Decision:
    assert change.fields is not None, "an upsert carries fields"
    incoming = provider_view(change.fields)
    if current is None:
        return Decision(Action.CREATE, incoming)
    if change.version_tag is not None and change.version_tag == linked_version_tag:
        return Decision(Action.SKIP)  # rule 2: the version we already hold
    crm = meeting_view(current)
    if incoming == crm:
        return Decision(Action.REFRESH_LINK)  # rule 2: our own write echoing back
    base_view = meeting_view(base) if base is not None else None
    times = EditTimes(crm=crm_updated_at, provider=change.fields.updated_at)
    outcome = three_way_merge(base_view, crm, incoming, policy, times)
    if not outcome.changed_by_provider:
        return Decision(Action.REFRESH_LINK, conflicts=outcome.conflicts)
    changes = {name: outcome.merged[name] for name in outcome.changed_by_provider}
    return Decision(Action.UPDATE, changes, outcome.conflicts)


def decide_delete(change: ProviderChange, current: MeetingSnapshot | None) -> Decision:
    if current is None:
        return Decision(Action.SKIP)  # rule 12: already gone
    if change.deletion is DeletionKind.LOGICAL:
        return Decision(Action.UNLINK)  # rule 11
    if change.base_version is not None and current.version > change.base_version:
        return Decision(Action.REVIVE)  # rule 10: a modification beats a deletion
    return Decision(Action.DELETE)
