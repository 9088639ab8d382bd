"""The SQLAlchemy adapter's transaction: the engine's reads and writes on one connection.

History methods work on student and guardian history tables alike, by name;
the account methods live in :mod:`._sqla_accounts`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any

import sqlalchemy as sa

from ..exceptions import MappingError, StorageError
from ..model import Contact
from ._base import (
    AuditRecord,
    GuardianLink,
    HistoryRow,
    HistoryTable,
    JournalEntry,
    RowKey,
    StoredStudent,
)
from ._rows import build_contact, build_student, link_order
from ._sqla_accounts import AccountMethods, AccountStatements
from ._sqla_stmts import HistoryStatements, Statements, stamp_for
from .adapter import ALL_TRANSACTION_CAPABILITIES, BaseTransaction
from .codec import audit_record, decode_entry, encode_audit_rows, encode_entry

__all__ = ["SQLAlchemyTransaction", "contacts_by_student"]

_CHUNK = 1000  # ids per IN (...) list
_ANY_CHUNK = 20_000  # ids per = ANY(array) parameter (PostgreSQL)


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


class SQLAlchemyTransaction(AccountMethods, BaseTransaction):
    """A transaction on one SQLAlchemy connection, with every capability."""

    capabilities = ALL_TRANSACTION_CAPABILITIES

    def __init__(
        self,
        conn: sa.Connection,
        stmts: Statements,
        translate: Callable[[sa.exc.DBAPIError], StorageError],
        accounts: AccountStatements,
    ) -> None:
        self._conn = conn
        self._stmts = stmts
        self._accounts = accounts
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

    def _owner(self, h: HistoryStatements, owner_id: str) -> Any:
        """A history row owner's id (a student's, or a guardian's) as its id column takes it."""
        try:
            return h.owner_to_db(owner_id)
        except ValueError:
            raise StorageError(
                f"{h.owner} id {owner_id!r} does not fit the id column's type"
            ) from None

    def _history(self, table: str) -> HistoryStatements:
        found = self._stmts.history.get(table)
        if found is None:
            self._accounts.require(f"guardian_history {table}")  # mapped, but not in the database
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
            contacts = contacts_by_student(self._run(st.contacts_in, {"ids": chunk}).all(), st)
            for row in rows:
                sid = str(row[0])
                student = build_student(
                    (row[0], *row[3:]), st.student_fields, contacts.get(sid, ())
                )
                result[sid] = StoredStudent(student, row[1] == flag, _text(row[2]))
        return dict(sorted(result.items()))

    def guardian_links(self, student_id: str) -> list[GuardianLink]:
        rows = self._run(self._stmts.links_of, {"student": self._id(student_id)}).all()
        return [GuardianLink(student_id, str(g), _text(rel), link_order(o)) for g, rel, o in rows]

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
            values[st.l_order.name] = row[3] if link.order is None else link.order
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
        target = self._owner(h, to_student)
        if h.single_key:
            to, moved = h.to_db(to_student), 0
            for i in range(0, len(keys), _CHUNK):
                chunk = [key[0] for key in keys[i : i + _CHUNK]]
                params = {"me_keys": chunk, "me_to": to, "me_check": target}
                moved += self._run(h.move_in, params).rowcount
            if moved or self._run(h.owner_exists, {"id": target}).first():
                return moved
            raise StorageError(f"no {h.owner} with id {to_student!r}")
        if self._run(h.owner_exists, {"id": target}).first() is None:
            raise StorageError(f"no {h.owner} with id {to_student!r}")
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

    def audit_records_of(self, archived_ids: Sequence[str]) -> list[AuditRecord]:
        found: list[tuple[int, AuditRecord]] = []
        for chunk, _ in self._id_chunks(archived_ids, str):
            for row in self._run(self._stmts.audit_of, {"ids": chunk}).all():
                found.append((int(row[0]), audit_record(tuple(row[1:]))))
        found.sort(key=lambda pair: pair[0])
        return [r for _, r in found]

    def write_audit(self, record: AuditRecord) -> None:
        self._run(sa.insert(self._stmts.audit), _audit_row(record))

    # -- Optional batch-level methods (see BulkTransaction) --------------------------------

    def _id_chunks(
        self, ids: Sequence[str], to_db: Callable[[Any], Any]
    ) -> Iterable[tuple[list[Any], dict[Any, str]]]:
        """Chunks of distinct ids as bound values, with the map back to the given ids."""
        back: dict[Any, str] = {}
        for i in sorted(set(ids)):
            try:
                back[to_db(i)] = i
            except ValueError:
                continue  # an id the column cannot hold matches nothing
        values = list(back)
        size = _ANY_CHUNK if self._stmts.postgres else _CHUNK
        for start in range(0, len(values), size):
            chunk = values[start : start + size]
            yield chunk, back

    def history_rows_many(
        self, table: str, student_ids: Sequence[str]
    ) -> dict[str, list[HistoryRow]]:
        h = self._history(table)
        result: dict[str, list[HistoryRow]] = {i: [] for i in student_ids}
        columns, positions, owner = h.columns, h.key_positions, h.student_position
        for chunk, back in self._id_chunks(student_ids, h.to_db):
            for row in self._run(h.rows_any, {"me_students": chunk}).all():
                sid = back.get(row[owner])
                if sid is not None:
                    key = tuple(row[p] for p in positions)
                    result[sid].append(HistoryRow(table, key, dict(zip(columns, row, strict=True))))
        return result

    def guardian_links_many(self, student_ids: Sequence[str]) -> dict[str, list[GuardianLink]]:
        result: dict[str, list[GuardianLink]] = {i: [] for i in student_ids}
        for chunk, back in self._id_chunks(student_ids, self._stmts.id_to_db):
            for student, guardian, rel, o in self._run(self._stmts.links_any, {"ids": chunk}):
                sid = back.get(student)
                if sid is not None:
                    result[sid].append(GuardianLink(sid, str(guardian), _text(rel), link_order(o)))
        return result

    def journals(
        self, plan_fingerprint: str, archived_ids: Sequence[str]
    ) -> dict[str, JournalEntry]:
        found: dict[str, JournalEntry] = {}
        for chunk, _ in self._id_chunks(archived_ids, str):
            params = {"fp": plan_fingerprint, "ids": chunk}
            for aid, text in self._run(self._stmts.journals_any, params).all():
                found[str(aid)] = decode_entry(text)
        return found

    def _require_owners(self, h: HistoryStatements, ids: Iterable[str]) -> None:
        """Raise unless every id is a student (a guardian, for guardian history) that exists."""
        wanted = set(ids)
        present: set[str] = set()
        for chunk, back in self._id_chunks(list(wanted), lambda i: self._owner(h, i)):
            rows = self._run(h.owner_ids_any, {"ids": chunk})
            present.update(back[r[0]] for r in rows if r[0] in back)
        missing = sorted(wanted - present)
        if missing:
            raise StorageError(f"no {h.owner} with id {missing[0]!r}")

    def move_rows_many(self, table: str, moves: Sequence[tuple[Sequence[RowKey], str]]) -> int:
        h = self._history(table)
        moves = [(keys, to) for keys, to in moves if keys]
        if not moves:
            return 0
        self._require_owners(h, (to for _, to in moves))
        if h.move_unnest is not None:
            keys = [key[0] for ks, _ in moves for key in ks]
            tos = [h.to_db(to) for ks, to in moves for _ in ks]
            return self._run(h.move_unnest, {"me_keys": keys, "me_tos": tos}).rowcount
        params = [{"me_to": h.to_db(to), **h.key_params(key)} for ks, to in moves for key in ks]
        return self._many(h.move, params)

    def add_guardian_links(self, links: Sequence[GuardianLink]) -> None:
        st = self._stmts
        if not links:
            return
        params = []
        for link in links:
            p = {"student": self._id(link.student_id), "guardian": st.gid_to_db(link.guardian_id)}
            if st.l_rel is not None:
                p["rel"] = link.relationship
            if st.l_order is not None:
                p["order"] = link.order
            params.append(p)
        if self._many(st.add_link_guarded, params) == len(links):
            return
        # Some link was refused: say which, as add_guardian_link would (the caller rolls back).
        for p, link in zip(params, links, strict=True):
            row = self._run(st.link_check, {"student": p["student"], "guardian": p["guardian"]})
            found = row.one()
            if found[0] is None:
                raise StorageError(f"no student with id {link.student_id!r}")
            if found[1] is None:
                raise StorageError(f"no guardian with id {link.guardian_id!r}")
        raise StorageError("some guardian links could not be added (already linked)")

    def remove_guardian_links(self, links: Sequence[GuardianLink]) -> None:
        if links:
            gid = self._stmts.gid_to_db
            params = [
                {"student": self._id(k.student_id), "guardian": gid(k.guardian_id)} for k in links
            ]
            self._run(self._stmts.remove_link, params)

    def set_merged_into_many(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        st = self._stmts
        latest = dict(pairs)  # a later pair for the same archived student wins
        for statement, group in (
            (st.set_merged, [(a, s) for a, s in latest.items() if s is not None]),
            (st.clear_merged, [(a, s) for a, s in latest.items() if s is None]),
        ):
            if not group:
                continue
            one = st.set_merged_unnest if statement is st.set_merged else st.clear_merged_any
            if one is not None:
                params: Any = {"me_aids": [self._id(a) for a, _ in group]}
                if statement is st.set_merged:
                    params["me_tos"] = [self._id(s) for _, s in group]
                if st.s_updated is not None:
                    params["me_stamp"] = stamp_for(st.s_updated)()
                done = self._run(one, params).rowcount
            else:
                done = self._many(statement, [st.merged_params(a, s) for a, s in group])
            if done != len(group):
                for a, s in group:  # say which student is missing, as set_merged_into would
                    self.set_merged_into(a, s)
                raise StorageError("some students could not be marked merged")

    def write_journals(self, entries: Sequence[JournalEntry]) -> None:
        st = self._stmts
        latest = {(e.plan_fingerprint, e.archived_id): e for e in entries}
        if st.journal_upsert is None:
            for entry in latest.values():
                self.write_journal(entry)
            return
        if latest:
            rows = [
                {
                    "plan_fingerprint": e.plan_fingerprint,
                    "archived_id": e.archived_id,
                    "synced_id": e.synced_id,
                    "entry": encode_entry(e),
                    "undone": int(e.undone),
                }
                for e in latest.values()
            ]
            self._run(st.journal_upsert, rows)

    def write_audits(self, records: Sequence[AuditRecord]) -> None:
        if records:
            self._run(sa.insert(self._stmts.audit), [_audit_row(r) for r in records])


def _audit_row(record: AuditRecord) -> dict[str, Any]:
    return {
        "action": record.action,
        "plan_fingerprint": record.plan_fingerprint,
        "archived_id": record.archived_id,
        "synced_id": record.synced_id,
        "at": record.at,
        "rows": encode_audit_rows(record),
        "note": record.note,
    }
