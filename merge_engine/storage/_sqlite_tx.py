"""The SQLite adapter's transaction: the engine's reads and writes, as prepared SQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any

from ..exceptions import MappingError, StorageError
from ..model import Contact
from ._base import (
    AccountLink,
    AuditRecord,
    GuardianLink,
    HistoryRow,
    HistoryTable,
    JournalEntry,
    RowKey,
    StoredGuardian,
    StoredStudent,
)
from ._rows import build_contact, build_student, link_order, now_iso
from ._sqlite_accounts import AccountSQL
from ._sqlite_sql import HistorySQL, SQLiteSQL
from .adapter import ALL_TRANSACTION_CAPABILITIES, BaseTransaction
from .codec import audit_record, decode_entry, encode_audit_rows, encode_entry

__all__ = ["SQLiteTransaction", "contacts_by_student"]

_CHUNK = 500  # ids per IN (...) list


def contacts_by_student(rows: Iterable[Sequence[Any]], sql: SQLiteSQL) -> dict[str, list[Contact]]:
    """Group ``(student id, guardian id, *fields, relationship)`` rows, keeping their order."""
    result: dict[str, list[Contact]] = {}
    fields = sql.guardian_fields
    for row in rows:
        result.setdefault(str(row[0]), []).append(build_contact(row[1:-1], fields, row[-1]))
    return result


class SQLiteTransaction(BaseTransaction):
    """A transaction inside ``BEGIN IMMEDIATE``, with every capability."""

    capabilities = ALL_TRANSACTION_CAPABILITIES

    def __init__(
        self,
        conn: sqlite3.Connection,
        sql: SQLiteSQL,
        accounts: AccountSQL,
        translate: Callable[[sqlite3.Error], StorageError],
    ) -> None:
        self._conn = conn
        self._sql = sql
        self._accounts = accounts
        self._translate = translate
        self.closed = False

    def _run(self, statement: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        if self.closed:
            raise StorageError("this transaction is finished; open a new one")
        try:
            return self._conn.execute(statement, params)
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc

    def _run_many(self, statement: str, params: Iterable[Sequence[Any]]) -> int:
        if self.closed:
            raise StorageError("this transaction is finished; open a new one")
        try:
            return self._conn.executemany(statement, params).rowcount
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc

    def _history(self, table: str) -> HistorySQL:
        found = self._sql.history.get(table) or self._accounts.history.get(table)
        if found is None:
            self._accounts.require(f"guardian_history {table}")
            raise MappingError(
                f"{table!r} is not a configured history table; add it to the mapping"
            )
        return found

    # -- Students and guardians ----------------------------------------------------------

    def students(self, ids: Sequence[str]) -> Mapping[str, StoredStudent]:
        sql = self._sql
        wanted = sorted(set(ids))
        result: dict[str, StoredStudent] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            contacts = contacts_by_student(self._run(sql.contacts_in(len(chunk)), chunk), sql)
            for row in self._run(sql.students_in(len(chunk)), chunk).fetchall():
                sid = str(row[0])
                student = build_student(
                    (row[0], *row[3:]), sql.student_fields, contacts.get(sid, ())
                )
                archived = row[1] == sql.flag(True)
                result[sid] = StoredStudent(student, archived, _text(row[2]))
        return dict(sorted(result.items()))

    def guardian_links(self, student_id: str) -> list[GuardianLink]:
        rows = self._run(self._sql.links_of, (student_id,)).fetchall()
        return [GuardianLink(student_id, str(g), _text(rel), link_order(o)) for g, rel, o in rows]

    def add_guardian_link(self, link: GuardianLink) -> None:
        sql = self._sql
        params: list[Any] = [link.student_id, link.guardian_id]
        if sql.link_has_relationship:
            params.append(link.relationship)
        if sql.link_has_order:
            params += [link.order, link.student_id]
        params += [link.student_id, link.guardian_id, link.student_id, link.guardian_id]
        if self._run(sql.add_link, params).rowcount == 1:
            return
        if self._run(sql.student_exists, (link.student_id,)).fetchone() is None:
            raise StorageError(f"no student with id {link.student_id!r}")
        if self._run(sql.guardian_exists, (link.guardian_id,)).fetchone() is None:
            raise StorageError(f"no guardian with id {link.guardian_id!r}")
        raise StorageError(
            f"guardian {link.guardian_id!r} is already linked to student {link.student_id!r}"
        )

    def remove_guardian_link(self, link: GuardianLink) -> None:
        self._run(self._sql.remove_link, (link.student_id, link.guardian_id))

    def set_merged_into(self, archived_id: str, synced_id: str | None) -> None:
        sql = self._sql
        params: list[Any] = [synced_id]
        if sql.mapping.students.updated_at:
            params.append(now_iso())
        params += [archived_id, synced_id, synced_id]
        if self._run(sql.set_merged, params).rowcount == 1:
            return
        if self._run(sql.student_exists, (archived_id,)).fetchone() is None:
            raise StorageError(f"no student with id {archived_id!r}")
        raise StorageError(f"no student with id {synced_id!r}")

    # -- History rows ----------------------------------------------------------------------

    def history_tables(self) -> Sequence[HistoryTable]:
        return self._sql.mapping.history

    def history_rows(self, table: str, student_id: str) -> list[HistoryRow]:
        h = self._history(table)
        cursor = self._run(h.rows, (student_id,))
        columns, positions = h.columns, h.key_positions
        return [
            HistoryRow(
                table, tuple(row[p] for p in positions), dict(zip(columns, row, strict=True))
            )
            for row in cursor.fetchall()
        ]

    def move_rows(self, table: str, keys: Sequence[RowKey], to_student: str) -> int:
        h = self._history(table)
        if not keys:
            return 0
        exists = self._sql.guardian_exists if h.owner == "guardian" else self._sql.student_exists
        if self._run(exists, (to_student,)).fetchone() is None:
            raise StorageError(f"no {h.owner} with id {to_student!r}")
        return self._run_many(h.move, [(to_student, *key) for key in keys])

    def remove_rows(self, table: str, keys: Sequence[RowKey]) -> int:
        h = self._history(table)
        if not keys:
            return 0
        return self._run_many(h.remove, [tuple(key) for key in keys])

    def insert_rows(self, rows: Sequence[HistoryRow]) -> None:
        def shape(row: HistoryRow) -> tuple[str, tuple[str, ...]]:
            return row.table, tuple(row.values)

        for (table, columns), group in groupby(rows, key=shape):
            statement = self._history(table).insert(columns)
            self._run_many(statement, [tuple(r.values.values()) for r in group])

    # -- Guardian accounts (AccountTransaction) ------------------------------------------------

    def guardians(self, ids: Sequence[str]) -> Mapping[str, StoredGuardian]:
        result: dict[str, StoredGuardian] = {}
        for chunk in self._chunks(ids):
            for gid, merged in self._run(self._accounts.guardians_in(len(chunk)), chunk):
                result[str(gid)] = StoredGuardian(str(gid), _text(merged))
        return dict(sorted(result.items()))

    def guardian_contacts(self, ids: Sequence[str]) -> Mapping[str, Contact]:
        sql = self._sql
        result: dict[str, Contact] = {}
        for chunk in self._chunks(ids):
            for row in self._run(sql.guardian_contacts_in(len(chunk)), chunk):
                result[str(row[0])] = build_contact(row, sql.guardian_fields, None)
        return dict(sorted(result.items()))

    def guardian_history_tables(self) -> Sequence[HistoryTable]:
        return self._sql.mapping.guardian_history

    def links_of_guardian(self, guardian_id: str) -> list[GuardianLink]:
        rows = self._run(self._accounts.links_of_guardian, (guardian_id,)).fetchall()
        return [GuardianLink(str(s), guardian_id, _text(rel), link_order(o)) for s, rel, o in rows]

    def set_guardian_merged_into(self, guardian_id: str, into_id: str | None) -> None:
        statement = self._accounts.require_merged_column()
        if self._run(statement, (into_id, guardian_id, into_id, into_id)).rowcount:
            return
        if self._run(self._sql.guardian_exists, (guardian_id,)).fetchone() is None:
            raise StorageError(f"no guardian with id {guardian_id!r}")
        raise StorageError(f"no guardian with id {into_id!r}")

    def account_links(self, account_id: str) -> list[AccountLink]:
        if self._sql.mapping.account_links is None:
            return []
        self._accounts.require_links_table()
        rows = self._run(self._accounts.account_links, (account_id,)).fetchall()
        return [AccountLink(kind, str(a), str(b), mode) for kind, a, b, mode in rows]

    def add_account_link(self, link: AccountLink) -> None:
        staff = link.kind == "staff_guardian"
        statement = self._accounts.add_link(staff)
        first, second = link.first_id, link.second_id
        key = (link.kind, first, second)
        if self._run(statement, (*key, link.mode, first, second, *key)).rowcount:
            return
        exists = self._accounts.staff_exists if staff else self._sql.guardian_exists
        if self._run(exists, (first,)).fetchone() is None:
            raise StorageError(f"no {'staff member' if staff else 'guardian'} with id {first!r}")
        if self._run(self._sql.guardian_exists, (second,)).fetchone() is None:
            raise StorageError(f"no guardian with id {second!r}")
        raise StorageError(f"accounts {first!r} and {second!r} are already linked")

    def remove_account_link(self, link: AccountLink) -> None:
        self._accounts.require_links_table()
        self._run(self._accounts.remove_link, (link.kind, link.first_id, link.second_id))

    # -- Journal and audit -----------------------------------------------------------------

    def journal(self, plan_fingerprint: str, archived_id: str) -> JournalEntry | None:
        row = self._run(self._sql.journal_get, (plan_fingerprint, archived_id)).fetchone()
        return None if row is None else decode_entry(row[0])

    def write_journal(self, entry: JournalEntry) -> None:
        params = (
            entry.plan_fingerprint,
            entry.archived_id,
            entry.synced_id,
            encode_entry(entry),
            int(entry.undone),
        )
        self._run(self._sql.journal_put, params)

    def audit_records_of(self, archived_ids: Sequence[str]) -> list[AuditRecord]:
        found: list[tuple[int, AuditRecord]] = []
        for chunk in self._chunks(archived_ids):
            for row in self._run(self._sql.audit_of(len(chunk)), chunk).fetchall():
                found.append((row[0], audit_record(row[1:])))
        found.sort(key=lambda pair: pair[0])
        return [r for _, r in found]

    def write_audit(self, record: AuditRecord) -> None:
        params = (
            record.action,
            record.plan_fingerprint,
            record.archived_id,
            record.synced_id,
            record.at,
            encode_audit_rows(record),
            record.note,
        )
        self._run(self._sql.audit_put, params)

    # -- Optional batch-level methods (see BulkTransaction) --------------------------------

    def _chunks(self, ids: Sequence[str]) -> Iterable[list[str]]:
        wanted = sorted(set(ids))
        return (wanted[i : i + _CHUNK] for i in range(0, len(wanted), _CHUNK))

    def history_rows_many(
        self, table: str, student_ids: Sequence[str]
    ) -> dict[str, list[HistoryRow]]:
        h = self._history(table)
        result: dict[str, list[HistoryRow]] = {i: [] for i in student_ids}
        columns, positions, owner = h.columns, h.key_positions, h.student_position
        for chunk in self._chunks(student_ids):
            for row in self._run(h.rows_in(len(chunk)), chunk).fetchall():
                rows = result.get(str(row[owner]))
                if rows is not None:
                    key = tuple(row[p] for p in positions)
                    rows.append(HistoryRow(table, key, dict(zip(columns, row, strict=True))))
        return result

    def guardian_links_many(self, student_ids: Sequence[str]) -> dict[str, list[GuardianLink]]:
        result: dict[str, list[GuardianLink]] = {i: [] for i in student_ids}
        for chunk in self._chunks(student_ids):
            for sid, g, rel, o in self._run(self._sql.links_in(len(chunk)), chunk).fetchall():
                links = result.get(str(sid))
                if links is not None:
                    links.append(GuardianLink(str(sid), str(g), _text(rel), link_order(o)))
        return result

    def journals(
        self, plan_fingerprint: str, archived_ids: Sequence[str]
    ) -> dict[str, JournalEntry]:
        found: dict[str, JournalEntry] = {}
        for chunk in self._chunks(archived_ids):
            statement = self._sql.journals_in(len(chunk))
            for aid, text in self._run(statement, [plan_fingerprint, *chunk]).fetchall():
                found[str(aid)] = decode_entry(text)
        return found

    def move_rows_many(self, table: str, moves: Sequence[tuple[Sequence[RowKey], str]]) -> int:
        h = self._history(table)
        moves = [(keys, to) for keys, to in moves if keys]
        if not moves:
            return 0
        targets = {to for _, to in moves}
        ids_in = (
            self._accounts.guardian_ids_in if h.owner == "guardian" else self._sql.student_ids_in
        )
        present: set[str] = set()
        for chunk in self._chunks(list(targets)):
            present.update(str(r[0]) for r in self._run(ids_in(len(chunk)), chunk).fetchall())
        missing = sorted(targets - present)
        if missing:
            raise StorageError(f"no {h.owner} with id {missing[0]!r}")
        return self._run_many(h.move, [(to, *key) for keys, to in moves for key in keys])

    def add_guardian_links(self, links: Sequence[GuardianLink]) -> None:
        for link in links:
            self.add_guardian_link(link)

    def remove_guardian_links(self, links: Sequence[GuardianLink]) -> None:
        self._run_many(self._sql.remove_link, [(k.student_id, k.guardian_id) for k in links])

    def set_merged_into_many(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        for archived_id, synced_id in pairs:
            self.set_merged_into(archived_id, synced_id)

    def links_of_guardians(self, guardian_ids: Sequence[str]) -> dict[str, list[GuardianLink]]:
        result: dict[str, list[GuardianLink]] = {i: [] for i in guardian_ids}
        for chunk in self._chunks(guardian_ids):
            statement = self._accounts.links_of_guardians_in(len(chunk))
            for g, sid, rel, o in self._run(statement, chunk).fetchall():
                links = result.get(str(g))
                if links is not None:
                    links.append(GuardianLink(str(sid), str(g), _text(rel), link_order(o)))
        return result

    def set_guardian_merged_into_many(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        if not pairs:
            return
        self._accounts.require_merged_column()
        ids = {g for g, _ in pairs} | {into for _, into in pairs if into is not None}
        present: set[str] = set()
        for chunk in self._chunks(list(ids)):
            statement = self._accounts.guardian_ids_in(len(chunk))
            present.update(str(r[0]) for r in self._run(statement, chunk).fetchall())
        for guardian_id, into_id in pairs:  # the error set_guardian_merged_into would raise
            for account in (guardian_id, into_id):
                if account is not None and account not in present:
                    raise StorageError(f"no guardian with id {account!r}")
        self._run_many(self._accounts.set_merged_many, [(into, g) for g, into in pairs])

    def write_journals(self, entries: Sequence[JournalEntry]) -> None:
        self._run_many(
            self._sql.journal_put,
            [
                (e.plan_fingerprint, e.archived_id, e.synced_id, encode_entry(e), int(e.undone))
                for e in entries
            ],
        )

    def write_audits(self, records: Sequence[AuditRecord]) -> None:
        self._run_many(
            self._sql.audit_put,
            [
                (r.action, r.plan_fingerprint, r.archived_id, r.synced_id, r.at,
                 encode_audit_rows(r), r.note)
                for r in records
            ],
        )  # fmt: skip


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
