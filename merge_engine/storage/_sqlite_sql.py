"""The SQL text of the SQLite adapter, built once from the validated mapping.

Only identifiers that passed the allow-list are interpolated (quoted);
every value is a ``?`` parameter. Building the strings once means
``sqlite3`` prepares each statement once and reuses it for every merge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Literal

from ..exceptions import MappingError
from ..model import Contact, StaffMember, Student
from ._base import HistoryTable
from ._mapping import StorageMapping
from ._rows import guardian_field_names, staff_field_names, student_field_names
from ._schema import quote

__all__ = ["Columns", "HistorySQL", "SQLiteSQL", "check_columns"]

Columns = Callable[[str], list[str]]


def check_columns(columns: Columns, table: str, wanted: dict[str, str]) -> list[str]:
    """The table's columns; raise MappingError naming a missing table or column."""
    present = columns(table)
    if not present:
        raise MappingError(
            f"table {table!r} not found; create it (create=True makes the reference schema) "
            "or fix the mapping"
        )
    folded = {c.casefold() for c in present}
    for column, setting in wanted.items():
        if column.casefold() not in folded:
            raise MappingError(
                f"table {table!r} has no column {column!r} (named by {setting}); fix the mapping"
            )
    return present


class HistorySQL:
    """Statements for one history table; ``owner`` says whose rows it holds."""

    def __init__(
        self,
        table: HistoryTable,
        columns: Sequence[str],
        owner: Literal["student", "guardian"] = "student",
    ) -> None:
        self.table = table
        self.owner = owner
        self.columns = list(columns)
        self.folded = {c.casefold(): c for c in columns}
        t, sc = quote(table.name), quote(table.student_column)
        pk = " AND ".join(f"{quote(c)} = ?" for c in table.primary_key)
        order = ", ".join(quote(c) for c in table.primary_key)
        listed = ", ".join(quote(c) for c in columns)
        self.key_positions = [
            [c.casefold() for c in columns].index(k.casefold()) for k in table.primary_key
        ]
        self.rows = f"SELECT {listed} FROM {t} WHERE {sc} = ? ORDER BY {order}"
        self._rows_in = (f"SELECT {listed} FROM {t} WHERE {sc} IN (", f") ORDER BY {sc}, {order}")
        self.student_position = [c.casefold() for c in columns].index(
            table.student_column.casefold()
        )
        self.move = f"UPDATE {t} SET {sc} = ? WHERE {pk}"
        self.remove = f"DELETE FROM {t} WHERE {pk}"

    def rows_in(self, n: int) -> str:
        head, tail = self._rows_in
        return f"{head}{', '.join('?' * n)}{tail}"

    @cache  # noqa: B019  (one entry per column set; lives as long as the adapter)
    def insert(self, columns: tuple[str, ...]) -> str:
        for c in columns:
            if c.casefold() not in self.folded:
                raise MappingError(f"table {self.table.name!r} has no column {c!r}")
        names = ", ".join(quote(c) for c in columns)
        marks = ", ".join("?" for _ in columns)
        return f"INSERT INTO {quote(self.table.name)} ({names}) VALUES ({marks})"


