"""Applying and undoing account steps: guardian merges, old-guardian detaches, role links.

Every guarantee of student merges holds for them: each step is all there or
absent (fault sweeps on apply and undo), a rerun finishes the job and
changes nothing more, undo restores the database exactly, refusals write
nothing, and a dry run changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from account_support import (
    KINDS,
    account_district,
    account_state,
    applied_merge,
    fresh,
    journal_of,
    plan_with,
)
from apply_support import FAST, FaultyStorage, memory_storage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merge_engine import build_plan
from merge_engine.applying._account_steps import account_steps, approval_ids
from merge_engine.applying._apply import apply_plan, plan_fingerprint
from merge_engine.applying._undo import undo_plan
from merge_engine.exceptions import PlanError, StorageError
from merge_engine.plan import MergePlan
from merge_engine.storage import (
    AccountLink,
    Capability,
    GuardianLink,
    StorageAdapter,
    capabilities_of,
)
from merge_engine.storage._base import AccountTransaction

# -- Apply and undo on every adapter ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_guardian_merges_apply_and_undo_exactly(kind: str, tmp_path: Path) -> None:
    plan = plan_with()
    assert sum(g.decision == "auto" for g in plan.guardian_merges) >= 20
    storage = fresh(kind, tmp_path)
    before = account_state(storage, plan)
    report = apply_plan(plan, storage, force=True)
    assert report.ok
    merged = [o for o in report.account_outcomes if o.kind == "guardian_merge"]
    applied = [o for o in merged if o.status == "applied"]
    assert len(applied) >= 20
    after = account_state(storage, plan)
    for gm in plan.guardian_merges:
        if gm.decision != "auto" or all(after["students"].get(a) != s for a, s in gm.students):
            continue  # review, or resting on student merges still in review
        new, old = gm.synced_guardian_id, gm.archived_guardian_id
        # The sync-created account is merged away: no links, no messages, marked merged.
        assert after["guardians"][new] == old
        assert not [x for x in after["links"] if x[1] == new]
        assert not [r for r in after["rows"] if r[0] == new]
        # The old account keeps its login and history and reaches the new students.
        for _, synced_id in gm.students:
            if after["students"].get(_) == synced_id:
                assert any(x[:2] == (synced_id, old) for x in after["links"])
    moved = sum(o.rows.get("guardian_messages", 0) for o in applied)
    assert moved == len(applied)  # one message per sync-created account moved over
    # An adult's second old account is folded into the first: its two messages go along.
    folded = [o for o in report.account_outcomes if o.kind == "guardian_fold"]
    assert [o.status for o in folded] == ["applied"] * len(plan.guardian_folds) == ["applied"] * 2
    assert [o.rows for o in folded] == [{"guardian_messages": 2}] * 2
    for fold in plan.guardian_folds:
        assert after["guardians"][fold.archived_guardian_id] == fold.into_guardian_id
        assert after["guardians"][fold.synced_guardian_id] == fold.into_guardian_id
        assert not [x for x in after["links"] if x[1] == fold.archived_guardian_id]
        assert not [r for r in after["rows"] if r[0] == fold.archived_guardian_id]
        for _, synced_id in fold.students:  # its children reach the adult's account
            assert any(x[:2] == (synced_id, fold.into_guardian_id) for x in after["links"])
    assert sorted(r[1:] for r in before["rows"]) == sorted(r[1:] for r in after["rows"])

    again = apply_plan(plan, storage, force=True)
    assert {o.status for o in again.account_outcomes} <= {
        "already_applied",
        "skipped_review",
        "skipped",  # resting on student merges still in review, as the first time
    }
    assert account_state(storage, plan) == after

    undone = undo_plan(plan, storage)
    assert undone.ok
    assert {o.status for o in undone.account_outcomes} <= {"undone", "not_applied"}
    assert account_state(storage, plan) == before
    storage.close()


@pytest.mark.parametrize("kind", KINDS)
def test_remove_old_detaches_what_the_merges_brought_and_undo_restores(
    kind: str, tmp_path: Path
) -> None:
    plan = plan_with(policy="remove_old")
    assert not plan.guardian_merges
    storage = fresh(kind, tmp_path)
    before = account_state(storage, plan)
    report = apply_plan(plan, storage, force=True)
    detaches = [o for o in report.account_outcomes if o.kind == "detach"]
    auto = {f"detach:{m.archived_id}" for m in plan.auto}
    assert detaches and all(o.status == "applied" for o in detaches if o.archived_id in auto)
    # The student merges left for review are not applied, so neither are their detaches.
    assert all(o.status == "skipped" for o in detaches if o.archived_id not in auto)
    after = account_state(storage, plan)
    synced_of = {m.archived_id: m.synced_id for m in plan.auto}
    for action in plan.guardian_actions:
        synced_id = synced_of.get(action.student_id)
        if synced_id is None:
            continue
        # Gone from the synced student, still on the archived one (its history).
        assert (synced_id, action.guardian_id) not in {x[:2] for x in after["links"]}
        assert (action.student_id, action.guardian_id) in {x[:2] for x in after["links"]}
    undo_plan(plan, storage)
    assert account_state(storage, plan) == before
    storage.close()


# -- Rules ------------------------------------------------------------------------------------


def test_a_detach_keeps_old_accounts_the_sync_itself_linked() -> None:
    first = plan_with(policy="remove_old")
    storage = memory_storage(account_district())
    merge = first.auto[0]
    action = next(a for a in first.guardian_actions if a.student_id == merge.archived_id)
    with storage.transaction() as tx:  # the sync linked the old account itself
        tx.add_guardian_link(GuardianLink(merge.synced_id, action.guardian_id, "Mother"))
    settings = attrs.evolve(FAST, guardian_policy="remove_old")
    plan = build_plan(storage.read_roster("archived"), storage.read_roster("synced"), settings)
    assert (merge.archived_id, merge.synced_id) in {(m.archived_id, m.synced_id) for m in plan.auto}
    report = apply_plan(plan, storage, force=True)
    outcome = next(
        o for o in report.account_outcomes if o.archived_id == f"detach:{merge.archived_id}"
    )
    assert outcome.status == "applied" and "stay" in outcome.reason
    with storage.transaction() as tx:
        assert action.guardian_id in {x.guardian_id for x in tx.guardian_links(merge.synced_id)}


def test_guardian_merges_wait_for_their_student_merges() -> None:
    plan = plan_with()
    gm = applied_merge(plan)
    archived = {a for a, _ in gm.students}
    demoted = attrs.evolve(
        plan,
        merges=[
            attrs.evolve(m, decision="review") if m.archived_id in archived else m
            for m in plan.merges
        ],
    )
    storage = memory_storage(account_district())
    report = apply_plan(demoted, storage, force=True)
    outcome = next(
        o for o in report.account_outcomes if o.archived_id == f"guardian:{gm.synced_guardian_id}"
    )
    assert outcome.status == "skipped"
    with storage.transaction() as tx:
        assert isinstance(tx, AccountTransaction)
        assert tx.guardians([gm.synced_guardian_id])[gm.synced_guardian_id].merged_into is None


def test_review_steps_need_their_approval_id() -> None:
    plan = plan_with(unmatched="review")
    review_ids = approval_ids(plan)
    assert any(i.startswith("detach:") for i in review_ids)
    storage = memory_storage(account_district())
    report = apply_plan(plan, storage, force=True)
    skipped = [o for o in report.account_outcomes if o.status == "skipped_review"]
    assert len(skipped) == len(review_ids)
    one = sorted(i for i in review_ids if i.startswith("detach:"))[0]
    student_id, _guardian_id = one.split(":")[1:3]
    report = apply_plan(plan, storage, force=True, approved={one})
    detach = next(o for o in report.account_outcomes if o.archived_id == f"detach:{student_id}")
    assert detach.status == "applied" and detach.links == 1
    with pytest.raises(PlanError, match="approved ids"):
        apply_plan(plan, storage, force=True, approved={"guardian:nobody"})


def test_a_changed_account_is_stale_and_nothing_is_written() -> None:
    plan = plan_with()
    gm = applied_merge(plan)
    other = next(
        g for g in plan.guardian_merges if g.archived_guardian_id != gm.archived_guardian_id
    )
    storage = memory_storage(account_district())
    with storage.transaction() as tx:
        assert isinstance(tx, AccountTransaction)
        tx.set_guardian_merged_into(gm.synced_guardian_id, other.archived_guardian_id)
    before = account_state(storage, plan)
    report = apply_plan(
        attrs.evolve(plan, merges=(), guardian_merges=[gm], guardian_folds=()), storage, force=True
    )
    (outcome,) = report.account_outcomes
    assert outcome.status == "stale" and "already merged" in outcome.reason
    assert account_state(storage, plan) == before
    assert journal_of(storage, plan, f"guardian:{gm.synced_guardian_id}") is None


def test_dry_run_reports_the_account_steps_and_writes_nothing() -> None:
    plan = plan_with()
    storage = memory_storage(account_district())
    before = storage.snapshot()
    dry = apply_plan(plan, storage, force=True, dry_run=True)
    assert storage.snapshot() == before
    real = apply_plan(plan, memory_storage(account_district()), force=True)
    assert [(o.archived_id, o.status) for o in dry.account_outcomes] == [
        (o.archived_id, o.status) for o in real.account_outcomes
    ]
    assert dry.account_counts["guardian_merge"]["applied"] >= 20


def test_undoing_some_students_undoes_the_guardian_merges_resting_on_them() -> None:
    plan = plan_with()
    gm = applied_merge(plan)
    storage = memory_storage(account_district())
    apply_plan(plan, storage, force=True)
    archived_id = gm.students[0][0]
    report = undo_plan(plan, storage, archived_ids=[archived_id])
    statuses = {o.archived_id: o.status for o in report.account_outcomes}
    assert statuses[f"guardian:{gm.synced_guardian_id}"] == "undone"
    assert journal_of(storage, plan, f"guardian:{gm.synced_guardian_id}").undone
    others = [g for g in plan.guardian_merges if g.decision == "auto" and g is not gm]
    kept = [journal_of(storage, plan, f"guardian:{g.synced_guardian_id}") for g in others]
    assert any(entry is not None and not entry.undone for entry in kept)


def test_role_links_follow_the_district_policy() -> None:
    plan = plan_with(roles="link")
    links = [r for r in plan.role_links if r.action == "link"]
    assert links, "the generator has staff who are also parents"
    storage = memory_storage(account_district())
    report = apply_plan(plan, storage, force=True)
    applied = [
        o for o in report.account_outcomes if o.kind == "account_link" and o.status == "applied"
    ]
    assert len(applied) == len(links)
    state = account_state(storage, plan)
    assert {(r.kind, r.first_id, r.second_id, "link") for r in links} <= set(state["account_links"])
    undo_plan(plan, storage)
    assert account_state(storage, plan)["account_links"] == []

    apart = plan_with(roles="separate")
    steps, _ = account_steps(apart)
    assert not [s for s in steps if s.kind == "account_link"]


def test_merge_policy_merges_guardian_accounts_and_marks_staff_links() -> None:
    plan = plan_with(roles="merge")
    steps, _ = account_steps(plan)
    staff = [s for s in steps if s.kind == "account_link"]
    assert staff and all(s.link is not None and s.link.mode == "merge" for s in staff)
    storage = memory_storage(account_district())
    apply_plan(plan, storage, force=True)
    state = account_state(storage, plan)
    assert {
        (s.link.kind, s.link.first_id, s.link.second_id, "merge") for s in staff if s.link
    } <= set(state["account_links"])


def test_an_adapter_without_account_methods_is_refused_before_any_write() -> None:
    plan = plan_with()
    storage = memory_storage(account_district())

    class StudentsOnly:
        """Hides the account methods, like an adapter written against the student contract."""

        def __init__(self, inner: Any) -> None:
            self._inner = inner
            self.capabilities = capabilities_of(inner) - {Capability.ACCOUNTS}

        def __getattr__(self, name: str) -> Any:
            if name in ("guardians", "links_of_guardian", "account_links"):
                raise AttributeError(name)
            return getattr(self._inner, name)

    class Wrapper:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def read_roster(self, side: Any) -> Any:
            return self.inner.read_roster(side)

        def audit_records(self) -> Any:
            return self.inner.audit_records()

        def close(self) -> None:
            self.inner.close()

        def transaction(self) -> Any:
            import contextlib  # noqa: PLC0415

            @contextlib.contextmanager
            def tx() -> Any:
                with self.inner.transaction() as inner:
                    yield StudentsOnly(inner)

            return tx()

    before = storage.snapshot()
    with pytest.raises(StorageError, match="students-only"):
        apply_plan(plan, Wrapper(storage), force=True)
    assert storage.snapshot() == before
    report = apply_plan(plan, Wrapper(storage), force=True, accounts=False)
    assert report.account_outcomes == () and report.counts["applied"] == len(plan.auto)


# -- Faults -----------------------------------------------------------------------------------


def _students_applied() -> Callable[[], StorageAdapter]:
    plan = plan_with(policy="keep_old", unmatched="remove", roles="link")

    def make() -> StorageAdapter:
        storage = memory_storage(account_district())
        apply_plan(plan, storage, force=True, accounts=False)
        return storage

    return make


def _consistent(storage: StorageAdapter, plan: MergePlan) -> None:
    """Each guardian merge and fold is all there or absent: journal, merge mark and links agree."""
    fp = plan_fingerprint(plan)
    steps = [(f"guardian:{g.synced_guardian_id}", g.synced_guardian_id, g.archived_guardian_id)
             for g in plan.guardian_merges]  # fmt: skip
    steps += [(f"fold:{f.archived_guardian_id}", f.archived_guardian_id, f.into_guardian_id)
              for f in plan.guardian_folds]  # fmt: skip
    assert len(steps) > len(plan.guardian_merges)
    with storage.transaction() as tx:
        assert isinstance(tx, AccountTransaction)
        for key, away, kept in steps:
            entry = tx.journal(fp, key)
            merged = tx.guardians([away])[away].merged_into
            links = tx.links_of_guardian(away)
            if entry is not None and not entry.undone:
                assert merged == kept and links == []
            else:
                assert merged is None and links


@pytest.mark.parametrize("mode", ["use", "fail", "hide"])
def test_fail_on_nth_write_of_the_account_steps(mode: str) -> None:
    """Write N fails, for every N: each step is all or nothing, a rerun finishes the job.

    ``use``: batch-level writes fail in turn (the batch is redone step by step,
    nothing is reported failed); ``fail``: every batch-level write fails, so
    each per-step write is swept; ``hide``: an adapter without bulk methods.
    """
    plan = plan_with(policy="keep_old", unmatched="remove", roles="link")
    make = _students_applied()
    counting = FaultyStorage(make(), bulk=mode)
    apply_plan(plan, counting, force=True, batch_size=4)
    total = counting.writes
    clean = account_state(counting, plan)
    assert total > (20 if mode == "use" else 50)
    for n in range(1, total + 2, 4 if mode == "use" else 6):
        storage = make()
        faulty = FaultyStorage(storage, lambda w, n=n: w == n, bulk=mode)
        report = apply_plan(plan, faulty, force=True, batch_size=4)
        assert faulty.failures == (1 if n <= total else 0), n
        failed = report.by_status("failed")
        if mode == "use":  # a failed batch-level write is redone; a direct write fails its step
            assert len(failed) <= (1 if n <= total else 0), n
        else:
            assert len(failed) == (1 if n <= total else 0), n
        _consistent(storage, plan)
        rerun = apply_plan(plan, storage, force=True, batch_size=4)
        assert rerun.ok, n
        assert account_state(storage, plan) == clean, n


@pytest.mark.parametrize("mode", ["use", "fail"])
def test_fail_on_nth_write_of_undo_then_rerun_restores(mode: str) -> None:
    plan = plan_with(policy="keep_old", unmatched="remove", roles="link")
    make = _students_applied()
    start = account_state(make(), plan)

    def applied() -> StorageAdapter:
        storage = make()
        apply_plan(plan, storage, force=True)
        return storage

    counting = FaultyStorage(applied(), bulk=mode)
    undo_plan(plan, counting, batch_size=4)
    total = counting.writes
    for n in range(1, total + 2, 7 if mode == "use" else 13):
        storage = applied()
        faulty = FaultyStorage(storage, lambda w, n=n: w == n, bulk=mode)
        undo_plan(plan, faulty, batch_size=4)
        _consistent(storage, plan)
        undo_plan(plan, storage, batch_size=4)
        state = account_state(storage, plan)
        # Student merges are undone too; the accounts are back to before the apply.
        assert state["guardians"] == start["guardians"], n
        assert state["account_links"] == [], n
        assert state["rows"] == start["rows"], n


def test_account_links_record_the_modes() -> None:
    link = AccountLink("staff_guardian", "t", "g", "merge")
    assert link.mode == "merge"


# -- Properties -------------------------------------------------------------------------------

_POLICIES = st.sampled_from(
    [("keep_old", "keep", "link"), ("keep_old", "review", "merge"), ("remove_old", "keep", "link")]
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies=_POLICIES, data=st.data(), batch_size=st.integers(1, 40))
def test_any_approved_subset_applies_idempotently_and_undoes_exactly(
    policies: tuple[str, str, str], data: st.DataObject, batch_size: int
) -> None:
    """Whatever a reviewer approves: guardian rows are conserved, a rerun changes nothing,
    undo restores every account exactly."""
    plan = plan_with(*policies)
    review = sorted(approval_ids(plan) | {m.archived_id for m in plan.review})
    approved = data.draw(st.sets(st.sampled_from(review)) if review else st.just(set()))
    storage = memory_storage(account_district())
    before = account_state(storage, plan)

    first = apply_plan(plan, storage, force=True, approved=approved, batch_size=batch_size)
    assert first.ok
    after = account_state(storage, plan)
    assert sorted(r[1:] for r in after["rows"]) == sorted(r[1:] for r in before["rows"])
    for gm in plan.guardian_merges:  # a merged-away account keeps nothing
        if after["guardians"].get(gm.synced_guardian_id) is not None:
            assert not [x for x in after["links"] if x[1] == gm.synced_guardian_id]
            assert not [r for r in after["rows"] if r[0] == gm.synced_guardian_id]

    again = apply_plan(plan, storage, force=True, approved=approved, batch_size=batch_size)
    assert "applied" not in again.counts
    assert all(o.status != "applied" for o in again.account_outcomes)
    assert account_state(storage, plan) == after

    undone = undo_plan(plan, storage, batch_size=batch_size)
    assert undone.ok
    assert account_state(storage, plan) == before


def test_a_student_merge_under_a_stale_guardian_merge_is_not_undone() -> None:
    """Undo never strands a child without the guardian its guardian merge moved."""
    plan = plan_with()
    gm = applied_merge(plan)
    storage = memory_storage(account_district())
    apply_plan(plan, storage, force=True)
    other = next(g.archived_guardian_id for g in plan.guardian_merges if g is not gm)
    with storage.transaction() as tx:  # someone re-pointed the merged account by hand
        assert isinstance(tx, AccountTransaction)
        tx.set_guardian_merged_into(gm.synced_guardian_id, other)
    report = undo_plan(plan, storage)
    step = next(
        o for o in report.account_outcomes if o.archived_id == f"guardian:{gm.synced_guardian_id}"
    )
    assert step.status == "stale"
    for archived_id, synced_id in gm.students:
        outcome = next(o for o in report.outcomes if o.archived_id == archived_id)
        assert outcome.status == "stale" and "still applied" in outcome.reason
        with storage.transaction() as tx:
            assert tx.students([archived_id])[archived_id].merged_into == synced_id
            links = {x.guardian_id for x in tx.guardian_links(synced_id)}
        assert gm.archived_guardian_id in links
