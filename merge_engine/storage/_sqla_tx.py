"""The SQLAlchemy adapter's transaction: the engine's reads and writes on one connection."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any

import sqlalchemy as sa

from ..exceptions import MappingError, StorageError
from ..model import Contact
from ._codec import decode_entry, encode_audit_rows, encode_entry
from ._rows import build_contact, build_student
from ._sqla_stmts import HistoryStatements, Statements
from .base import (
    AuditRecord,
    GuardianLink,
    HistoryRow,
    HistoryTable,
    JournalEntry,
    RowKey,
    StoredStudent,
)

__all__ = ["SQLAlchemyTransaction", "contacts_by_student"]

_CHUNK = 1000  # ids per IN (...) list


def contacts_by_student(
    rows: Iterable[Sequence[Any]], stmts: Statements
) -> dict[str, list[Contact]]:
    """Group ``(student id, guardian id, *fields, relationship)`` rows, keeping their order."""
    result: dict[str, list[Contact]] = {}
    fields = stmts.guardian_fields
    for row in rows:
        result.setdefault(str(row[0]), []).append(build_contact(row[1:-1], fields, row[-1]))
    return result


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class SQLAlchemyTransaction:
    """A :class:`~merge_engine.storage.base.Transaction` on one SQLAlchemy connection."""

    def __init__(
        self,
        conn: sa.Connection,
        stmts: Statements,
        translate: Callable[[sa.exc.DBAPIError], StorageError],
    ) -> None:
        self._conn = conn
        self._stmts = stmts
        self._translate = translate
        self.closed = False

    def _run(
        self, statement: sa.Executable, params: Any = None
    ) -> sa.CursorResult[*tuple[Any, ...]]:
        if self.closed:
            raise StorageError("this transaction is finished; open a new one")
        try:
            return self._conn.execute(statement, params)
        except sa.exc.DBAPIError as exc:
            raise self._translate(exc) from None  # the driver error may quote row values
        except sa.exc.StatementError as exc:  # a value the column type cannot take
            kind = type(exc.orig).__name__
            raise StorageError(f"a value could not be sent to the database ({kind})") from None

    def _id(self, student_id: str | None) -> Any:
        try:
            return self._stmts.id_to_db(student_id)
        except ValueError:
            raise StorageError(
                f"student id {student_id!r} does not fit the id column's type"
            ) from None

    def _history(self, table: str) -> HistoryStatements:
        found = self._stmts.history.get(table)
        if found is None:
            raise MappingError(
                f"{table!r} is not a configured history table; add it to the mapping"
            )
        return found

    # -- Students and guardians ----------------------------------------------------------

    def students(self, ids: Sequence[str]) -> Mapping[str, StoredStudent]:
        st = self._stmts
        wanted = [self._id(i) for i in sorted(set(ids))]
        flag = st.flag(True)
        result: dict[str, StoredStudent] = {}
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            rows = self._run(st.students_in, {"ids": chunk}).all()  # locks, in id order
            contacts = contacts_by_student(self._run(st.contacts_in, {"ids": chunk}), st)
            for row in rows:
                sid = str(row[0])
                student = build_student(
                    (row[0], *row[3:]), st.student_fields, contacts.get(sid, ())
                )
                result[sid] = StoredStudent(student, row[1] == flag, _text(row[2]))
        return dict(sorted(result.items()))

    def guardian_links(self, student_id: str) -> list[GuardianLink]:
        rows = self._run(self._stmts.links_of, {"student": self._id(student_id)}).all()
        return [GuardianLink(student_id, str(g), _text(rel)) for g, rel in rows]

    def add_guardian_link(self, link: GuardianLink) -> None:
        st = self._stmts
        params = {"student": self._id(link.student_id), "guardian": st.gid_to_db(link.guardian_id)}
        row = self._run(st.link_check, params).one()
        if row[0] is None:
            raise StorageError(f"no student with id {link.student_id!r}")
        if row[1] is None:
            raise StorageError(f"no guardian with id {link.guardian_id!r}")
        if row[2] is not None:
            raise StorageError(
                f"guardian {link.guardian_id!r} is already linked to student {link.student_id!r}"
            )
        values = {st.l_student.name: params["student"], st.l_guardian.name: params["guardian"]}
        if st.l_rel is not None:
            values[st.l_rel.name] = link.relationship
        if st.l_order is not None:
            values[st.l_order.name] = row[3]
        self._run(sa.insert(st.links), values)

    def remove_guardian_link(self, link: GuardianLink) -> None:
        params = {
            "student": self._id(link.student_id),
            "guardian": self._stmts.gid_to_db(link.guardian_id),
        }
        self._run(self._stmts.remove_link, params)

    def set_merged_into(self, archived_id: str, synced_id: str | None) -> None:
        st = self._stmts
        params = st.merged_params(archived_id, synced_id)
        statement = st.clear_merged if synced_id is None else st.set_merged
        if self._run(statement, params).rowcount == 1:
            return
        if self._run(st.student_exists, {"id": self._id(archived_id)}).first() is None:
            raise StorageError(f"no student with id {archived_id!r}")
        raise StorageError(f"no student with id {synced_id!r}")

    # -- History rows ----------------------------------------------------------------------

    def history_tables(self) -> Sequence[HistoryTable]:
        return self._stmts.mapping.history

    def history_rows(self, table: str, student_id: str) -> list[HistoryRow]:
        h = self._history(table)
        rows = self._run(h.rows, {"me_student": h.to_db(student_id)}).all()
        columns, positions = h.columns, h.key_positions
        return [
            HistoryRow(
                table, tuple(row[p] for p in positions), dict(zip(columns, row, strict=True))
            )
            for row in rows
        ]

    def move_rows(self, table: str, keys: Sequence[RowKey], to_student: str) -> int:
        h = self._history(table)
        if not keys:
            return 0
        target = self._id(to_student)
        if h.single_key:
            to, moved = h.to_db(to_student), 0
            for i in range(0, len(keys), _CHUNK):
                chunk = [key[0] for key in keys[i : i + _CHUNK]]
                params = {"me_keys": chunk, "me_to": to, "me_check": target}
                moved += self._run(h.move_in, params).rowcount
            if moved or self._run(self._stmts.student_exists, {"id": target}).first():
                return moved
            raise StorageError(f"no student with id {to_student!r}")
        if self._run(self._stmts.student_exists, {"id": target}).first() is None:
            raise StorageError(f"no student with id {to_student!r}")
        to = h.to_db(to_student)
        return self._many(h.move, [{"me_to": to, **h.key_params(key)} for key in keys])

    def remove_rows(self, table: str, keys: Sequence[RowKey]) -> int:
        h = self._history(table)
        if not keys:
            return 0
        if h.single_key:
            return sum(
                self._run(h.remove_in, {"me_keys": [k[0] for k in keys[i : i + _CHUNK]]}).rowcount
                for i in range(0, len(keys), _CHUNK)
            )
        return self._many(h.remove, [h.key_params(key) for key in keys])

    def _many(self, statement: sa.Executable, params: list[dict[str, Any]]) -> int:
        if len(params) == 1:
            return self._run(statement, params[0]).rowcount
        # executemany rowcounts are not reliable on every driver: count one by one
        # only when the driver cannot sum them.
        result = self._run(statement, params)
        if result.rowcount >= 0:
            return result.rowcount
        return len(params)  # pragma: no cover - drivers without executemany rowcount

    def insert_rows(self, rows: Sequence[HistoryRow]) -> None:
        def shape(row: HistoryRow) -> tuple[str, tuple[str, ...]]:
            return row.table, tuple(row.values)

        for (table, columns), group in groupby(rows, key=shape):
            h = self._history(table)
            unknown = [c for c in columns if c not in h.table.c]
            if unknown:
                raise MappingError(f"table {table!r} has no column {unknown[0]!r}")
            self._run(sa.insert(h.table), [dict(r.values) for r in group])

    # -- Journal and audit -----------------------------------------------------------------

    def journal(self, plan_fingerprint: str, archived_id: str) -> JournalEntry | None:
        params = {"fp": plan_fingerprint, "aid": archived_id}
        row = self._run(self._stmts.journal_get, params).first()
        return None if row is None else decode_entry(row[0])

    def write_journal(self, entry: JournalEntry) -> None:
        st = self._stmts
        params = {
            "fp": entry.plan_fingerprint,
            "aid": entry.archived_id,
            "sid": entry.synced_id,
            "e": encode_entry(entry),
            "u": int(entry.undone),
        }
        if self._run(st.journal_update, params).rowcount == 1:
            return
        self._run(
            sa.insert(st.journal),
            {
                "plan_fingerprint": entry.plan_fingerprint,
                "archived_id": entry.archived_id,
                "synced_id": entry.synced_id,
                "entry": params["e"],
                "undone": params["u"],
            },
        )

    def write_audit(self, record: AuditRecord) -> None:
        self._run(
            sa.insert(self._stmts.audit),
            {
                "action": record.action,
                "plan_fingerprint": record.plan_fingerprint,
                "archived_id": record.archived_id,
                "synced_id": record.synced_id,
                "at": record.at,
                "rows": encode_audit_rows(record),
                "note": record.note,
            },
        )
