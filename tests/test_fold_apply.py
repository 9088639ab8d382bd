"""Applying and undoing folds of an adult's second old account, with the plan and without it.

The district (see ``account_support``) has two adults with two old accounts
each; the plan folds each second account into the first, after the guardian
merge of the adult's sync-created account. A fold goes with that merge:
skipped without it, undone with it, approved on its own when in review.
"""

from __future__ import annotations

import attrs
from account_support import account_district, account_state, journal_of, plan_with
from apply_support import memory_storage

from merge_engine.applying._account_steps import account_steps, approval_ids
from merge_engine.applying._apply import apply_plan, plan_fingerprint
from merge_engine.applying._journal import journaled_plan
from merge_engine.applying._undo import undo_plan, undo_plan_id
from merge_engine.plan import GuardianFold, GuardianMerge, MergePlan
from merge_engine.review._decisions import Decision, Decisions, without_rejected
from merge_engine.review._items import review_items


def joined(plan: MergePlan, fold: GuardianFold) -> GuardianMerge:
    """The guardian merge a fold joins."""
    return next(
        g
        for g in plan.guardian_merges
        if (g.archived_guardian_id, g.synced_guardian_id)
        == (fold.into_guardian_id, fold.synced_guardian_id)
    )


def test_the_plan_folds_each_second_old_account_after_its_guardian_merge() -> None:
    plan = plan_with()
    assert [f.decision for f in plan.guardian_folds] == ["auto", "auto"]
    steps, skipped = account_steps(plan)
    keys = [s.archived_id for s in steps]
    for fold in plan.guardian_folds:
        merge = joined(plan, fold)
        assert merge.decision == "auto"
        step = steps[keys.index(f"fold:{fold.archived_guardian_id}")]
        assert keys.index(f"guardian:{merge.synced_guardian_id}") < keys.index(step.archived_id)
        assert (step.kind, step.guardian_id, step.into_id, step.joins) == (
            "guardian_fold",
            fold.archived_guardian_id,
            fold.into_guardian_id,
            fold.synced_guardian_id,
        )
        # It rests on its own student merges and on those of the merge it joins.
        assert set(step.students) == {*fold.students, *merge.students}
    assert not [o for o in skipped if o.kind == "guardian_fold"]


def test_a_review_fold_needs_its_approval_id() -> None:
    plan = plan_with()
    fold = plan.guardian_folds[0]
    review = attrs.evolve(
        plan,
        guardian_folds=[attrs.evolve(fold, decision="review", reasons=["checked by a person"])],
    )
    key = f"fold:{fold.archived_guardian_id}"
    assert key in approval_ids(review)
    steps, skipped = account_steps(review)
    assert key not in [s.archived_id for s in steps]
    assert [(o.archived_id, o.status) for o in skipped if o.kind == "guardian_fold"] == [
        (key, "skipped_review")
    ]
    steps, _ = account_steps(review, approved={key})
    assert key in [s.archived_id for s in steps]


def test_a_fold_waits_for_the_guardian_merge_it_joins() -> None:
    """The reviewer rejected nothing, but the merge was left out of the plan applied."""
    plan = plan_with()
    fold = plan.guardian_folds[0]
    merge = joined(plan, fold)
    without = attrs.evolve(plan, guardian_merges=[g for g in plan.guardian_merges if g != merge])
    storage = memory_storage(account_district())
    report = apply_plan(without, storage, force=True)
    (outcome,) = [
        o for o in report.account_outcomes if o.archived_id.endswith(fold.archived_guardian_id)
    ]
    assert (outcome.status, outcome.reason) == (
        "skipped",
        "the guardian merge it joins is not applied",
    )
    after = account_state(storage, plan)
    assert after["guardians"][fold.archived_guardian_id] is None
    assert journal_of(storage, without, f"fold:{fold.archived_guardian_id}") is None
    # Its children keep their link to it (the student merges brought it along).
    for archived_id, synced_id in fold.students:
        linked = {x[0] for x in after["links"] if x[1] == fold.archived_guardian_id}
        assert {archived_id, synced_id} & linked


def test_undoing_the_students_of_the_merge_undoes_the_fold_first() -> None:
    plan = plan_with()
    fold = plan.guardian_folds[0]
    merge = joined(plan, fold)
    storage = memory_storage(account_district())
    apply_plan(plan, storage, force=True)
    report = undo_plan(plan, storage, archived_ids=[a for a, _ in merge.students])
    order = [o.archived_id for o in report.account_outcomes]
    fold_key, merge_key = (
        f"fold:{fold.archived_guardian_id}",
        f"guardian:{merge.synced_guardian_id}",
    )
    assert order.index(fold_key) < order.index(merge_key)
    statuses = {o.archived_id: o.status for o in report.account_outcomes}
    assert (statuses[fold_key], statuses[merge_key]) == ("undone", "undone")
    after = account_state(storage, plan)
    assert after["guardians"][fold.archived_guardian_id] is None
    other = plan.guardian_folds[1]
    assert after["guardians"][other.archived_guardian_id] == other.into_guardian_id


def test_undo_without_the_plan_file_undoes_the_folds_too() -> None:
    plan = plan_with()
    storage = memory_storage(account_district())
    before = account_state(storage, plan)
    apply_plan(plan, storage, force=True)
    _, steps = journaled_plan(storage, plan_fingerprint(plan))
    folds = [s for s in steps if s.kind == "guardian_fold"]
    assert [(s.guardian_id, s.into_id) for s in folds] == [
        (f.archived_guardian_id, f.into_guardian_id) for f in plan.guardian_folds
    ]
    for step, fold in zip(folds, plan.guardian_folds, strict=True):
        assert set(step.students) >= set(joined(plan, fold).students)
    report = undo_plan_id(plan_fingerprint(plan), storage)
    assert report.ok
    for fold in plan.guardian_folds:
        assert journal_of(storage, plan, f"fold:{fold.archived_guardian_id}").undone
    assert account_state(storage, plan) == before


def test_rejecting_the_merge_drops_its_fold_and_a_fold_is_reviewed_on_its_own() -> None:
    plan = plan_with()
    first, second = plan.guardian_folds
    review = attrs.evolve(
        plan, guardian_folds=[first, attrs.evolve(second, decision="review", reasons=["why"])]
    )
    (item,) = [i for i in review_items(review) if i.kind == "guardian_fold"]
    assert (item.approval_id, item.left_id, item.right_id) == (
        f"fold:{second.archived_guardian_id}",
        second.archived_guardian_id,
        second.into_guardian_id,
    )
    merge = joined(plan, first)

    def rejecting(kind: str, approval_id: str) -> list[Decisions]:
        return [Decisions("p", "test", [], [Decision("reject", kind, approval_id, "", "", "")])]

    kept = without_rejected(
        review, rejecting("guardian_merge", f"guardian:{merge.synced_guardian_id}")
    )
    assert merge not in kept.guardian_merges
    assert kept.guardian_folds == (review.guardian_folds[1],)
    kept = without_rejected(review, rejecting("guardian_fold", item.approval_id))
    assert kept.guardian_folds == (first,)
    assert kept.guardian_merges == review.guardian_merges
