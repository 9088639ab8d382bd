"""A transaction view that runs a batch of account steps with a few bulk statements.

The account steps (:mod:`merge_engine.applying._account_apply`) decide one step at a
time with the per-item methods of the contract: about a dozen round trips
per guardian merge. :class:`AccountBatch` reads what a batch of steps will
ask for (journal entries, guardian states, links, guardian history) with
one bulk statement each, answers the per-step reads from that, and buffers
the writes, which it sends grouped by kind when the batch ends.

It keeps the rule of :mod:`.batched`: every read sees the transaction's own
earlier writes. A write marks the guardians and students it touches dirty;
a read of dirty data first sends the buffered writes and then reads the
database. Each step reads what it writes before writing it, so the
buffered writes of one flush touch disjoint data and sending them grouped
by kind equals sending them step by step. Any failure of a bulk read or
write raises :class:`~.batched.BatchFlushError`: the engine rolls the batch
back and redoes it one step at a time with the plain transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from ..exceptions import TransientConflict
from ._base import (
    AccountLink,
    AccountTransaction,
    AuditRecord,
    GuardianLink,
    HistoryRow,
    HistoryTable,
    JournalEntry,
    RowKey,
    StoredGuardian,
    StoredStudent,
)
from ._batched import BatchFlushError, _check
from .adapter import Capability, capabilities_of

__all__ = ["AccountBatch", "account_batch"]

_NEEDED = frozenset({Capability.BULK_READS, Capability.BULK_WRITES, Capability.ACCOUNTS})


def account_batch(
    tx: AccountTransaction,
    plan_fingerprint: str,
    journal_keys: Sequence[str],
    guardian_ids: Sequence[str],
    student_ids: Sequence[str] = (),
) -> AccountTransaction:
    """``tx`` wrapped in an :class:`AccountBatch` when it declares bulk reads and writes."""
    if not capabilities_of(tx) >= _NEEDED:
        return tx
    return AccountBatch(tx, plan_fingerprint, journal_keys, guardian_ids, student_ids)


class AccountBatch:
    """An :class:`AccountTransaction` answering reads from bulk reads and buffering writes."""

    def __init__(
        self,
        tx: AccountTransaction,
        plan_fingerprint: str,
        journal_keys: Sequence[str],
        guardian_ids: Sequence[str],
        student_ids: Sequence[str] = (),
    ) -> None:
        self._tx: Any = cast(Any, tx)
        self._fp = plan_fingerprint
        self._dirty_guardians: set[str] = set()
        self._dirty_students: set[str] = set()
        self._dirty_journals: set[str] = set()
        self._pending: dict[str, list[Any]] = {}
        self._promised: dict[str, int] = {}
        self._tables = tuple(tx.guardian_history_tables())
        ids = sorted(set(guardian_ids))
        try:
            keys = sorted(set(journal_keys))
            self._journals: dict[str, JournalEntry] = dict(
                self._tx.journals(plan_fingerprint, keys)
            )
            self._guardians = dict(tx.guardians(ids))
            self._students = dict(tx.students(sorted(set(student_ids)))) if student_ids else {}
            self._links = {g: list(v) for g, v in self._tx.links_of_guardians(ids).items()}
            self._rows = {
                t.name: {g: list(v) for g, v in self._tx.history_rows_many(t.name, ids).items()}
                for t in self._tables
            }
        except TransientConflict:
            raise
        except Exception as exc:
            raise BatchFlushError("a bulk read of account data failed") from exc
        self._known = set(ids)
        self._known_journals = set(journal_keys)
        self._known_students = set(student_ids)
        self._owner = {
            table: {tuple(r.key): g for g, rows in per.items() for r in rows}
            for table, per in self._rows.items()
        }

    # -- Buffer ----------------------------------------------------------------------------

    def _queue(self, kind: str, *items: Any) -> None:
        self._pending.setdefault(kind, []).extend(items)

    def flush(self) -> None:
        """Send the buffered writes, grouped by kind (see the module docstring)."""
        pending, promised = self._pending, self._promised
        self._pending, self._promised = {}, {}
        if not pending:
            return
        tx = self._tx
        try:
            if "audits" in pending:
                tx.write_audits(pending["audits"])
            if "journals" in pending:
                tx.write_journals(pending["journals"])
            if "merged" in pending:
                tx.set_guardian_merged_into_many(pending["merged"])
            if "unlink" in pending:
                tx.remove_guardian_links(pending["unlink"])
            if "link" in pending:
                tx.add_guardian_links(pending["link"])
            for kind, items in pending.items():
                if kind.startswith("remove:"):
                    table = kind.removeprefix("remove:")
                    _check(tx.remove_rows(table, items), promised[kind], table)
            for kind, items in pending.items():
                if kind.startswith("move:"):
                    table = kind.removeprefix("move:")
                    _check(tx.move_rows_many(table, items), promised[kind], table)
            if "insert" in pending:
                tx.insert_rows(pending["insert"])
        except TransientConflict:
            raise
        except Exception as exc:
            raise BatchFlushError("a bulk write of account data failed") from exc

    def _fresh_guardian(self, guardian_id: str) -> bool:
        """True when the prefetched data of this guardian can answer a read."""
        if guardian_id in self._dirty_guardians:
            self.flush()
            return False
        return guardian_id in self._known

    # -- Reads -----------------------------------------------------------------------------

    def journal(self, plan_fingerprint: str, archived_id: str) -> JournalEntry | None:
        if plan_fingerprint == self._fp and archived_id in self._dirty_journals:
            self.flush()
        elif plan_fingerprint == self._fp and archived_id in self._known_journals:
            return self._journals.get(archived_id)
        return self._tx.journal(plan_fingerprint, archived_id)  # type: ignore[no-any-return]

    def guardians(self, ids: Sequence[str]) -> Mapping[str, StoredGuardian]:
        if all(self._fresh_guardian(i) for i in ids):
            return {i: self._guardians[i] for i in sorted(set(ids)) if i in self._guardians}
        return self._tx.guardians(ids)  # type: ignore[no-any-return]

    def links_of_guardian(self, guardian_id: str) -> list[GuardianLink]:
        if self._fresh_guardian(guardian_id):
            return list(self._links.get(guardian_id, ()))
        return self._tx.links_of_guardian(guardian_id)  # type: ignore[no-any-return]

    def history_rows(self, table: str, student_id: str) -> list[HistoryRow]:
        cached = self._rows.get(table)
        if cached is not None and self._fresh_guardian(student_id):
            return list(cached.get(student_id, ()))
        self.flush()
        return self._tx.history_rows(table, student_id)  # type: ignore[no-any-return]

    def guardian_links(self, student_id: str) -> list[GuardianLink]:
        if student_id in self._dirty_students:
            self.flush()
        return self._tx.guardian_links(student_id)  # type: ignore[no-any-return]

    def students(self, ids: Sequence[str]) -> Mapping[str, StoredStudent]:
        if any(i in self._dirty_students for i in ids):
            self.flush()
        elif all(i in self._known_students for i in ids):  # account steps never change them
            return {i: self._students[i] for i in sorted(set(ids)) if i in self._students}
        return self._tx.students(ids)  # type: ignore[no-any-return]

    def guardian_history_tables(self) -> Sequence[HistoryTable]:
        return self._tables

    def history_tables(self) -> Sequence[HistoryTable]:
        return self._tx.history_tables()  # type: ignore[no-any-return]

    def account_links(self, account_id: str) -> list[AccountLink]:
        self.flush()
        return self._tx.account_links(account_id)  # type: ignore[no-any-return]

    # -- Writes ----------------------------------------------------------------------------

    def _touch(self, link: GuardianLink) -> None:
        self._dirty_guardians.add(link.guardian_id)
        self._dirty_students.add(link.student_id)

    def remove_guardian_link(self, link: GuardianLink) -> None:
        self._touch(link)
        self._queue("unlink", link)

    def add_guardian_link(self, link: GuardianLink) -> None:
        self._touch(link)
        self._queue("link", link)

    def set_guardian_merged_into(self, guardian_id: str, into_id: str | None) -> None:
        self._dirty_guardians.update([guardian_id, *([into_id] if into_id else [])])
        self._queue("merged", (guardian_id, into_id))

    def _owner_rows(self, table: str, keys: Sequence[RowKey]) -> list[str] | None:
        """The guardians owning these rows, when all were read in this batch (else None)."""
        owners = self._owner.get(table, {})
        found = [owners.get(tuple(k)) for k in keys]
        if len({tuple(k) for k in keys}) != len(keys) or any(o is None for o in found):
            return None
        return [o for o in found if o is not None]

    def move_rows(self, table: str, keys: Sequence[RowKey], to_student: str) -> int:
        owners = self._owner_rows(table, keys)
        if owners is None:
            self.flush()
            self._owner.pop(table, None)
            self._rows.pop(table, None)
            return self._tx.move_rows(table, keys, to_student)  # type: ignore[no-any-return]
        self._dirty_guardians.update([to_student, *owners])
        known = self._owner[table]
        for k in keys:
            known[tuple(k)] = to_student
        kind = f"move:{table}"
        self._queue(kind, ([tuple(k) for k in keys], to_student))
        self._promised[kind] = self._promised.get(kind, 0) + len(keys)
        return len(keys)

    def remove_rows(self, table: str, keys: Sequence[RowKey]) -> int:
        owners = self._owner_rows(table, keys)
        if owners is None:
            self.flush()
            self._owner.pop(table, None)
            self._rows.pop(table, None)
            return self._tx.remove_rows(table, keys)  # type: ignore[no-any-return]
        self._dirty_guardians.update(owners)
        for k in keys:
            self._owner[table].pop(tuple(k), None)
        kind = f"remove:{table}"
        self._queue(kind, *(tuple(k) for k in keys))
        self._promised[kind] = self._promised.get(kind, 0) + len(keys)
        return len(keys)

    def insert_rows(self, rows: Sequence[HistoryRow]) -> None:
        self.flush()
        self._tx.insert_rows(rows)
        specs = {t.name: t for t in self._tables}
        for row in rows:
            spec = specs.get(row.table)
            if spec is not None:
                self._dirty_guardians.add(str(row.values.get(spec.student_column)))

    def write_journal(self, entry: JournalEntry) -> None:
        self._dirty_journals.add(entry.archived_id)
        self._queue("journals", entry)

    def write_audit(self, record: AuditRecord) -> None:
        self._queue("audits", record)

    def add_account_link(self, link: AccountLink) -> None:
        self.flush()
        self._tx.add_account_link(link)

    def remove_account_link(self, link: AccountLink) -> None:
        self.flush()
        self._tx.remove_account_link(link)

    # -- The rest of the contract, passed through ------------------------------------------

    def set_merged_into(self, archived_id: str, synced_id: str | None) -> None:
        self.flush()
        self._tx.set_merged_into(archived_id, synced_id)
