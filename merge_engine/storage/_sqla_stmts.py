"""The SQLAlchemy adapter's statements, built once from the mapping and reflected tables.

Reflection (``_sqla_schema.reflect``) is the check that the mapping fits
the database: every named table and column must exist. Statements are
Core constructs with named bind parameters, so SQLAlchemy caches their
compiled form and each dialect renders its own quoting and ``FOR UPDATE``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from ..exceptions import MappingError
from ._base import HistoryTable
from ._mapping import StorageMapping
from ._rows import guardian_field_names, now_iso, staff_field_names, student_field_names
from ._sqla_schema import bookkeeping_tables, find_column

__all__ = ["HistoryStatements", "Statements", "any_of", "converter"]


def _col(table: sa.Table, name: str, setting: str) -> sa.Column[Any]:
    column = find_column(table, name)
    if column is None:
        raise MappingError(
            f"table {table.name!r} has no column {name!r} (named by {setting}); fix the mapping"
        )
    return column


def converter(column: sa.Column[Any]) -> Callable[[Any], Any]:
    """How to bind a model value (str id, date) to this column's type."""
    kind = column.type
    if isinstance(kind, sa.Integer):
        return lambda v: None if v is None else int(v)
    if isinstance(kind, sa.DateTime):
        return lambda v: v
    if isinstance(kind, sa.Date):
        return lambda v: v
    return lambda v: v.isoformat() if isinstance(v, dt.date) else v


def any_of(column: sa.ColumnElement[Any], name: str, postgres: bool) -> sa.ColumnElement[bool]:
    """``column = ANY(:name)`` with one array parameter on PostgreSQL, else an expanding IN."""
    if postgres:
        param = sa.bindparam(name, type_=sa.ARRAY(column.type))
        return column == sa.any_(param)
    return column.in_(sa.bindparam(name, expanding=True))


def stamp_for(column: sa.Column[Any]) -> Callable[[], Any]:
    if isinstance(column.type, sa.DateTime):
        return lambda: dt.datetime.now(dt.UTC)
    return now_iso


class HistoryStatements:
    """Statements for one history table.

    ``student_id`` is the id column of the rows' owners: students, or guardian
    accounts for a guardian history table (``owner="guardian"``).
    """

    def __init__(
        self,
        spec: HistoryTable,
        table: sa.Table,
        student_id: sa.Column[Any],
        *,
        postgres: bool = False,
        owner: str = "student",
    ) -> None:
        self.spec = spec
        self.table = table
        self.owner = owner
        self.owner_to_db = converter(student_id)
        self.owner_exists = sa.select(student_id).where(student_id == sa.bindparam("id"))
        self.owner_ids_any = sa.select(student_id).where(any_of(student_id, "ids", postgres))
        self.student = _col(table, spec.student_column, f"history {spec.name}.student_column")
        self.key = [_col(table, c, f"history {spec.name}.primary_key") for c in spec.primary_key]
        for c in spec.unique:
            _col(table, c, f"history {spec.name}.unique")
        self.columns = [c.name for c in table.c]
        self.key_positions = [self.columns.index(c.name) for c in self.key]
        self.to_db = converter(self.student)
        key_match = sa.and_(
            *(c == sa.bindparam(f"me_k{i}", type_=c.type) for i, c in enumerate(self.key))
        )
        self.rows = (
            sa.select(*table.c)
            .where(self.student == sa.bindparam("me_student", type_=self.student.type))
            .order_by(*self.key)
        )
        self.move = (
            sa.update(table)
            .where(key_match)
            .values({self.student.name: sa.bindparam("me_to", type_=self.student.type)})
        )
        self.remove = sa.delete(table).where(key_match)
        # One round trip per call when the key is one column: a set-based UPDATE that
        # also checks the target student exists, and a set-based DELETE.
        self.single_key = len(self.key) == 1
        keys: sa.BindParameter[Any] = sa.bindparam("me_keys", expanding=True)
        target = student_id.table.alias("target")
        exists = sa.exists().where(
            target.c[student_id.name] == sa.bindparam("me_check", type_=student_id.type)
        )
        self.move_in = (
            sa.update(table)
            .where(self.key[0].in_(keys), exists)
            .values({self.student.name: sa.bindparam("me_to", type_=self.student.type)})
        )
        self.remove_in = sa.delete(table).where(self.key[0].in_(keys))
        # Batch-level statements: the rows of many students, and many moves at once.
        self.student_position = self.columns.index(self.student.name)
        self.rows_any = (
            sa.select(*table.c)
            .where(any_of(self.student, "me_students", postgres))
            .order_by(self.student, *self.key)
        )
        self.move_unnest: sa.Update | None = None
        if postgres and self.single_key:
            moved = sa.bindparam("me_keys", type_=sa.ARRAY(self.key[0].type))
            targets = sa.bindparam("me_tos", type_=sa.ARRAY(self.student.type))
            pairs = sa.select(
                sa.func.unnest(moved).label("k"), sa.func.unnest(targets).label("t")
            ).subquery("me_moves")
            # ``key = ANY(keys)`` lets the planner find the rows by index, not a table scan.
            self.move_unnest = (
                sa.update(table)
                .where(self.key[0] == sa.any_(moved), self.key[0] == pairs.c.k)
                .values({self.student.name: pairs.c.t})
            )

    def key_params(self, key: Sequence[Any]) -> dict[str, Any]:
        return {f"me_k{i}": v for i, v in enumerate(key)}


