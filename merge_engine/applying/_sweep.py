"""Late history: rows written to an archived student after its merge, moved on by a re-run.

A merged archived student is a forwarding address. The platform may keep
writing history to the old id while apply runs, or an old integration may
still use it; such rows would stay on the merged record for good. Running
apply again on a plan finds them on every merge already applied (by this
plan, or into the same student by another plan) and moves them to the synced
student with the same rules as the merge itself (unique keys: the table's
survivor rule, the loser set aside whole in the journal).

The sweep extends the journal entry of the merge that made the forwarding
address, so undoing that merge puts every swept row back on the archived
student: those rows were the archived record's history when they were
swept. One case cannot be undone exactly and is refused by undo like any
other blocked re-insert: a late row holding the same unique key (the same
attendance day) as a row the merge had moved away, since the archived
student cannot hold both again. The sweep's audit record is an ``apply``
record of the journal's plan whose note starts ``sweep=1`` (the audit
table accepts only ``apply`` and ``undo``).

:func:`stranded_history` lists the rows waiting on merged records (ids
and counts only), for ``merge-engine audit --db``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

import attrs
from attrs import field, frozen

from ..plan import Merge
from ..storage._base import (
    AuditRecord,
    BulkTransaction,
    HistoryRow,
    HistoryTable,
    JournalEntry,
    RowKey,
    StorageAdapter,
    StoredStudent,
    Transaction,
)
from ..storage.adapter import Capability, capabilities_of
from ._applying import audit_note, expect_count, now_iso, outcome_of, parse_audit_note, plan_table
from ._report import MergeOutcome

__all__ = ["StrandedRecord", "is_sweep", "merged_by_plan", "stranded_history", "sweep_late_rows"]


def is_sweep(record: AuditRecord) -> bool:
    """Whether an ``apply`` audit record is a sweep of late rows (not the merge itself)."""
    return record.action == "apply" and bool(parse_audit_note(record.note, "sweep"))


def merged_by_plan(records: Iterable[AuditRecord]) -> dict[str, tuple[str, str]]:
    """Archived id -> (plan fingerprint, synced id) of its latest merge not undone since."""
    latest: dict[str, tuple[str, str]] = {}
    for r in records:
        if r.action == "apply":
            latest[r.archived_id] = (r.plan_fingerprint, r.synced_id)
        elif latest.get(r.archived_id, ("",))[0] == r.plan_fingerprint:
            del latest[r.archived_id]
    return latest


def sweep_late_rows(
    tx: Transaction,
    merge: Merge,
    entry: JournalEntry | None,
    archived: StoredStudent | None,
    reason: str,
) -> MergeOutcome:
    """Move the rows written to a merged archived student since, into ``entry``'s journal.

    ``entry`` is the journal entry of the merge that is in force (this plan's
    or another plan's); without one, or when the archived student is no
    longer merged into the synced one, nothing is moved: ``already_applied``.
    """
    a, s = merge.archived_id, merge.synced_id
    if (
        entry is None
        or entry.undone
        or entry.synced_id != s
        or archived is None
        or archived.merged_into != s
    ):
        return outcome_of(merge, "already_applied", reason)
    moved = {t: list(keys) for t, keys in entry.moved.items()}
    set_aside: list[HistoryRow] = []
    counts: dict[str, int] = {}
    for table in tx.history_tables():
        rows = tx.history_rows(table.name, a)
        if not rows:
            continue
        synced_rows = tx.history_rows(table.name, s)
        keys, aside, remove = plan_table(table, rows, synced_rows)
        if remove:
            expect_count(tx.remove_rows(table.name, remove), len(remove), "removed", table.name, a)
        if keys:
            expect_count(tx.move_rows(table.name, keys, s), len(keys), "moved", table.name, a)
            moved.setdefault(table.name, []).extend(keys)
            counts[table.name] = len(keys)
        set_aside += [_owned_before(table, row, a, moved) for row in aside]
    if not counts and not set_aside:
        return outcome_of(merge, "already_applied", reason)
    tx.write_journal(
        attrs.evolve(
            entry,
            moved={t: tuple(k) for t, k in moved.items() if k},
            set_aside=(*entry.set_aside, *set_aside),
        )
    )
    aside_counts = dict(Counter(r.table for r in set_aside))
    tx.write_audit(
        AuditRecord(
            "apply", entry.plan_fingerprint, a, s, now_iso(), counts,
            note=audit_note(sweep=1, set_aside=aside_counts),
        )
    )  # fmt: skip
    return MergeOutcome(
        a, s, "swept", f"{reason}; history written to {a} since was moved", counts, aside_counts
    )


def _owned_before(
    table: HistoryTable, row: HistoryRow, archived_id: str, moved: dict[str, list[RowKey]]
) -> HistoryRow:
    """A row set aside, as undo must restore it.

    A synced-side row that the merge itself had moved from the archived
    student (survivor ``archived``) belonged to the archived student: it is
    kept with that owner and leaves the moved keys, so undo re-inserts it
    there (or refuses, if the late row that beat it holds its unique key).
    """
    keys = moved.get(table.name, [])
    key = tuple(row.key)
    if key not in {tuple(k) for k in keys}:
        return row
    moved[table.name] = [k for k in keys if tuple(k) != key]
    return attrs.evolve(row, values={**row.values, table.student_column: archived_id})


def _counts(value: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(value.items()))


@frozen
class StrandedRecord:
    """A merged archived student still holding history rows (ids and counts only)."""

    archived_id: str
    synced_id: str
    school_id: str
    rows: Mapping[str, int] = field(converter=_counts)


def stranded_history(storage: StorageAdapter) -> list[StrandedRecord]:
    """Merged archived students (per the audit trail) that hold history rows written since.

    Re-running apply on the plan that merged them moves those rows on.
    """
    merged = merged_by_plan(storage.audit_records())
    if not merged:
        return []
    ids = sorted(merged)
    out: list[StrandedRecord] = []
    with storage.transaction() as tx:
        stored = tx.students(ids)
        still = [i for i in ids if (st := stored.get(i)) is not None and st.merged_into]
        counts: dict[str, Counter[str]] = {i: Counter() for i in still}
        for table in tx.history_tables():
            for i, n in _row_counts(tx, table.name, still).items():
                if n:
                    counts[i][table.name] = n
        for i in still:
            if counts[i]:
                st = stored[i]
                out.append(
                    StrandedRecord(
                        i, st.merged_into or "", st.student.school_id or "", dict(counts[i])
                    )
                )
    return out


def _row_counts(tx: Transaction, table: str, ids: Sequence[str]) -> dict[str, int]:
    if Capability.BULK_READS in capabilities_of(tx):
        found: Mapping[str, list[HistoryRow]] = cast(BulkTransaction, tx).history_rows_many(
            table, ids
        )
        return {i: len(found.get(i, ())) for i in ids}
    return {i: len(tx.history_rows(table, i)) for i in ids}
