"""An adapter for a platform's own SQLite tables (tests/test_docs_adapter.py) and two of ours."""

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import merge_engine.storage as me
from merge_engine import Contact, MappingError, Roster, StorageError, Student

ENGINE_TABLES = """CREATE TABLE IF NOT EXISTS engine_journal (plan TEXT, pupil TEXT, entry TEXT,
    PRIMARY KEY (plan, pupil)); CREATE TABLE IF NOT EXISTS engine_audit (seq INTEGER PRIMARY KEY,
    action TEXT, plan TEXT, archived TEXT, synced TEXT, at TEXT, rows TEXT, note TEXT);"""
CONTACTS = """SELECT parent_id, given_name, family_name, email, mobile, relation FROM pupil_parents
    JOIN parents USING (parent_id) WHERE pupil_id = ? ORDER BY position, parent_id"""
PUPIL = "SELECT * FROM pupils WHERE pupil_id = ?"
AUDIT = "SELECT action, plan, archived, synced, at, rows, note FROM engine_audit ORDER BY seq"


class PlatformStorage(me.BaseStorage):
    """The platform's database: rosters, transactions and the audit."""

    def __init__(self, path: str, history: Sequence[me.HistoryTable]) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)  # we BEGIN and COMMIT
        self.conn.row_factory = sqlite3.Row
        self.conn.executescript(ENGINE_TABLES)
        self.history = tuple(history)

    def read_roster(self, side: me.Side) -> Roster:
        if side not in ("archived", "synced"):
            raise ValueError(f"side must be 'archived' or 'synced', not {side!r}")
        where = "is_old = 1 AND merged_to IS NULL" if side == "archived" else "is_old = 0"
        ids = [r[0] for r in self.conn.execute(f"SELECT pupil_id FROM pupils WHERE {where}")]
        with self.transaction() as tx:
            students = [s.student for s in tx.students(ids).values()]
        return Roster(students, format="platform", has_dob_column=any(s.dob for s in students))

    @contextlib.contextmanager
    def transaction(self) -> Iterator["PlatformTransaction"]:
        self.conn.execute("BEGIN IMMEDIATE")
        with self.conn:  # COMMIT, or ROLLBACK when anything is raised
            yield PlatformTransaction(self.conn, self.history)

    def audit_records(self) -> Iterator[me.AuditRecord]:
        for a, plan, old, new, at, rows, note in self.conn.execute(AUDIT).fetchall():
            yield me.AuditRecord(a, plan, old, new, at, json.loads(rows), note)

    def close(self) -> None:
        self.conn.close()


