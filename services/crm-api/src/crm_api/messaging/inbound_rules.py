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
    REANNOUNCE = "reannounce"
    """Nothing to take from the provider, but it lacks the CRM's values (the CRM won a conflict,
    or changed fields the provider did not know): announce the meeting so the sync service
    writes it (rule 8)."""


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
    base_view = merge_base(change, base)
    times = EditTimes(crm=crm_updated_at, provider=change.fields.updated_at)
    outcome = three_way_merge(base_view, crm, incoming, policy, times)
    if not outcome.changed_by_provider:
        if crm != incoming:  # the provider lacks CRM values (a won conflict, a CRM edit)
            return Decision(Action.REANNOUNCE, conflicts=outcome.conflicts)
        return Decision(Action.REFRESH_LINK, conflicts=outcome.conflicts)
    changes = {name: outcome.merged[name] for name in outcome.changed_by_provider}
    return Decision(Action.UPDATE, changes, outcome.conflicts)


def merge_base(change: ProviderChange, base: MeetingSnapshot | None) -> dict[str, Any] | None:
    """The item as the sync service last knew it (``base_fields``) is the merge base: it is
    what the provider's side looked like before this change, whatever the CRM did since. Older
    events without it fall back to the CRM revision at ``base_version``."""
    if change.base_fields is not None:
        return provider_view(change.base_fields)
    return meeting_view(base) if base is not None else None


def decide_delete(change: ProviderChange, current: MeetingSnapshot | None) -> Decision:
    if current is None:
        return Decision(Action.SKIP)  # rule 12: already gone
    if change.deletion is DeletionKind.LOGICAL:
        return Decision(Action.UNLINK)  # rule 11
    if _changed_in_crm_since(change, current):
        return Decision(Action.REVIVE)  # rule 10: a modification beats a deletion
    return Decision(Action.DELETE)


def _changed_in_crm_since(change: ProviderChange, current: MeetingSnapshot) -> bool:
    """Did the CRM change what the provider showed when it was deleted there? Compared by
    content: a version number also counts the CRM applying the provider's own edits."""
    if change.base_fields is not None:
        return meeting_view(current) != provider_view(change.base_fields)
    return change.base_version is not None and current.version > change.base_version
