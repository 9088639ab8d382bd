"""Undoing merges: exact restores, rows written since, revoked links, and refused undos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from apply_support import (
    DAYS,
    TINY_ROWS,
    District,
    district,
    hand_plan,
    make_storage,
    memory_storage,
    plan_of,
    signature,
    state,
    tiny_rosters,
    tiny_storage,
    without_bookkeeping,
)

from merge_engine.applying._apply import ApplyReport, MergeOutcome, apply_plan, audit_history
from merge_engine.applying._undo import undo_plan
from merge_engine.exceptions import PlanError
from merge_engine.model import Contact, Roster
from merge_engine.storage._base import HistoryRow, HistoryTable, StorageAdapter


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageAdapter]:
    s = make_storage(request.param, district(), tmp_path)
    yield s
    s.close()


def _outcome(report: ApplyReport, archived_id: str) -> MergeOutcome:
    return next(o for o in report.outcomes if o.archived_id == archived_id)


class TestUndoRestores:
    def test_undo_restores_every_row_link_and_student_exactly(
        self, storage: StorageAdapter
    ) -> None:
        """Apply then undo leaves students, rows and links exactly as before; audit has both."""
        plan = plan_of()
        before = state(storage, plan)
        sig = signature(storage, plan)
        applied = apply_plan(plan, storage)

        undone = undo_plan(plan, storage)

        assert without_bookkeeping(before) == without_bookkeeping(state(storage, plan))
        assert sig == signature(storage, plan)
        assert applied.counts["applied"] == undone.counts["undone"]
        assert applied.set_aside == undone.set_aside
        assert applied.links == undone.links
        actions = [r.action for r in audit_history(storage)]
        assert actions.count("apply") == actions.count("undo")

    def test_undo_twice_and_reapply_after_undo(self) -> None:
        """A second undo finds nothing to do; apply after undo works and can be undone again."""
        plan = plan_of()
        storage = make_storage("memory", district(), Path())
        before = without_bookkeeping(state(storage, plan))
        apply_plan(plan, storage)
        undo_plan(plan, storage)

        again = undo_plan(plan, storage)
        reapplied = apply_plan(plan, storage)
        undo_plan(plan, storage)

        assert {"not_applied": len(plan.merges)} == again.counts
        assert len(plan.auto) == reapplied.counts["applied"]
        assert before == without_bookkeeping(state(storage, plan))

    def test_undo_only_some_merges(self) -> None:
        plan = plan_of()
        storage = make_storage("memory", district(), Path())
        apply_plan(plan, storage)
        chosen = [m.archived_id for m in plan.auto[:3]]

        report = undo_plan(plan, storage, archived_ids=chosen)

        assert report.counts == {"undone": 3}
        with storage.transaction() as tx:
            merged = {i: s.merged_into for i, s in tx.students(chosen).items()}
            still = tx.students([plan.auto[5].archived_id])[plan.auto[5].archived_id]
        assert {i: None for i in chosen} == merged
        assert plan.auto[5].synced_id == still.merged_into

    def test_unknown_ids_are_an_error(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1")])

        with pytest.raises(PlanError, match="not archived ids"):
            undo_plan(plan, storage, archived_ids=["nope"])

    def test_dry_run_predicts_and_changes_nothing(self) -> None:
        plan = plan_of()
        storage = make_storage("memory", district(), Path())
        apply_plan(plan, storage)
        after_apply = state(storage, plan)

        dry = undo_plan(plan, storage, dry_run=True)
        assert after_apply == state(storage, plan)
        real = undo_plan(plan, storage)

        assert (dry.counts, dry.rows, dry.set_aside, dry.links) == (
            real.counts,
            real.rows,
            real.set_aside,
            real.links,
        )


class TestCollisionsOnUndo:
    def test_the_archived_row_set_aside_comes_back(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1")])
        before = without_bookkeeping(state(storage, plan))
        apply_plan(plan, storage)

        report = undo_plan(plan, storage)

        assert before == without_bookkeeping(state(storage, plan))
        assert dict(_outcome(report, "a1").set_aside) == {"attendance": 1}

    def test_the_synced_row_set_aside_comes_back_under_the_archived_survivor_rule(self) -> None:
        tables = (
            HistoryTable("messages"),
            HistoryTable("notes"),
            HistoryTable("attendance", unique=("day",), survivor="archived"),
        )
        storage = tiny_storage(tables)
        plan = hand_plan(storage, [("a1", "s1")])
        before = without_bookkeeping(state(storage, plan))
        apply_plan(plan, storage)

        undo_plan(plan, storage)

        assert before == without_bookkeeping(state(storage, plan))

    def test_a_newer_row_on_the_unique_key_blocks_the_undo(self) -> None:
        """If a newer row holds the key of a row set aside, the undo is refused, nothing written."""
        tables = (
            HistoryTable("messages"),
            HistoryTable("notes"),
            HistoryTable("attendance", unique=("day",), survivor="archived"),
        )
        storage = tiny_storage(tables)
        plan = hand_plan(storage, [("a1", "s1")])
        apply_plan(plan, storage)
        with storage.transaction() as tx:
            tx.remove_rows("attendance", [(10,)])
            new = {"id": 30, "student_id": "s1", "day": DAYS[0], "status": "late"}
            tx.insert_rows([HistoryRow("attendance", (30,), new)])
        blocked = state(storage, plan)

        report = undo_plan(plan, storage)

        outcome = _outcome(report, "a1")
        assert outcome.status == "stale"
        assert "cannot re-insert" in outcome.reason
        assert blocked == state(storage, plan)


class TestRowsWrittenAfterTheMerge:
    def test_new_rows_stay_with_the_synced_student_and_are_counted(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1")])
        apply_plan(plan, storage)
        with storage.transaction() as tx:
            tx.insert_rows(
                [
                    HistoryRow("messages", (99,), {"id": 99, "student_id": "s1",
                                                   "sent_at": "2024-11-01T08:00:00",
                                                   "body": "new"}),
                    HistoryRow("attendance", (98,), {"id": 98, "student_id": "s1",
                                                     "day": DAYS[3], "status": "present"}),
                ]
            )  # fmt: skip

        report = undo_plan(plan, storage)

        assert dict(_outcome(report, "a1").kept) == {"attendance": 1, "messages": 1}
        with storage.transaction() as tx:
            s1 = sorted(r.key for t in ("messages", "attendance")
                        for r in tx.history_rows(t, "s1"))  # fmt: skip
            a1 = sorted(r.key for t in ("messages", "notes", "attendance")
                        for r in tx.history_rows(t, "a1"))  # fmt: skip
        assert s1 == [(3,), (20,), (98,), (99,)]
        assert a1 == [(1,), (2,), (4,), (10,), (11,)]
        assert "kept on the synced student: attendance 1, messages 1" in report.summary()

    def test_moved_rows_deleted_since_are_reported(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1")])
        apply_plan(plan, storage)
        with storage.transaction() as tx:
            tx.remove_rows("messages", [(1,)])

        report = undo_plan(plan, storage)

        outcome = _outcome(report, "a1")
        assert outcome.status == "undone"
        assert "1 messages rows moved by the merge were deleted" in outcome.reason


class TestLinksOnUndo:
    def test_links_added_by_the_merge_are_removed_and_others_stay(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1"), ("a2", "s2")])
        apply_plan(plan, storage)

        undo_plan(plan, storage)

        with storage.transaction() as tx:
            links = {s: [lk.guardian_id for lk in tx.guardian_links(s)] for s in ("s1", "s2")}
        assert links == {"s1": ["gs1"], "s2": ["ga3"]}

    def test_a_link_both_duplicates_brought_stays_until_the_last_is_undone(self) -> None:
        """Undoing one duplicate keeps the guardian link the other still needs."""
        archived, synced = tiny_rosters()
        a3 = archived.students[2]
        with_link = attrs.evolve(a3, contacts=[Contact("ga1", relationship="Parent")])
        archived = Roster([*archived.students[:2], with_link])
        storage = memory_storage(District(archived, synced, TINY_ROWS))
        plan = hand_plan(storage, [("a1", "s1"), ("a3", "s1")])
        apply_plan(plan, storage)

        undo_plan(plan, storage, archived_ids=["a1"])
        with storage.transaction() as tx:
            middle = [lk.guardian_id for lk in tx.guardian_links("s1")]
        undo_plan(plan, storage, archived_ids=["a3"])
        with storage.transaction() as tx:
            final = [lk.guardian_id for lk in tx.guardian_links("s1")]

        assert middle == ["ga1", "gs1"]
        assert final == ["gs1"]


class TestRefusedUndo:
    def test_a_synced_student_merged_elsewhere_since_is_refused(self) -> None:
        """Chained merge (s1 later merged into s2): undo that one first."""
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1")])
        apply_plan(plan, storage)
        with storage.transaction() as tx:
            tx.set_merged_into("s1", "s2")

        report = undo_plan(plan, storage)

        assert _outcome(report, "a1").status == "stale"
        assert "undo that merge first" in _outcome(report, "a1").reason

    def test_an_archived_student_unmerged_by_someone_else_is_refused(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1")])
        apply_plan(plan, storage)
        with storage.transaction() as tx:
            tx.set_merged_into("a1", None)

        report = undo_plan(plan, storage)

        assert _outcome(report, "a1").status == "stale"
        assert "no longer merged into s1" in _outcome(report, "a1").reason

    def test_merges_never_applied_are_not_applied(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1")])

        report = undo_plan(plan, storage)

        assert report.counts == {"not_applied": 1}