class SQLiteSQL:
    """Every statement the SQLite adapter runs."""

    def __init__(self, mapping: StorageMapping, columns: Columns) -> None:
        self.mapping = mapping
        m = mapping
        s, g, lk = m.students, m.guardians, m.links
        self.students_table = s.table
        self.student_cols = student_field_names(m)
        self.guardian_cols = guardian_field_names(m)
        self.staff_cols = staff_field_names(m)
        self.student_fields = [f for f, _ in self.student_cols]
        self.guardian_fields = [f for f, _ in self.guardian_cols]
        self.staff_fields = [f for f, _ in self.staff_cols]
        check_columns(
            columns,
            s.table,
            {
                s.id: "students.id",
                s.archived_column: "students.archived_column",
                s.merged_into: "students.merged_into",
                **({s.updated_at: "students.updated_at"} if s.updated_at else {}),
                **{c: f"students.fields.{f}" for f, c in self.student_cols},
            },
        )
        check_columns(
            columns,
            g.table,
            {g.id: "guardians.id", **{c: f"guardians.fields.{f}" for f, c in self.guardian_cols}},
        )
        check_columns(
            columns,
            lk.table,
            {
                lk.student_id: "links.student_id",
                lk.guardian_id: "links.guardian_id",
                **({lk.relationship: "links.relationship"} if lk.relationship else {}),
                **({lk.order: "links.order"} if lk.order else {}),
            },
        )
        st = m.staff
        if st is not None:
            check_columns(
                columns,
                st.table,
                {
                    st.id: "staff.id",
                    st.archived_column: "staff.archived_column",
                    **{c: f"staff.fields.{f}" for f, c in self.staff_cols},
                },
            )
        self.history: dict[str, HistorySQL] = {}
        for h in m.history:
            wanted = {h.student_column: f"history {h.name}.student_column"}
            wanted.update({c: f"history {h.name}.primary_key" for c in h.primary_key})
            wanted.update({c: f"history {h.name}.unique" for c in h.unique})
            self.history[h.name] = HistorySQL(h, check_columns(columns, h.name, wanted))
        for table, names in (
            (m.journal_table, ("plan_fingerprint", "archived_id", "synced_id", "entry", "undone")),
            (m.audit_table, ("id", "action", "plan_fingerprint", "archived_id", "synced_id", "at",
                             "rows", "note")),
        ):  # fmt: skip
            check_columns(columns, table, {n: f"the merge-engine table {table!r}" for n in names})
        self._build_students()
        self._build_links()
        self._build_other()

    # The building blocks, named for what they hold.
    def _build_students(self) -> None:
        s = self.mapping.students
        t, sid, arch, merged = (
            quote(s.table),
            quote(s.id),
            quote(s.archived_column),
            quote(s.merged_into),
        )
        fields = "".join(f", {quote(c)}" for _, c in self.student_cols)
        self._roster_students = {
            True: f"SELECT {sid}{fields} FROM {t} WHERE {arch} = ? AND {merged} IS NULL "
            f"ORDER BY {sid}",
            False: f"SELECT {sid}{fields} FROM {t} WHERE {arch} = ? ORDER BY {sid}",
        }
        self.roster_ids = {
            True: f"SELECT {sid} FROM {t} WHERE {arch} = ? AND {merged} IS NULL ORDER BY {sid}",
            False: f"SELECT {sid} FROM {t} WHERE {arch} = ? ORDER BY {sid}",
        }
        self.count_students = {
            True: f"SELECT COUNT(*) FROM {t} WHERE {arch} = ? AND {merged} IS NULL",
            False: f"SELECT COUNT(*) FROM {t} WHERE {arch} = ?",
        }
        self._students_in = f"SELECT {sid}, {arch}, {merged}{fields} FROM {t} WHERE {sid} IN "
        stamp = f", {quote(s.updated_at)} = ?" if s.updated_at else ""
        exists = f"EXISTS (SELECT 1 FROM {t} WHERE {sid} = ?)"
        self.set_merged = (
            f"UPDATE {t} SET {merged} = ?{stamp} WHERE {sid} = ? AND (? IS NULL OR {exists})"
        )
        self.student_exists = f"SELECT 1 FROM {t} WHERE {sid} = ?"
        self.any_student = f"SELECT 1 FROM {t} LIMIT 1"
        insert_cols = [s.id, s.archived_column, *(c for _, c in self.student_cols)]
        if s.updated_at:
            insert_cols.append(s.updated_at)
        self.insert_student = _insert(s.table, insert_cols)

    def _build_links(self) -> None:
        m = self.mapping
        s, g, lk = m.students, m.guardians, m.links
        lt, gt, st = quote(lk.table), quote(g.table), quote(s.table)
        lsid, lgid = quote(lk.student_id), quote(lk.guardian_id)
        rel = f"l.{quote(lk.relationship)}" if lk.relationship else "NULL"
        order = f"l.{quote(lk.order)}, " if lk.order else ""
        gfields = "".join(f", g.{quote(c)}" for _, c in self.guardian_cols)
        head = (
            f"SELECT l.{lsid}, g.{quote(g.id)}{gfields}, {rel} FROM {lt} AS l "
            f"JOIN {gt} AS g ON g.{quote(g.id)} = l.{lgid} "
        )
        tail = f" ORDER BY l.{lsid}, {order}l.{lgid}"
        join = (
            f"JOIN {st} AS s ON s.{quote(s.id)} = l.{lsid} WHERE s.{quote(s.archived_column)} = ?"
        )
        self._roster_contacts = {
            True: f"{head}{join} AND s.{quote(s.merged_into)} IS NULL{tail}",
            False: f"{head}{join}{tail}",
        }
        self._contacts_in = (head + f"WHERE l.{lsid} IN ", tail)
        self._linked_to = f"SELECT {lsid} FROM {lt} WHERE {lgid} IN "
        self._guardian_contacts_in = (
            f"SELECT g.{quote(g.id)}{gfields} FROM {gt} AS g WHERE g.{quote(g.id)} IN "
        )
        rel_col = quote(lk.relationship) if lk.relationship else "NULL"
        order_col = quote(lk.order) if lk.order else "NULL"
        self.links_of = (
            f"SELECT {lgid}, {rel_col}, {order_col} FROM {lt} WHERE {lsid} = ? ORDER BY {lgid}"
        )
        self._links_in = f"SELECT {lsid}, {lgid}, {rel_col}, {order_col} FROM {lt} WHERE {lsid} IN "
        cols = [lk.student_id, lk.guardian_id]
        values = ["?", "?"]
        if lk.relationship:
            cols.append(lk.relationship)
            values.append("?")
        if lk.order:
            cols.append(lk.order)
            # The link's own position when it has one, else after the student's others.
            values.append(
                f"COALESCE(?, (SELECT COALESCE(MAX({quote(lk.order)}) + 1, 0) "
                f"FROM {lt} WHERE {lsid} = ?))"
            )
        self.link_has_relationship = lk.relationship is not None
        self.link_has_order = lk.order is not None
        self.add_link = (
            f"INSERT INTO {lt} ({', '.join(quote(c) for c in cols)}) SELECT {', '.join(values)} "
            f"WHERE EXISTS (SELECT 1 FROM {st} WHERE {quote(s.id)} = ?) "
            f"AND EXISTS (SELECT 1 FROM {gt} WHERE {quote(g.id)} = ?) "
            f"AND NOT EXISTS (SELECT 1 FROM {lt} WHERE {lsid} = ? AND {lgid} = ?)"
        )
        self.guardian_exists = f"SELECT 1 FROM {gt} WHERE {quote(g.id)} = ?"
        self.link_exists = f"SELECT 1 FROM {lt} WHERE {lsid} = ? AND {lgid} = ?"
        self.remove_link = f"DELETE FROM {lt} WHERE {lsid} = ? AND {lgid} = ?"
        load_cols = [lk.student_id, lk.guardian_id]
        load_cols += [c for c in (lk.relationship, lk.order) if c is not None]
        self.insert_link = _insert(lk.table, load_cols)
        self.insert_guardian = _insert(g.table, [g.id, *(c for _, c in self.guardian_cols)])

    def _build_other(self) -> None:
        m = self.mapping
        st = m.staff
        self.roster_staff = ""
        self.insert_staff = ""
        if st is not None:
            fields = "".join(f", {quote(c)}" for _, c in self.staff_cols)
            self.roster_staff = (
                f"SELECT {quote(st.id)}{fields} FROM {quote(st.table)} "
                f"WHERE {quote(st.archived_column)} = ? ORDER BY {quote(st.id)}"
            )
            self.insert_staff = _insert(
                st.table, [st.id, st.archived_column, *(c for _, c in self.staff_cols)]
            )
        j, a = quote(m.journal_table), quote(m.audit_table)
        self.journal_get = f"SELECT entry FROM {j} WHERE plan_fingerprint = ? AND archived_id = ?"
        self._journals_in = (
            f"SELECT archived_id, entry FROM {j} WHERE plan_fingerprint = ? AND archived_id IN "
        )
        self.journal_put = (
            f"INSERT INTO {j} (plan_fingerprint, archived_id, synced_id, entry, undone) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (plan_fingerprint, archived_id) DO UPDATE SET "
            "synced_id = excluded.synced_id, entry = excluded.entry, undone = excluded.undone"
        )
        self.audit_put = (
            f"INSERT INTO {a} (action, plan_fingerprint, archived_id, synced_id, at, rows, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        audit_columns = "id, action, plan_fingerprint, archived_id, synced_id, at, rows, note"
        #: One page of the audit log (keyset: the id after the last one read, and a count).
        self.audit_page = f"SELECT {audit_columns} FROM {a} WHERE id > ? ORDER BY id LIMIT ?"
        self._audit_of = f"SELECT {audit_columns} FROM {a} WHERE archived_id IN "

    # -- Statements with a variable part -------------------------------------------------

    def roster_students(self, archived: bool) -> str:
        return self._roster_students[archived]

    def roster_contacts(self, archived: bool) -> str:
        return self._roster_contacts[archived]

    def students_in(self, n: int) -> str:
        return f"{self._students_in}({', '.join('?' * n)})"

    def student_ids_in(self, n: int) -> str:
        s = self.mapping.students
        marks = ", ".join("?" * n)
        return f"SELECT {quote(s.id)} FROM {quote(s.table)} WHERE {quote(s.id)} IN ({marks})"

    def links_in(self, n: int) -> str:
        return f"{self._links_in}({', '.join('?' * n)}) ORDER BY 1, 2"

    def journals_in(self, n: int) -> str:
        return f"{self._journals_in}({', '.join('?' * n)})"

    def audit_of(self, n: int) -> str:
        return f"{self._audit_of}({', '.join('?' * n)})"

    def contacts_in(self, n: int) -> str:
        head, tail = self._contacts_in
        return f"{head}({', '.join('?' * n)}){tail}"

    def linked_to(self, n: int) -> str:
        """The ids of the students linked to any of ``n`` guardian accounts."""
        return f"{self._linked_to}({', '.join('?' * n)})"

    def guardian_contacts_in(self, n: int) -> str:
        return f"{self._guardian_contacts_in}({', '.join('?' * n)})"

    def flag(self, archived: bool) -> Any:
        s = self.mapping.students
        return s.archived_value if archived else s.active_value

    def staff_flag(self, archived: bool) -> Any:
        st = self.mapping.staff
        assert st is not None
        return st.archived_value if archived else st.active_value

    def delete_all(
        self, account_tables: Sequence[str] = (), guardian_merged: str | None = None
    ) -> list[str]:
        """Empty every mapped table, children first.

        ``account_tables`` (guardian history, account links) and the
        guardians' ``guardian_merged`` column are the account parts present.
        """
        m = self.mapping
        tables = [m.journal_table, m.audit_table, *(h.name for h in m.history), *account_tables]
        s, g = m.students, m.guardians
        statements = [f"DELETE FROM {quote(t)}" for t in (*tables, m.links.table)]
        statements.append(f"UPDATE {quote(s.table)} SET {quote(s.merged_into)} = NULL")
        statements.append(f"DELETE FROM {quote(s.table)}")
        if guardian_merged is not None:
            statements.append(f"UPDATE {quote(g.table)} SET {quote(guardian_merged)} = NULL")
        statements.append(f"DELETE FROM {quote(g.table)}")
        if m.staff is not None:
            statements.append(f"DELETE FROM {quote(m.staff.table)}")
        return statements

    # -- Parameters ------------------------------------------------------------------------

    def student_params(self, student: Student, archived: bool, stamp: str) -> list[Any]:
        values: list[Any] = [student.id, self.flag(archived)]
        for name in self.student_fields:
            value = getattr(student, name)
            values.append(value.isoformat() if name == "dob" and value is not None else value)
        if self.mapping.students.updated_at:
            values.append(stamp)
        return values

    def guardian_params(self, contact: Contact) -> list[Any]:
        return [contact.guardian_id, *(getattr(contact, f) for f in self.guardian_fields)]

    def link_params(self, link: tuple[str, str, str | None, int]) -> list[Any]:
        student_id, guardian_id, relationship, order = link
        values: list[Any] = [student_id, guardian_id]
        if self.link_has_relationship:
            values.append(relationship)
        if self.link_has_order:
            values.append(order)
        return values

    def staff_params(self, member: StaffMember, archived: bool) -> list[Any]:
        return [
            member.id,
            self.staff_flag(archived),
            *(getattr(member, f) for f in self.staff_fields),
        ]


def _insert(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(quote(c) for c in columns)
    return f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join('?' * len(columns))})"
