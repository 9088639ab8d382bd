"""A transaction view that reads and writes a batch's data in bulk, for any adapter.

The engine decides merge by merge, with the per-merge methods of
:class:`~merge_engine.storage._base.Transaction`. Sent one by one to a
client-server database, those calls cost a round trip each (about twenty
per merge). :class:`BatchedTransaction` sits between the engine and the
adapter's transaction and, with the batch-level methods of an adapter
that declares them (:class:`~merge_engine.storage.adapter.Capability`):

* reads every history row, guardian link and journal entry of a window of
  merges with a few statements, and answers the per-merge reads from that;
* buffers the writes and sends them with a few statements when the batch
  ends (``flush``), or earlier when a read needs them.

Every read sees the transaction's own earlier writes: a write marks what it
changes *dirty* (a student's history rows, guardian links or stored record,
a journal entry); reading dirty data first flushes the buffer and then reads
it from the database again. Every merge reads its two students before it
writes (and marks both dirty when it writes), so merges whose buffered
writes are sent together never touch the same student, and sending them
grouped by kind (audit, journal, merge marks, links, then per table removes,
moves and inserts) is the same as sending them merge by merge. A buffered write cannot
report its own count, so it promises the count its rows (read in this
transaction) imply, and the flush checks the totals.

Any failure of a bulk read or write (except a retryable conflict) raises
:class:`BatchFlushError`: the engine rolls the batch back and redoes it one
merge at a time with the per-merge methods, which finds the merge at fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..exceptions import TransientConflict
from ._base import (
    AuditRecord,
    GuardianLink,
    HistoryRow,
    HistoryTable,
    JournalEntry,
    RowKey,
    StoredStudent,
    Transaction,
)
from .adapter import Capability, capabilities_of

__all__ = ["BatchFlushError", "BatchedTransaction", "batched"]

#: Merges whose data one bulk read fetches (bounds memory on huge batches, e.g. dry runs).
WINDOW = 500
#: Buffered writes that trigger a flush on their own.
MAX_PENDING = 20_000


class BatchFlushError(Exception):
    """A bulk read or write failed; redo the batch one merge at a time (see ``__cause__``)."""


def batched(
    tx: Transaction, plan_fingerprint: str, groups: Sequence[tuple[Sequence[str], Sequence[str]]]
) -> Transaction:
    """``tx`` wrapped in a :class:`BatchedTransaction` when it declares bulk reads or writes.

    ``groups`` holds, per merge of the batch in order, its student ids (archived and
    synced) and the archived ids whose journal entries it reads.
    """
    if not capabilities_of(tx) & {Capability.BULK_READS, Capability.BULK_WRITES}:
        return tx
    return BatchedTransaction(tx, plan_fingerprint, groups)


class _Pending:
    """Buffered writes, grouped by kind, in the order they were made."""

    def __init__(self) -> None:
        self.removes: dict[str, list[RowKey]] = {}
        self.moves: dict[str, list[tuple[list[RowKey], str]]] = {}
        self.promised: dict[tuple[str, str], int] = {}
        self.inserts: list[HistoryRow] = []
        self.links_removed: list[GuardianLink] = []
        self.links_added: list[GuardianLink] = []
        self.merged: list[tuple[str, str | None]] = []
        self.journals: list[JournalEntry] = []
        self.audits: list[AuditRecord] = []
        self.count = 0

    def __bool__(self) -> bool:
        return self.count > 0


class BatchedTransaction:
    """A :class:`Transaction` answering reads from bulk reads and buffering writes."""

    def __init__(
        self,
        tx: Transaction,
        plan_fingerprint: str,
        groups: Sequence[tuple[Sequence[str], Sequence[str]]],
    ) -> None:
        self._tx = tx
        self._fp = plan_fingerprint
        self._window_of: dict[str, int] = {}
        self._journal_window_of: dict[str, int] = {}
        self._windows: list[tuple[list[str], list[str]]] = []
        for start in range(0, len(groups), WINDOW):
            students: list[str] = []
            archived: list[str] = []
            for ids, journal_ids in groups[start : start + WINDOW]:
                students += ids
                archived += journal_ids
            w = len(self._windows)
            self._windows.append((sorted(set(students)), sorted(set(archived))))
            for i in students:
                self._window_of.setdefault(i, w)
            for i in archived:
                self._journal_window_of.setdefault(i, w)
        self._loaded: set[int] = set()
        self._tables: Sequence[HistoryTable] | None = None
        self._rows: dict[str, dict[str, list[HistoryRow]]] = {}
        self._links: dict[str, list[GuardianLink]] = {}
        self._journals: dict[str, JournalEntry | None] = {}
        self._owner: dict[str, dict[RowKey, str]] = {}
        self._uncertain: set[str] = set()  # tables written with keys of unknown owners
        self._dirty_rows: set[tuple[str, str]] = set()  # (table, student)
        self._dirty_links: set[str] = set()
        self._dirty_students: set[str] = set()
        self._dirty_journals: set[tuple[str, str]] = set()
        self._pending = _Pending()
        declared = capabilities_of(tx)
        self._reads = Capability.BULK_READS in declared
        self._buffer = Capability.BULK_WRITES in declared

    # -- Bookkeeping -----------------------------------------------------------------------

    def _bulk(self) -> Any:
        """The adapter's bulk reads, when it declares them (else None: read one by one)."""
        return self._tx if self._reads else None

    def _table_specs(self) -> dict[str, HistoryTable]:
        return {t.name: t for t in self.history_tables()}

    def _load(self, student_id: str | None = None, archived_id: str | None = None) -> None:
        """Bulk-read the window holding this student (or archived id's journal), once."""
        w = self._window_of.get(student_id) if student_id is not None else None
        if w is None and archived_id is not None:
            w = self._journal_window_of.get(archived_id)
        if w is None or w in self._loaded:
            return
        self.flush()  # the window is read from the database: send what it must see first
        students, archived = self._windows[w]
        self._rows.clear()
        self._links.clear()
        self._journals.clear()
        self._loaded.add(w)
        try:
            bulk = self._bulk()
            if bulk is not None:
                for table in self.history_tables():
                    found = bulk.history_rows_many(table.name, students)
                    self._rows[table.name] = {i: list(found.get(i, ())) for i in students}
                found_links = bulk.guardian_links_many(students)
                self._links = {i: list(found_links.get(i, ())) for i in students}
                found_entries: Mapping[str, JournalEntry] = bulk.journals(self._fp, archived)
                self._journals = {i: found_entries.get(i) for i in archived}
        except TransientConflict:
            raise
        except Exception as exc:
            raise BatchFlushError("a bulk read failed") from exc

    def _remember(self, table: str, student_id: str, rows: Iterable[HistoryRow]) -> None:
        owners = self._owner.setdefault(table, {})
        for row in rows:
            owners[tuple(row.key)] = student_id

    def flush(self) -> None:
        """Send the buffered writes; then forget what was read of the students they touched."""
        p = self._pending
        if p:
            self._pending = _Pending()
            try:
                self._send(p)
            except TransientConflict:
                raise
            except Exception as exc:
                raise BatchFlushError("a bulk write failed") from exc
        for i in self._dirty_links:
            self._links.pop(i, None)
        for table, i in self._dirty_rows:
            self._rows.get(table, {}).pop(i, None)
        for fp, aid in self._dirty_journals:
            if fp == self._fp:
                self._journals.pop(aid, None)
        for dirty in (self._dirty_rows, self._dirty_links, self._dirty_students):
            dirty.clear()
        self._dirty_journals.clear()

    def _send(self, p: _Pending) -> None:
        tx: Any = self._tx
        # Bookkeeping first (it refers to no history row); rows in the per-merge order.
        if p.audits:
            tx.write_audits(p.audits)
        if p.journals:
            latest = list({(e.plan_fingerprint, e.archived_id): e for e in p.journals}.values())
            if len(latest) == 1:  # as cheap one by one; proxies hooking write_journal see it
                tx.write_journal(latest[0])
            else:
                tx.write_journals(latest)
        if p.merged:
            tx.set_merged_into_many(p.merged)
        if p.links_removed:
            tx.remove_guardian_links(p.links_removed)
        if p.links_added:
            tx.add_guardian_links(p.links_added)
        for table, keys in p.removes.items():
            _check(tx.remove_rows(table, keys), p.promised[("remove", table)], table)
        for table, moves in p.moves.items():
            _check(tx.move_rows_many(table, moves), p.promised[("move", table)], table)
        if p.inserts:
            tx.insert_rows(p.inserts)

    def _queued(self) -> None:
        self._pending.count += 1

    # -- Reads -----------------------------------------------------------------------------

    def students(self, ids: Sequence[str]) -> Mapping[str, StoredStudent]:
        if any(i in self._dirty_students for i in ids):
            self.flush()
        return self._tx.students(ids)

    def history_tables(self) -> Sequence[HistoryTable]:
        if self._tables is None:
            self._tables = tuple(self._tx.history_tables())
        return self._tables

    def history_rows(self, table: str, student_id: str) -> list[HistoryRow]:
        if (table, student_id) in self._dirty_rows:
            self.flush()
        if table in self._uncertain:
            self.flush()
            return self._tx.history_rows(table, student_id)
        self._load(student_id)
        cached = self._rows.get(table, {}).get(student_id)
        rows = list(cached) if cached is not None else self._tx.history_rows(table, student_id)
        self._remember(table, student_id, rows)
        return rows

    def guardian_links(self, student_id: str) -> list[GuardianLink]:
        if student_id in self._dirty_links:
            self.flush()
        self._load(student_id)
        cached = self._links.get(student_id)
        return list(cached) if cached is not None else self._tx.guardian_links(student_id)

    def journal(self, plan_fingerprint: str, archived_id: str) -> JournalEntry | None:
        if (plan_fingerprint, archived_id) in self._dirty_journals:
            self.flush()
        if plan_fingerprint == self._fp:
            self._load(archived_id=archived_id)
            if archived_id in self._journals:
                return self._journals[archived_id]
        return self._tx.journal(plan_fingerprint, archived_id)

    # -- Writes ----------------------------------------------------------------------------

    def _owners(self, table: str, keys: Sequence[RowKey]) -> list[str] | None:
        """The students the rows belong to, when this transaction read them all."""
        if table in self._uncertain:
            return None
        known = self._owner.get(table, {})
        owners = [known.get(tuple(k)) for k in keys]
        return None if any(o is None for o in owners) else [o for o in owners if o is not None]

    def _rows_changed(self, table: str, *students: str) -> None:
        self._dirty_rows.update((table, i) for i in students)
        self._dirty_students.update(students)  # a later merge reading them sees these writes

    def _unknown_rows(self, table: str) -> None:
        """Rows of unknown owners are written directly: forget all that was read of the table."""
        self.flush()
        self._uncertain.add(table)
        self._owner.pop(table, None)
        self._rows.pop(table, None)

    def move_rows(self, table: str, keys: Sequence[RowKey], to_student: str) -> int:
        owners = self._owners(table, keys)
        if owners is None or len(set(map(tuple, keys))) != len(keys):
            self._unknown_rows(table)
            return self._tx.move_rows(table, keys, to_student)
        self._rows_changed(table, to_student, *owners)
        if not self._buffer:
            moved = self._tx.move_rows(table, keys, to_student)
        else:
            self._pending.moves.setdefault(table, []).append(([tuple(k) for k in keys], to_student))
            promised = ("move", table)
            self._pending.promised[promised] = self._pending.promised.get(promised, 0) + len(keys)
            moved = len(keys)
            self._queued()
        known = self._owner.setdefault(table, {})
        for k in keys:
            known[tuple(k)] = to_student
        return moved

    def remove_rows(self, table: str, keys: Sequence[RowKey]) -> int:
        owners = self._owners(table, keys)
        if owners is None or len(set(map(tuple, keys))) != len(keys):
            self._unknown_rows(table)
            return self._tx.remove_rows(table, keys)
        self._rows_changed(table, *owners)
        if not self._buffer:
            removed = self._tx.remove_rows(table, keys)
        else:
            self._pending.removes.setdefault(table, []).extend(tuple(k) for k in keys)
            promised = ("remove", table)
            self._pending.promised[promised] = self._pending.promised.get(promised, 0) + len(keys)
            removed = len(keys)
            self._queued()
        known = self._owner.setdefault(table, {})
        for k in keys:
            known.pop(tuple(k), None)
        return removed

    def insert_rows(self, rows: Sequence[HistoryRow]) -> None:
        specs = self._table_specs()
        for row in rows:
            spec = specs.get(row.table)
            if spec is None or spec.student_column not in row.values:
                self._unknown_rows(row.table)  # the adapter reports the problem
                continue
            student = str(row.values[spec.student_column])
            self._rows_changed(row.table, student)
            self._owner.setdefault(row.table, {})[tuple(row.key)] = student
        if not self._buffer:
            self._tx.insert_rows(rows)
            return
        self._pending.inserts.extend(rows)
        self._queued()

    def add_guardian_link(self, link: GuardianLink) -> None:
        self._dirty_links.add(link.student_id)
        self._dirty_students.add(link.student_id)  # its contacts
        if not self._buffer:
            self._tx.add_guardian_link(link)
            return
        self._pending.links_added.append(link)
        self._queued()

    def remove_guardian_link(self, link: GuardianLink) -> None:
        self._dirty_links.add(link.student_id)
        self._dirty_students.add(link.student_id)  # its contacts
        if not self._buffer:
            self._tx.remove_guardian_link(link)
            return
        self._pending.links_removed.append(link)
        self._queued()

    def set_merged_into(self, archived_id: str, synced_id: str | None) -> None:
        # Both students: whoever reads either next must see this merge's writes.
        self._dirty_students.update((archived_id, *([synced_id] if synced_id else [])))
        if not self._buffer:
            self._tx.set_merged_into(archived_id, synced_id)
            return
        self._pending.merged.append((archived_id, synced_id))
        self._queued()

    def write_journal(self, entry: JournalEntry) -> None:
        self._dirty_journals.add((entry.plan_fingerprint, entry.archived_id))
        if not self._buffer:
            self._tx.write_journal(entry)
            return
        self._pending.journals.append(entry)
        self._queued()

    def write_audit(self, record: AuditRecord) -> None:
        if not self._buffer:
            self._tx.write_audit(record)
            return
        self._pending.audits.append(record)
        self._queued()
        if self._pending.count >= MAX_PENDING:  # a merge's last write: flush between merges
            self.flush()


def _check(got: int, promised: int, table: str) -> None:
    if got != promised:
        raise BatchFlushError(
            f"wrote {got} of {promised} {table} rows: rows changed during the batch"
        )
