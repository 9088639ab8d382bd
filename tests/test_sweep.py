"""Late history: rows written to a merged archived student are moved on by a re-run of apply.

A merged archived student is a forwarding address. The platform may go on
writing history to the old id (while apply runs, or from an old
integration); re-running apply moves those rows to the synced student with
the merge's collision rules, in the merge's journal entry, so undo puts
them back on the archived student; ``audit --db`` reports them meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from apply_support import (
    DAYS,
    TINY_ROWS,
    District,
    FaultyStorage,
    db_snapshot,
    district,
    hand_plan,
    make_storage,
    nonzero,
    plan_of,
    signature,
    tiny_rosters,
    tiny_storage,
)

from merge_engine.applying._apply import (
    ApplyReport,
    MergeOutcome,
    apply_plan,
    audit_history,
    plan_fingerprint,
)
from merge_engine.applying._sweep import StrandedRecord, is_sweep, stranded_history
from merge_engine.applying._undo import undo_plan
from merge_engine.cli import main
from merge_engine.plan import MergePlan
from merge_engine.storage._base import HistoryRow, HistoryTable, StorageAdapter

KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
NEW_DAY, SHARED_DAY = "2024-12-02", "2024-12-03"  # days no district row uses


def _outcome(report: ApplyReport, archived_id: str) -> MergeOutcome:
    return next(o for o in report.outcomes if o.archived_id == archived_id)


def _insert(storage: StorageAdapter, rows: Sequence[HistoryRow]) -> None:
    with storage.transaction() as tx:
        tx.insert_rows(list(rows))


def _rows_of(storage: StorageAdapter, student_id: str) -> list[HistoryRow]:
    with storage.transaction() as tx:
        return [r for t in tx.history_tables() for r in tx.history_rows(t.name, student_id)]


def late_rows(plan: MergePlan) -> tuple[list[HistoryRow], list[HistoryRow]]:
    """Rows written after the merge: to three archived ids, and one to a synced id.

    The synced row and one archived row share a day the archived student
    never had: a same-day collision that the survivor rule settles and undo
    can reverse exactly.
    """
    m1, m2, m3 = plan.auto[0], plan.auto[1], plan.auto[2]
    archived = [
        HistoryRow("messages", (900001,), {"id": 900001, "student_id": m1.archived_id,
                   "sent_at": "2024-11-01T08:00:00", "body": "late"}),
        HistoryRow("messages", (900002,), {"id": 900002, "student_id": m1.archived_id,
                   "sent_at": "2024-11-02T08:00:00", "body": "late too"}),
        HistoryRow("attendance", (900003,), {"id": 900003, "student_id": m2.archived_id,
                   "day": NEW_DAY, "status": "present"}),
        HistoryRow("attendance", (900004,), {"id": 900004, "student_id": m3.archived_id,
                   "day": SHARED_DAY, "status": "present"}),
    ]  # fmt: skip
    synced = [
        HistoryRow("attendance", (900005,), {"id": 900005, "student_id": m3.synced_id,
                   "day": SHARED_DAY, "status": "absent"}),
    ]  # fmt: skip
    return archived, synced


@pytest.mark.parametrize("mode", ["use", "hide"])  # batched path, and one merge at a time
@pytest.mark.parametrize("kind", KINDS)
def test_rerun_moves_late_rows_and_undo_puts_them_back(
    kind: str, mode: str, tmp_path: Path
) -> None:
    """Late rows move to the synced student (a same-day one is set aside by the survivor rule),
    journaled and audited; a second re-run finds nothing; undo restores the database exactly
    as if the late rows had been written before the first apply."""
    d, plan = district(), plan_of()
    late, synced_late = late_rows(plan)
    expected = make_storage(kind, d, tmp_path)
    _insert(expected, [*late, *synced_late])
    want = db_snapshot(expected)
    expected.close()

    storage = make_storage(kind, d, tmp_path)
    apply_plan(plan, storage)
    _insert(storage, [*late, *synced_late])
    sig = signature(storage, plan)
    m1, m2, m3 = plan.auto[0], plan.auto[1], plan.auto[2]

    report = apply_plan(plan, FaultyStorage(storage, bulk=mode))

    assert report.ok
    assert report.counts["swept"] == 3
    assert report.counts["already_applied"] == len(plan.auto) - 3
    assert dict(_outcome(report, m1.archived_id).rows) == {"messages": 2}
    assert dict(_outcome(report, m2.archived_id).rows) == {"attendance": 1}
    assert dict(_outcome(report, m3.archived_id).set_aside) == {"attendance": 1}
    assert "late history moved from 3 merged archived students" in report.summary()
    for m in (m1, m2, m3):
        assert _rows_of(storage, m.archived_id) == []
    keys = {r.key for r in _rows_of(storage, m1.synced_id)}
    assert {(900001,), (900002,)} <= keys
    assert (900003,) in {r.key for r in _rows_of(storage, m2.synced_id)}
    shared = [r for r in _rows_of(storage, m3.synced_id) if str(r.values.get("day")) == SHARED_DAY]
    assert [(900005,)] == [r.key for r in shared]  # the synced row survives
    assert sig == signature(storage, plan)  # the set-aside row lives in the journal
    with storage.transaction() as tx:
        entry = tx.journal(report.plan_fingerprint, m1.archived_id)
        aside = tx.journal(report.plan_fingerprint, m3.archived_id)
    assert entry is not None and {(900001,), (900002,)} <= set(entry.moved["messages"])
    assert aside is not None and late[3] in [
        HistoryRow(r.table, r.key, {**r.values, "day": str(r.values["day"])})
        for r in aside.set_aside
    ]
    sweeps = [r for r in audit_history(storage) if is_sweep(r)]
    assert sorted(r.archived_id for r in sweeps) == sorted(m.archived_id for m in (m1, m2, m3))
    assert all(r.action == "apply" and "sweep=1" in r.note for r in sweeps)

    again = apply_plan(plan, storage)
    assert again.counts == nonzero(already_applied=len(plan.auto), skipped_review=len(plan.review))

    undone = undo_plan(plan, storage)
    assert undone.counts["undone"] == len(plan.auto)
    assert undone.kept == {"attendance": 1}  # the row written to the synced student stays
    assert want == db_snapshot(storage)
    storage.close()


def test_a_dry_run_reports_the_sweep_and_changes_nothing() -> None:
    plan = plan_of()
    storage = make_storage("memory", district(), Path())
    apply_plan(plan, storage)
    late, _ = late_rows(plan)
    _insert(storage, late)
    before = db_snapshot(storage, bookkeeping=True)

    report = apply_plan(plan, storage, dry_run=True)

    assert report.counts["swept"] == 3
    assert before == db_snapshot(storage, bookkeeping=True)


def tiny(tables: Sequence[HistoryTable] | None = None) -> tuple[StorageAdapter, MergePlan]:
    storage = tiny_storage(tables)
    return storage, hand_plan(storage, [("a1", "s1"), ("a2", "s2")])


def attendance(key: int, student: str, day: str) -> HistoryRow:
    return HistoryRow(
        "attendance", (key,), {"id": key, "student_id": student, "day": day, "status": "late"}
    )


SURVIVOR_ARCHIVED = (
    HistoryTable("messages"),
    HistoryTable("notes"),
    HistoryTable("attendance", unique=("day",), survivor="archived"),
)


@pytest.mark.parametrize("tables", [None, SURVIVOR_ARCHIVED], ids=["synced", "archived"])
def test_a_late_same_day_row_follows_the_survivor_rule(
    tables: Sequence[HistoryTable] | None,
) -> None:
    """A late row on a day the synced student has a row of its own: the table's survivor stays
    on the synced student, the other row is set aside in the journal; undo is exact."""
    expected = tiny_storage(tables)
    _insert(expected, [attendance(50, "s1", DAYS[3]), attendance(51, "a1", DAYS[3])])
    want = db_snapshot(expected)
    storage, plan = tiny(tables)
    apply_plan(plan, storage)
    _insert(storage, [attendance(50, "s1", DAYS[3]), attendance(51, "a1", DAYS[3])])

    report = apply_plan(plan, storage)

    on_day = [r.key for r in _rows_of(storage, "s1") if r.values.get("day") == DAYS[3]]
    with storage.transaction() as tx:
        entry = tx.journal(report.plan_fingerprint, "a1")
    assert entry is not None
    outcome = _outcome(report, "a1")
    assert outcome.status == "swept"
    assert dict(outcome.set_aside) == {"attendance": 1}
    if tables is None:  # the synced row stays; the late archived row waits in the journal
        assert on_day == [(50,)]
        assert attendance(51, "a1", DAYS[3]) in entry.set_aside
        assert dict(outcome.rows) == {}
    else:  # the late archived row moves in; the synced row waits in the journal
        assert on_day == [(51,)]
        assert attendance(50, "s1", DAYS[3]) in entry.set_aside
        assert dict(outcome.rows) == {"attendance": 1}
    assert _rows_of(storage, "a1") == []

    undone = undo_plan(plan, storage)
    assert undone.ok
    assert want == db_snapshot(storage)


@pytest.mark.parametrize("tables", [None, SURVIVOR_ARCHIVED], ids=["synced", "archived"])
def test_a_late_row_on_a_day_the_merge_moved_away_blocks_only_the_undo(
    tables: Sequence[HistoryTable] | None,
) -> None:
    """A late row on the day of a row the merge took from the archived student: the sweep
    follows the survivor rule, but undo cannot give the archived student both rows back, so
    it refuses that merge (nothing written, nothing lost) like any blocked re-insert."""
    storage = tiny_storage(tables)
    plan = hand_plan(storage, [("a1", "s1")])
    apply_plan(plan, storage)
    _insert(storage, [attendance(52, "a1", DAYS[1])])  # a1's row 11 (DAYS[1]) moved to s1
    sig = signature(storage, plan)

    report = apply_plan(plan, storage)
    assert _outcome(report, "a1").status == "swept"
    assert sig == signature(storage, plan)
    before = db_snapshot(storage)

    undone = undo_plan(plan, storage)

    assert _outcome(undone, "a1").status == "stale"
    assert "cannot re-insert" in _outcome(undone, "a1").reason
    assert before == db_snapshot(storage)
    assert sig == signature(storage, plan)


def test_late_rows_of_a_merge_done_by_another_plan_join_that_plans_journal() -> None:
    """Re-running a second plan with the same merge sweeps into the first plan's entry,
    so undoing the first plan puts the late rows back on the archived student."""
    expected = tiny_storage()
    late = HistoryRow("notes", (60,), {"id": 60, "student_id": "a1", "created_at": "2024-12-01",
                                       "body": "late"})  # fmt: skip
    _insert(expected, [late])
    want = db_snapshot(expected)
    storage = tiny_storage()
    first = hand_plan(storage, [("a1", "s1")], tag="first")
    second = hand_plan(storage, [("a1", "s1"), ("a2", "s2")], tag="second")
    apply_plan(first, storage)
    _insert(storage, [late])

    report = apply_plan(second, storage)

    assert _outcome(report, "a1").status == "swept"
    assert "another plan" in _outcome(report, "a1").reason
    with storage.transaction() as tx:
        theirs = tx.journal(plan_fingerprint(first), "a1")
        mine = tx.journal(report.plan_fingerprint, "a1")
    assert mine is None
    assert theirs is not None and (60,) in theirs.moved["notes"]
    undo_plan(second, storage)  # undoes a2 only: a1 was merged by the first plan
    undo_plan(first, storage)
    assert want == db_snapshot(storage)


@pytest.mark.parametrize("kind", KINDS)
def test_stranded_history_is_listed_until_a_rerun_moves_it(kind: str, tmp_path: Path) -> None:
    plan = plan_of()
    storage = make_storage(kind, district(), tmp_path)
    apply_plan(plan, storage)
    assert stranded_history(storage) == []
    late, synced_late = late_rows(plan)
    _insert(storage, [*late, *synced_late])
    m1, m2, m3 = plan.auto[0], plan.auto[1], plan.auto[2]

    found = stranded_history(storage)

    assert sorted(found, key=lambda r: r.archived_id) == sorted(
        [
            StrandedRecord(m1.archived_id, m1.synced_id, _school(m1.archived_id), {"messages": 2}),
            StrandedRecord(m2.archived_id, m2.synced_id, _school(m2.archived_id),
                           {"attendance": 1}),
            StrandedRecord(m3.archived_id, m3.synced_id, _school(m3.archived_id),
                           {"attendance": 1}),
        ],
        key=lambda r: r.archived_id,
    )  # fmt: skip
    apply_plan(plan, storage)
    assert stranded_history(storage) == []
    storage.close()


def _school(archived_id: str) -> str:
    return next(s.school_id or "" for s in district().archived.students if s.id == archived_id)


def test_audit_cli_reports_stranded_rows_by_id_and_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`merge-engine audit --db` counts stranded rows per table and lists the records by id."""
    plan = plan_of()
    storage = make_storage("sqlite", district(), tmp_path)
    apply_plan(plan, storage)
    late, _ = late_rows(plan)
    _insert(storage, late)
    url = f"sqlite:///{storage.path}"  # type: ignore[attr-defined]
    storage.close()

    assert 0 == main(["audit", "--db", url, "--json", str(tmp_path / "a.json")])
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))

    assert data["counts"]["stranded_history"] == 3
    assert data["stranded_history_by_table"] == {"attendance": 2, "messages": 2}
    stranded = [f for f in data["findings"] if f["issue"] == "stranded_history"]
    assert sorted(f["record_id"] for f in stranded) == sorted(m.archived_id for m in plan.auto[:3])
    assert f"merged into {plan.auto[0].synced_id}; rows written since: messages 2" in [
        f["detail"] for f in stranded
    ]
    assert "stranded history rows per table: attendance 2, messages 2" in out
    first = next(s for s in district().archived.students if s.id == plan.auto[0].archived_id)
    assert first.last_name not in json.dumps(stranded)  # ids and counts only
    storage = make_storage("memory", District(*tiny_rosters(), TINY_ROWS), tmp_path)
    assert stranded_history(storage) == []  # nothing merged, nothing stranded


