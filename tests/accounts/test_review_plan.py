"""Completing an access review, planned from plain decisions: what is revoked, changed, removed, kept and
skipped, in which order, and what the completion event says. No database: pytest-django refuses a query
from a test without the db fixture, so these pass only while the plan stays pure."""

import pytest

from accounts.actions.reviews import Decision, plan_completion
from core.errors import Conflict

ADMIN_ID = 1


def member(item_id, decision, member_id, new_role=""):
    return Decision(item_id=item_id, subject=f"member {item_id}", decision=decision, is_credential=False,
                    member_id=member_id, api_key_id=None, new_role=new_role)


def key(item_id, decision, api_key_id):
    return Decision(item_id=item_id, subject=f"key {item_id}", decision=decision, is_credential=True,
                    member_id=None, api_key_id=api_key_id)


def ids(decisions):
    return [d.item_id for d in decisions]


def test_each_decision_lands_in_its_step():
    plan = plan_completion([
        member(1, "keep", ADMIN_ID), member(2, "change_role", 20, "viewer"), member(3, "revoke", 30),
        key(4, "revoke", 40), key(5, "keep", 50),
    ], completed_by_id=ADMIN_ID)
    assert ids(plan.revoked_keys) == [4]
    assert ids(plan.role_changes) == [2]
    assert ids(plan.removals) == [3]
    assert ids(plan.kept) == [1, 5]
    assert plan.skipped == ()
    assert plan.completed_metadata == {"kept": 2, "changed": 1, "revoked": 2, "skipped": []}


def test_promotions_come_before_demotions_and_otherwise_the_items_order_is_kept():
    plan = plan_completion([
        member(1, "change_role", 10, "viewer"), member(2, "change_role", 20, "admin"),
        member(3, "change_role", 30, "developer"), member(4, "change_role", 40, "admin"),
        member(5, "keep", ADMIN_ID),
    ], completed_by_id=ADMIN_ID)
    assert ids(plan.role_changes) == [2, 4, 1, 3]


def test_every_reviewed_key_is_known_so_that_a_successor_with_its_own_entry_follows_its_own_decision():
    plan = plan_completion([key(1, "revoke", 10), key(2, "keep", 11), key(3, "revoke", None),
                            member(4, "keep", ADMIN_ID)], completed_by_id=ADMIN_ID)
    assert plan.reviewed_key_ids == {10, 11}


def test_a_decision_whose_subject_is_gone_is_skipped_named_and_not_counted():
    plan = plan_completion([
        member(1, "keep", ADMIN_ID), member(2, "change_role", None, "viewer"), member(3, "revoke", None),
        key(4, "revoke", None), member(5, "keep", None), member(6, "revoke", 60),
    ], completed_by_id=ADMIN_ID)
    assert ids(plan.skipped) == [2, 3, 4]
    assert ids(plan.kept) == [1, 5], "keeping what is gone changes nothing, and is counted as kept"
    assert (plan.role_changes, plan.revoked_keys, ids(plan.removals)) == ((), (), [6])
    assert plan.completed_metadata == {"kept": 2, "changed": 0, "revoked": 1, "skipped": [
        {"item": "member 2", "decision": "change_role", "reason": "member removed"},
        {"item": "member 3", "decision": "revoke", "reason": "member removed"},
        {"item": "key 4", "decision": "revoke", "reason": "key deleted"},
    ]}


def test_every_item_needs_a_decision_and_the_first_five_undecided_are_named():
    decisions = [member(1, "keep", ADMIN_ID)] + [member(n, "", 10 + n) for n in range(2, 9)]
    with pytest.raises(Conflict) as refused:
        plan_completion(decisions, completed_by_id=ADMIN_ID)
    assert str(refused.value.detail) == "Decide on every entry first: member 2, member 3, member 4, member 5, member 6."


def test_a_review_cannot_remove_the_admin_who_completes_it():
    with pytest.raises(Conflict, match="another Admin must complete it"):
        plan_completion([member(1, "revoke", ADMIN_ID), member(2, "keep", 20)], completed_by_id=ADMIN_ID)
    plan = plan_completion([member(1, "revoke", ADMIN_ID), member(2, "keep", 20)], completed_by_id=20)
    assert ids(plan.removals) == [1], "another Admin may"


def test_an_empty_review_plans_nothing():
    plan = plan_completion([], completed_by_id=ADMIN_ID)
    assert plan.completed_metadata == {"kept": 0, "changed": 0, "revoked": 0, "skipped": []}
