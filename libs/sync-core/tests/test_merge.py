from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_core.merge import ConflictPolicy, EditTimes, Side, three_way_merge

EARLY = datetime(2026, 11, 1, tzinfo=UTC)
LATE = EARLY + timedelta(hours=1)
CRM_LATER = EditTimes(crm=LATE, provider=EARLY)
PROVIDER_LATER = EditTimes(crm=EARLY, provider=LATE)


def test_edits_to_different_fields_on_both_sides_both_survive() -> None:
    base = {"subject": "Demo", "location": "Room 1"}
    crm = {"subject": "Demo v2", "location": "Room 1"}
    provider = {"subject": "Demo", "location": "Room 7"}
    outcome = three_way_merge(base, crm, provider, ConflictPolicy.LATER_EDIT_WINS, CRM_LATER)
    assert outcome.merged == {"subject": "Demo v2", "location": "Room 7"}
    assert outcome.conflicts == ()
    assert outcome.changed_by_provider == {"location"}


@pytest.mark.parametrize(
    ("policy", "times", "expected", "side"),
    [
        (ConflictPolicy.LATER_EDIT_WINS, PROVIDER_LATER, "provider's", Side.PROVIDER),
        (ConflictPolicy.LATER_EDIT_WINS, CRM_LATER, "crm's", Side.CRM),
        (ConflictPolicy.CRM_WINS, PROVIDER_LATER, "crm's", Side.CRM),
        (ConflictPolicy.PROVIDER_WINS, CRM_LATER, "provider's", Side.PROVIDER),
    ],
)
def test_same_field_edited_on_both_sides_is_settled_by_policy_and_reported(
    policy: ConflictPolicy, times: EditTimes, expected: str, side: Side
) -> None:
    outcome = three_way_merge(
        {"subject": "base"}, {"subject": "crm's"}, {"subject": "provider's"}, policy, times
    )
    assert outcome.merged["subject"] == expected
    assert [(c.field, c.winner) for c in outcome.conflicts] == [("subject", side)]


def test_same_change_on_both_sides_is_no_conflict() -> None:
    outcome = three_way_merge(
        {"subject": "a"}, {"subject": "b"}, {"subject": "b"}, ConflictPolicy.CRM_WINS, CRM_LATER
    )
    assert outcome.conflicts == ()
    assert outcome.changed_by_provider == frozenset()


def test_crm_only_fields_are_never_touched_by_the_provider() -> None:
    crm = {"subject": "a", "custom_fields": {"budget": 5}}
    outcome = three_way_merge(
        None, crm, {"subject": "b"}, ConflictPolicy.PROVIDER_WINS, PROVIDER_LATER
    )
    assert outcome.merged == {"subject": "b", "custom_fields": {"budget": 5}}


def test_without_a_base_every_difference_is_a_conflict() -> None:
    outcome = three_way_merge(
        None, {"subject": "a"}, {"subject": "b"}, ConflictPolicy.LATER_EDIT_WINS, CRM_LATER
    )
    assert outcome.merged == {"subject": "a"}
    assert len(outcome.conflicts) == 1


def test_unknown_edit_times_favour_the_crm() -> None:
    assert EditTimes(crm=None, provider=None).later() is Side.CRM
    assert EditTimes(crm=None, provider=LATE).later() is Side.PROVIDER


values = st.sampled_from(["a", "b", "c"])
records = st.fixed_dictionaries({"subject": values, "location": values, "description": values})


@given(base=records, crm=records, provider=records, policy=st.sampled_from(ConflictPolicy))
def test_a_field_only_one_side_touched_is_never_lost(base, crm, provider, policy) -> None:
    outcome = three_way_merge(base, crm, provider, policy, PROVIDER_LATER)
    for name in base:
        if crm[name] != base[name] and provider[name] == base[name]:
            assert outcome.merged[name] == crm[name]
        if provider[name] != base[name] and crm[name] == base[name]:
            assert outcome.merged[name] == provider[name]
        assert outcome.merged[name] in (crm[name], provider[name])


@given(base=records, crm=records, policy=st.sampled_from(ConflictPolicy))
def test_merging_an_unchanged_provider_copy_changes_nothing(base, crm, policy) -> None:
    outcome = three_way_merge(base, crm, base, policy, PROVIDER_LATER)
    assert outcome.merged == crm
    assert outcome.conflicts == ()


@given(base=records, crm=records, provider=records, policy=st.sampled_from(ConflictPolicy))
def test_merge_is_idempotent(base, crm, provider, policy) -> None:
    once = three_way_merge(base, crm, provider, policy, PROVIDER_LATER).merged
    twice = three_way_merge(base, once, provider, policy, PROVIDER_LATER).merged
    assert twice == once
