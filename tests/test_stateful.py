"""A Hypothesis state machine: apply, re-apply, undo, edits and new history, against a model.

After every step: history is conserved (rows set aside live in the
journal), no row points at a merged-away student, merge state matches the
model, every applied merge has its audit row, and each synced student's
guardian links are its own, the test's edits and its applied merges' links.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from apply_support import (
    district,
    memory_storage,
    plan_of,
    row_digest,
    signature,
)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from merge_engine.applying._apply import apply_plan, plan_fingerprint
from merge_engine.applying._undo import undo_plan
from merge_engine.storage import load_history, load_rosters, open_storage
from merge_engine.storage._base import GuardianLink, HistoryRow, StorageAdapter

N, SEED = 60, 5  # this district's plan has duplicates (two merges into one synced student)
PLAN = plan_of(N, SEED)
AUTO = PLAN.auto
FP = plan_fingerprint(PLAN)


class MergeMachine(RuleBasedStateMachine):
    """The model: which archived ids are applied, which students were edited, rows added."""

    adapter: ClassVar[str] = "memory"

    def __init__(self) -> None:
        super().__init__()
        d = district(N, SEED)
        self.storage: StorageAdapter
        if self.adapter == "memory":
            self.storage = memory_storage(d)
        else:
            self.storage = open_storage("sqlite://", create=True)
            load_rosters(self.storage, d.archived, d.synced)
            load_history(self.storage, d.rows)
        self.base = signature(self.storage, PLAN)
        self.added: Counter[str] = Counter()
        self.applied: dict[str, frozenset[str]] = {}  # archived id -> its links when applied
        self.edited: set[str] = set()
        self.extra_links: dict[str, set[str]] = {}
        self.audit: Counter[tuple[str, str]] = Counter()
        self.next_id = 10**6
        with self.storage.transaction() as tx:
            ids = sorted({m.synced_id for m in PLAN.merges} | {m.archived_id for m in PLAN.merges})
            self.links0 = {i: {lk.guardian_id for lk in tx.guardian_links(i)} for i in ids}
        self.guardians = sorted(set().union(*self.links0.values()))

    def teardown(self) -> None:
        self.storage.close()

    def _stale(self, archived_id: str, synced_id: str) -> bool:
        return archived_id in self.edited or synced_id in self.edited

    @rule(dry=st.booleans())
    def apply(self, dry: bool) -> None:
        """Apply (or dry-run) the plan; outcomes follow the model."""
        expected = {}
        for m in AUTO:
            if m.archived_id in self.applied:
                expected[m.archived_id] = "already_applied"
            elif self._stale(m.archived_id, m.synced_id):
                expected[m.archived_id] = "stale"
            else:
                expected[m.archived_id] = "applied"
        report = apply_plan(PLAN, self.storage, force=True, dry_run=dry, batch_size=5)
        got = {o.archived_id: o.status for o in report.outcomes if o.status != "skipped_review"}
        assert expected == got
        if dry:
            return
        with self.storage.transaction() as tx:
            for a, status in got.items():
                if status == "applied":
                    self.applied[a] = frozenset(lk.guardian_id for lk in tx.guardian_links(a))
                    self.audit[("apply", a)] += 1

    @rule(data=st.data())
    def undo(self, data: st.DataObject) -> None:
        """Undo all merges or a few; applied ones are undone, the rest are not_applied."""
        ids = data.draw(
            st.none() | st.lists(st.sampled_from([m.archived_id for m in AUTO]), max_size=4)
        )
        report = undo_plan(PLAN, self.storage, archived_ids=ids, batch_size=3)
        for o in report.outcomes:
            assert o.status == ("undone" if o.archived_id in self.applied else "not_applied")
            if o.status == "undone":
                del self.applied[o.archived_id]
                self.audit[("undo", o.archived_id)] += 1

    @rule(index=st.integers(0, len(AUTO) - 1), synced=st.booleans(), g=st.integers(0, 10**6))
    def edit_student(self, index: int, synced: bool, g: int) -> None:
        """Link one more guardian to a student (changes its content hash: it is now stale)."""
        m = AUTO[index]
        student = m.synced_id if synced else m.archived_id
        if not synced and student in self.applied:
            return  # merged archived records are not edited by the platform
        with self.storage.transaction() as tx:
            have = {lk.guardian_id for lk in tx.guardian_links(student)}
            free = [x for x in self.guardians if x not in have]
            if not free:
                return
            guardian = free[g % len(free)]
            tx.add_guardian_link(GuardianLink(student, guardian, "Other"))
        self.edited.add(student)
        self.extra_links.setdefault(student, set()).add(guardian)

    @rule(index=st.integers(0, len(AUTO) - 1))
    def add_history_to_synced(self, index: int) -> None:
        """New activity on a synced student: it must survive any undo."""
        m = AUTO[index]
        self.next_id += 1
        rows = [
            HistoryRow("messages", (self.next_id,), {"id": self.next_id, "student_id": m.synced_id,
                                                     "sent_at": "2025-01-01T08:00:00",
                                                     "body": "new"}),
        ]  # fmt: skip
        with self.storage.transaction() as tx:
            tables = {t.name: t for t in tx.history_tables()}
            tx.insert_rows(rows)
        self.added.update(row_digest(tables[r.table], r) for r in rows)

    def _all_applied(self) -> bool:
        return bool(self.applied) and all(
            m.archived_id in self.applied or self._stale(m.archived_id, m.synced_id) for m in AUTO
        )

    @precondition(_all_applied)
    @rule()
    def reapply_is_a_no_op(self) -> None:
        """Right after everything applicable is applied, applying again writes nothing."""
        before = list(self.storage.audit_records())
        report = apply_plan(PLAN, self.storage, force=True)
        assert not report.by_status("applied")
        assert len(before) == len(list(self.storage.audit_records()))

    @invariant()
    def history_is_conserved(self) -> None:
        assert self.base + self.added == signature(self.storage, PLAN)

    @invariant()
    def merge_state_matches_the_model(self) -> None:
        with self.storage.transaction() as tx:
            tables = [t.name for t in tx.history_tables()]
            stored = tx.students([m.archived_id for m in AUTO])
            for m in AUTO:
                entry = tx.journal(FP, m.archived_id)
                if m.archived_id in self.applied:
                    assert m.synced_id == stored[m.archived_id].merged_into
                    assert [r for t in tables for r in tx.history_rows(t, m.archived_id)] == []
                    assert entry is not None
                    assert not entry.undone
                else:
                    assert stored[m.archived_id].merged_into is None
                    assert entry is None or entry.undone

    @invariant()
    def every_applied_merge_has_its_audit_row(self) -> None:
        seen: Counter[tuple[str, str]] = Counter(
            (r.action, r.archived_id) for r in self.storage.audit_records()
        )
        assert self.audit == seen
        for m in AUTO:
            net = seen[("apply", m.archived_id)] - seen[("undo", m.archived_id)]
            assert net == (1 if m.archived_id in self.applied else 0)

    @invariant()
    def synced_links_are_own_edits_and_applied_merges(self) -> None:
        with self.storage.transaction() as tx:
            for s in sorted({m.synced_id for m in AUTO}):
                expected = set(self.links0[s]) | self.extra_links.get(s, set())
                for m in AUTO:
                    if m.synced_id == s and m.archived_id in self.applied:
                        expected |= self.applied[m.archived_id]
                assert expected == {lk.guardian_id for lk in tx.guardian_links(s)}


class SQLiteMergeMachine(MergeMachine):
    adapter: ClassVar[str] = "sqlite"


_COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
MergeMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=12, **_COMMON)
SQLiteMergeMachine.TestCase.settings = settings(max_examples=10, stateful_step_count=10, **_COMMON)
TestMemoryMachine = MergeMachine.TestCase
TestSQLiteMachine = SQLiteMergeMachine.TestCase