@pytest.mark.parametrize("mode", ["use", "fail"])
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_failing_write_during_a_sweep_leaves_each_sweep_whole(
    kind: str, mode: str, tmp_path: Path
) -> None:
    """Write N of a sweeping re-run fails, for every N: each merge's late rows are all moved
    (and journaled) or all still on the archived student; the next re-run finishes, and undo
    restores the database exactly."""
    d, plan = district(), plan_of()
    late, synced_late = late_rows(plan)
    expected = make_storage(kind, d, tmp_path)
    _insert(expected, [*late, *synced_late])
    want = db_snapshot(expected)
    expected.close()

    def swept_state() -> StorageAdapter:
        storage = make_storage(kind, d, tmp_path)
        apply_plan(plan, storage)
        _insert(storage, [*late, *synced_late])
        return storage

    counting = FaultyStorage(swept_state(), bulk=mode)
    apply_plan(plan, counting, batch_size=5)
    total = counting.writes
    assert total >= 5
    owners = {m.archived_id for m in plan.auto[:3]}
    for n in range(1, total + 1):
        storage = swept_state()
        sig = signature(storage, plan)
        faulty = FaultyStorage(storage, lambda w, n=n: w == n, bulk=mode)
        report = apply_plan(plan, faulty, batch_size=5)
        assert faulty.failures == 1, n
        swept = {o.archived_id for o in report.by_status("swept")}
        for a in owners:
            written = [r.key for r in late if r.values["student_id"] == a]
            on_archived = [r.key for r in _rows_of(storage, a)]
            assert on_archived == ([] if a in swept else written), (n, a)
        assert sig == signature(storage, plan), n
        rerun = apply_plan(plan, storage)
        assert {o.archived_id for o in rerun.by_status("swept")} == owners - swept, n
        assert stranded_history(storage) == [], n
        undo_plan(plan, storage)
        assert want == db_snapshot(storage), n
        storage.close()