class Statements:
    """Every statement the SQLAlchemy adapter runs, from reflected tables."""

    def __init__(
        self, mapping: StorageMapping, tables: dict[str, sa.Table], *, postgres: bool = False
    ) -> None:
        self.mapping = m = mapping
        self.postgres = pg = postgres
        s, g, lk = m.students, m.guardians, m.links
        self.students = st = tables[s.table]
        self.guardians = gt = tables[g.table]
        self.links = lt = tables[lk.table]
        self.s_id = _col(st, s.id, "students.id")
        self.s_archived = _col(st, s.archived_column, "students.archived_column")
        self.s_merged = _col(st, s.merged_into, "students.merged_into")
        self.s_updated = _col(st, s.updated_at, "students.updated_at") if s.updated_at else None
        self.student_cols = [
            (f, _col(st, c, f"students.fields.{f}")) for f, c in student_field_names(m)
        ]
        self.student_fields = [f for f, _ in self.student_cols]
        self.g_id = _col(gt, g.id, "guardians.id")
        self.guardian_cols = [
            (f, _col(gt, c, f"guardians.fields.{f}")) for f, c in guardian_field_names(m)
        ]
        self.guardian_fields = [f for f, _ in self.guardian_cols]
        self.l_student = _col(lt, lk.student_id, "links.student_id")
        self.l_guardian = _col(lt, lk.guardian_id, "links.guardian_id")
        self.l_rel = _col(lt, lk.relationship, "links.relationship") if lk.relationship else None
        self.l_order = _col(lt, lk.order, "links.order") if lk.order else None
        self.id_to_db = converter(self.s_id)
        self.gid_to_db = converter(self.g_id)
        # The account parts may be missing from a platform's tables (see reflect's gaps).
        self.g_merged = find_column(gt, g.merged_into) if g.merged_into else None
        self.account_table = tables.get(m.account_links.table) if m.account_links else None
        self.staff = None
        self.staff_cols: list[tuple[str, sa.Column[Any]]] = []
        if m.staff is not None:
            self.staff = tables[m.staff.table]
            self.staff_id = _col(self.staff, m.staff.id, "staff.id")
            self.staff_archived = _col(self.staff, m.staff.archived_column, "staff.archived_column")
            self.staff_cols = [
                (f, _col(self.staff, c, f"staff.fields.{f}")) for f, c in staff_field_names(m)
            ]
        self.staff_fields = [f for f, _ in self.staff_cols]
        self.history = {
            h.name: HistoryStatements(h, tables[h.name], self.s_id, postgres=postgres)
            for h in m.history
        }
        for h in m.guardian_history:  # guardian-owned rows: checked against guardian accounts
            if (t := tables.get(h.name)) is None:
                continue
            self.history[h.name] = HistoryStatements(h, t, self.g_id, postgres=pg, owner="guardian")
        self.journal, self.audit = tables[m.journal_table], tables[m.audit_table]
        expected_j, expected_a = bookkeeping_tables(sa.MetaData(), "j", "a")
        for have, want in ((self.journal, expected_j), (self.audit, expected_a)):
            for column in want.c:
                _col(have, column.name, f"the merge-engine table {have.name!r}")
        self._build()

    def _build(self) -> None:
        st = self.students
        fields = [c for _, c in self.student_cols]
        # A roster: the archived side without the students merged already.
        on_roster = {
            True: (self.s_archived == sa.bindparam("flag"), self.s_merged.is_(None)),
            False: (self.s_archived == sa.bindparam("flag"),),
        }
        self.roster_students = {
            side: sa.select(self.s_id, *fields).where(*where).order_by(self.s_id)
            for side, where in on_roster.items()
        }
        self.roster_ids = {
            side: sa.select(self.s_id).where(*where).order_by(self.s_id)
            for side, where in on_roster.items()
        }
        #: A roster's rows by id, without locks (a read for a view, not for a merge).
        self.roster_rows_in = sa.select(self.s_id, *fields).where(
            any_of(self.s_id, "ids", self.postgres)
        )
        self.linked_to = sa.select(self.l_student).where(
            any_of(self.l_guardian, "ids", self.postgres)
        )
        self.students_in = (
            sa.select(self.s_id, self.s_archived, self.s_merged, *fields)
            .where(any_of(self.s_id, "ids", self.postgres))
            .order_by(self.s_id)
            .with_for_update()
        )
        rel = self.l_rel if self.l_rel is not None else sa.null()
        contacts = sa.select(
            self.l_student, self.g_id, *(c for _, c in self.guardian_cols), rel
        ).join_from(self.links, self.guardians, self.g_id == self.l_guardian)
        order = [self.l_student, *([self.l_order] if self.l_order is not None else [])]
        order.append(self.l_guardian)
        by_side = contacts.join_from(self.links, st, self.s_id == self.l_student).where(
            self.s_archived == sa.bindparam("flag")
        )
        self.roster_contacts = {
            True: by_side.where(self.s_merged.is_(None)).order_by(*order),
            False: by_side.order_by(*order),
        }
        self.contacts_in = contacts.where(any_of(self.l_student, "ids", self.postgres)).order_by(
            *order
        )
        self.guardian_contacts_in = sa.select(self.g_id, *(c for _, c in self.guardian_cols)).where(
            any_of(self.g_id, "ids", self.postgres)
        )
        self.link_order: Any = self.l_order if self.l_order is not None else sa.null()
        self.links_of = (
            sa.select(self.l_guardian, rel, self.link_order)
            .where(self.l_student == sa.bindparam("student"))
            .order_by(self.l_guardian)
        )
        self.student_exists = sa.select(self.s_id).where(self.s_id == sa.bindparam("id"))
        link_match = sa.and_(
            self.l_student == sa.bindparam("student"), self.l_guardian == sa.bindparam("guardian")
        )
        self.remove_link = sa.delete(self.links).where(link_match)
        student: sa.BindParameter[Any] = sa.bindparam("student")
        next_order: Any = sa.literal(0)
        if self.l_order is not None:
            next_order = (
                sa.select(sa.func.coalesce(sa.func.max(self.l_order) + 1, 0))
                .where(self.l_student == student)
                .scalar_subquery()
            )
        # One round trip says whether a link may be added and at which position.
        self.link_check = sa.select(
            sa.select(self.s_id).where(self.s_id == student).scalar_subquery(),
            sa.select(self.g_id).where(self.g_id == sa.bindparam("guardian")).scalar_subquery(),
            sa.select(self.l_student).where(link_match).scalar_subquery(),
            next_order,
        )
        self.any_student = sa.select(self.s_id).limit(1)
        target = st.alias("target")
        values = {self.s_merged.name: sa.bindparam("me_target", type_=self.s_merged.type)}
        if self.s_updated is not None:
            values[self.s_updated.name] = sa.bindparam("me_stamp", type_=self.s_updated.type)
        this = self.s_id == sa.bindparam("me_archived", type_=self.s_id.type)
        synced = target.c[self.s_id.name] == sa.bindparam("me_synced", type_=self.s_id.type)
        self.set_merged = sa.update(st).where(this, sa.exists().where(synced)).values(values)
        self.clear_merged = sa.update(st).where(this).values(values)
        j = self.journal
        self.journal_get = sa.select(j.c.entry).where(
            j.c.plan_fingerprint == sa.bindparam("fp"), j.c.archived_id == sa.bindparam("aid")
        )
        self.journal_update = (
            sa.update(j)
            .where(
                j.c.plan_fingerprint == sa.bindparam("fp"), j.c.archived_id == sa.bindparam("aid")
            )
            .values(
                synced_id=sa.bindparam("sid"), entry=sa.bindparam("e"), undone=sa.bindparam("u")
            )
        )
        self._build_bulk(link_match, next_order)
        a = self.audit
        audit_columns = (a.c.id, a.c.action, a.c.plan_fingerprint, a.c.archived_id,
                         a.c.synced_id, a.c.at, a.c.rows, a.c.note)  # fmt: skip
        #: One page of the audit log: the records after id ``last``, ``n`` of them.
        self.audit_page = (
            sa.select(*audit_columns)
            .where(a.c.id > sa.bindparam("last"))
            .order_by(a.c.id)
            .limit(sa.bindparam("n"))
        )
        self.audit_of = (
            sa.select(*audit_columns)
            .where(any_of(a.c.archived_id, "ids", self.postgres))
            .order_by(a.c.id)
        )
        self.count_students = {
            True: sa.select(sa.func.count()).where(
                self.s_archived == sa.bindparam("flag"), self.s_merged.is_(None)
            ),
            False: sa.select(sa.func.count()).where(self.s_archived == sa.bindparam("flag")),
        }
        if self.staff is not None:
            self.roster_staff = (
                sa.select(self.staff_id, *(c for _, c in self.staff_cols))
                .where(self.staff_archived == sa.bindparam("flag"))
                .order_by(self.staff_id)
            )

    def _build_bulk(self, link_match: sa.ColumnElement[bool], next_order: Any) -> None:
        """Statements of the optional batch-level methods."""
        pg = self.postgres
        rel = self.l_rel if self.l_rel is not None else sa.null()
        self.links_any = (
            sa.select(self.l_student, self.l_guardian, rel, self.link_order)
            .where(any_of(self.l_student, "ids", pg))
            .order_by(self.l_student, self.l_guardian)
        )
        j = self.journal
        self.journals_any = sa.select(j.c.archived_id, j.c.entry).where(
            j.c.plan_fingerprint == sa.bindparam("fp"), any_of(j.c.archived_id, "ids", pg)
        )
        # A link is added only when the student and guardian exist and it does not (rowcount 0).
        student = sa.bindparam("student", type_=self.l_student.type)
        guardian = sa.bindparam("guardian", type_=self.l_guardian.type)
        columns: list[sa.Column[Any]] = [self.l_student, self.l_guardian]
        values: list[Any] = [student, guardian]
        if self.l_rel is not None:
            columns.append(self.l_rel)
            values.append(sa.bindparam("rel", type_=self.l_rel.type))
        if self.l_order is not None:  # the link's own position, else after the others
            columns.append(self.l_order)
            order = sa.bindparam("order", type_=self.l_order.type)
            values.append(sa.func.coalesce(order, next_order))
        guarded = sa.select(*values).where(
            sa.exists().where(self.s_id == student),
            sa.exists().where(self.g_id == guardian),
            ~sa.exists().where(link_match),
        )
        self.add_link_guarded = (
            sa.insert(self.links)
            .from_select(columns, guarded)
            .execution_options(preserve_rowcount=True)
        )
        # Many merge marks in one statement (PostgreSQL): only onto existing students.
        self.set_merged_unnest: sa.Update | None = None
        if pg:
            st = self.students
            archived = sa.bindparam("me_aids", type_=sa.ARRAY(self.s_id.type))
            targets = sa.bindparam("me_tos", type_=sa.ARRAY(self.s_merged.type))
            pairs = sa.select(
                sa.func.unnest(archived).label("a"), sa.func.unnest(targets).label("t")
            ).subquery("me_pairs")
            target = st.alias("target")
            marks: dict[str, Any] = {self.s_merged.name: pairs.c.t}
            if self.s_updated is not None:
                marks[self.s_updated.name] = sa.bindparam("me_stamp", type_=self.s_updated.type)
            self.set_merged_unnest = (
                sa.update(st)
                .where(
                    self.s_id == sa.any_(archived),
                    self.s_id == pairs.c.a,
                    sa.exists().where(target.c[self.s_id.name] == pairs.c.t),
                )
                .values(marks)
            )
        self.clear_merged_any: sa.Update | None = None
        if pg:
            cleared: dict[str, Any] = {self.s_merged.name: None}
            if self.s_updated is not None:
                cleared[self.s_updated.name] = sa.bindparam("me_stamp", type_=self.s_updated.type)
            self.clear_merged_any = (
                sa.update(self.students)
                .where(
                    self.s_id == sa.any_(sa.bindparam("me_aids", type_=sa.ARRAY(self.s_id.type)))
                )
                .values(cleared)
            )
        self.journal_upsert: Any = None
        pk = {c.name for c in j.primary_key.columns}
        if pg and pk == {"plan_fingerprint", "archived_id"}:
            from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: PLC0415

            upsert = pg_insert(j)
            self.journal_upsert = upsert.on_conflict_do_update(
                index_elements=[j.c.plan_fingerprint, j.c.archived_id],
                set_={
                    "synced_id": upsert.excluded.synced_id,
                    "entry": upsert.excluded.entry,
                    "undone": upsert.excluded.undone,
                },
            )

    def merged_params(self, archived_id: str, synced_id: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "me_archived": self.id_to_db(archived_id),
            "me_synced": self.id_to_db(synced_id),
            "me_target": self.id_to_db(synced_id),
        }
        if self.s_updated is not None:
            params["me_stamp"] = stamp_for(self.s_updated)()
        return params

    def flag(self, archived: bool) -> Any:
        s = self.mapping.students
        return s.archived_value if archived else s.active_value

    def staff_flag(self, archived: bool) -> Any:
        st = self.mapping.staff
        assert st is not None
        return st.archived_value if archived else st.active_value

    def all_tables(self) -> list[sa.Table]:
        """Every mapped table, in the order to empty them (children first)."""
        tables = [self.journal, self.audit, *(h.table for h in self.history.values()), self.links]
        if self.account_table is not None:
            tables.append(self.account_table)
        tables += [self.students, self.guardians]
        if self.staff is not None:
            tables.append(self.staff)
        return tables
