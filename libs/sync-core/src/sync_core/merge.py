"""Field-level three-way merge of a CRM meeting and its provider copy against the last synced
version (the merge base), as vdirsyncer's status-table merge does for whole items:

- a field only one side changed since the base takes that side's value (both edits survive when
  they touch different fields);
- a field both sides changed to the same value is no conflict;
- a field both sides changed differently is a conflict, settled by the tenant's policy — the
  later edit wins by default, or the CRM / the provider always wins — and reported, so the
  outcome can be recorded and shown.

Without a base (first link, or the base was lost) every differing field is a conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ConflictPolicy(StrEnum):
    LATER_EDIT_WINS = "later_edit_wins"
    CRM_WINS = "crm_wins"
    PROVIDER_WINS = "provider_wins"


class Side(StrEnum):
    CRM = "crm"
    PROVIDER = "provider"


@dataclass(frozen=True, slots=True)
class FieldConflict:
    field: str
    crm_value: Any
    provider_value: Any
    winner: Side


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    merged: dict[str, Any]
    changed_by_provider: frozenset[str] = field(default_factory=frozenset)
    """Fields whose merged value differs from the CRM's current value."""
    conflicts: tuple[FieldConflict, ...] = ()


@dataclass(frozen=True, slots=True)
class EditTimes:
    crm: datetime | None
    provider: datetime | None

    def later(self) -> Side:
        """The side edited last; ties and unknown times favour the CRM (the system of record)."""
        if self.provider is not None and (self.crm is None or self.provider > self.crm):
            return Side.PROVIDER
        return Side.CRM


def winner(policy: ConflictPolicy, times: EditTimes) -> Side:
    match policy:
        case ConflictPolicy.CRM_WINS:
            return Side.CRM
        case ConflictPolicy.PROVIDER_WINS:
            return Side.PROVIDER
        case ConflictPolicy.LATER_EDIT_WINS:
            return times.later()


def three_way_merge(
    base: Mapping[str, Any] | None,
    crm: Mapping[str, Any],
    provider: Mapping[str, Any],
    policy: ConflictPolicy,
    times: EditTimes,
) -> MergeOutcome:
    """Merges the fields present in ``provider`` into ``crm``. Fields the provider does not carry
    (CRM-only fields) are never touched: a provider sending nothing for a field is no edit
    (Odoo #117134)."""
    merged = dict(crm)
    conflicts: list[FieldConflict] = []
    for name, provider_value in provider.items():
        crm_value = crm.get(name)
        if provider_value == crm_value:
            continue
        base_value = base.get(name) if base is not None else _MISSING
        if base_value == provider_value:
            continue  # only the CRM changed it: keep the CRM's value
        if base_value == crm_value:
            merged[name] = provider_value  # only the provider changed it
            continue
        side = winner(policy, times)
        conflicts.append(FieldConflict(name, crm_value, provider_value, side))
        if side is Side.PROVIDER:
            merged[name] = provider_value
    changed = frozenset(n for n in provider if merged.get(n) != crm.get(n))
    return MergeOutcome(merged=merged, changed_by_provider=changed, conflicts=tuple(conflicts))


_MISSING: Any = object()