class PlatformTransaction(me.BaseTransaction):
    """Student merges; the batch-level methods are the base's loops."""

    capabilities = frozenset()  # no Capability.ACCOUNTS: apply with accounts=False

    def __init__(self, conn: sqlite3.Connection, history: Sequence[me.HistoryTable]) -> None:
        self.conn, self.history, self.tables = conn, history, {t.name: t for t in history}

    def run(self, query: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(query, params)
        except sqlite3.Error as exc:  # its message names tables and columns, never values
            raise StorageError(f"the database refused the change ({exc})") from None

    def one(self, query: str, *params: Any) -> Any:
        return (self.run(query, params).fetchone() or [None])[0]

    def table(self, name: str) -> tuple[me.HistoryTable, str]:
        if (t := self.tables.get(name)) is None:
            raise MappingError(f"{name!r} is not a configured history table")
        return t, " AND ".join(f"{c} = ?" for c in t.primary_key)

    def require(self, what: str, *keys: str | None) -> None:
        table, column = ("pupils", "pupil_id") if what == "student" else ("parents", "parent_id")
        for key in keys:
            if key is not None and not self.one(f"SELECT 1 FROM {table} WHERE {column} = ?", key):
                raise StorageError(f"no {what} with id {key!r}")

    def students(self, ids: Sequence[str]) -> Mapping[str, me.StoredStudent]:
        found = {}
        for i in sorted(set(ids)):
            for _, first, last, dob, grade, old, merged_to in self.run(PUPIL, [i]).fetchall():
                contacts = [Contact(*c) for c in self.run(CONTACTS, [i])]
                birth = dt.date.fromisoformat(dob) if dob else None
                pupil = Student(i, first, last, dob=birth, grade=grade, contacts=contacts)
                found[i] = me.StoredStudent(pupil, bool(old), merged_to)
        return found

    def history_rows(self, table: str, student_id: str) -> list[me.HistoryRow]:
        t, _ = self.table(table)
        order = ", ".join(t.primary_key)
        query = f"SELECT * FROM {t.name} WHERE {t.student_column} = ? ORDER BY {order}"
        rows = [dict(r) for r in self.run(query, [student_id])]
        return [me.HistoryRow(table, me.history_key(t, r), r) for r in rows]

    def move_rows(self, table: str, keys: Sequence[me.RowKey], to_student: str) -> int:
        t, by_key = self.table(table)
        self.require("student", to_student)
        query = f"UPDATE {t.name} SET {t.student_column} = ? WHERE {by_key}"
        return sum(self.run(query, [to_student, *k]).rowcount for k in keys)

    def remove_rows(self, table: str, keys: Sequence[me.RowKey]) -> int:
        t, by_key = self.table(table)
        return sum(self.run(f"DELETE FROM {t.name} WHERE {by_key}", k).rowcount for k in keys)

    def insert_rows(self, rows: Sequence[me.HistoryRow]) -> None:
        for row in rows:
            t, _ = self.table(row.table)
            columns = ", ".join(me.check_identifier(c, "a column") for c in row.values)
            marks = ", ".join("?" * len(row.values))
            self.run(f"INSERT INTO {t.name} ({columns}) VALUES ({marks})", [*row.values.values()])

    def guardian_links(self, student_id: str) -> list[me.GuardianLink]:
        query = "SELECT * FROM pupil_parents WHERE pupil_id = ? ORDER BY parent_id"
        return [me.GuardianLink(*r) for r in self.run(query, [student_id])]

    def add_guardian_link(self, link: me.GuardianLink) -> None:
        self.require("student", link.student_id)
        self.require("guardian", link.guardian_id)
        if link.guardian_id in {x.guardian_id for x in self.guardian_links(link.student_id)}:
            raise StorageError(f"guardian {link.guardian_id!r} is already linked")
        last = "SELECT COALESCE(MAX(position) + 1, 0) FROM pupil_parents WHERE pupil_id = ?"
        order = link.order if link.order is not None else self.one(last, link.student_id)
        values = [link.student_id, link.guardian_id, link.relationship, order]
        self.run("INSERT INTO pupil_parents VALUES (?, ?, ?, ?)", values)

    def remove_guardian_link(self, link: me.GuardianLink) -> None:
        query = "DELETE FROM pupil_parents WHERE pupil_id = ? AND parent_id = ?"
        self.run(query, [link.student_id, link.guardian_id])

    def set_merged_into(self, archived_id: str, synced_id: str | None) -> None:
        self.require("student", archived_id, synced_id)
        self.run("UPDATE pupils SET merged_to = ? WHERE pupil_id = ?", [synced_id, archived_id])

    def journal(self, plan_fingerprint: str, archived_id: str) -> me.JournalEntry | None:
        query = "SELECT entry FROM engine_journal WHERE plan = ? AND pupil = ?"
        text = self.one(query, plan_fingerprint, archived_id)
        return None if text is None else me.decode_entry(text)

    def write_journal(self, entry: me.JournalEntry) -> None:
        values = [entry.plan_fingerprint, entry.archived_id, me.encode_entry(entry)]
        self.run("INSERT OR REPLACE INTO engine_journal VALUES (?, ?, ?)", values)

    def write_audit(self, r: me.AuditRecord) -> None:  # ids and counts only
        v = [r.action, r.plan_fingerprint, r.archived_id, r.synced_id, r.at, json.dumps({**r.rows})]
        self.run("INSERT INTO engine_audit VALUES (NULL, ?, ?, ?, ?, ?, ?, ?)", [*v, r.note])
