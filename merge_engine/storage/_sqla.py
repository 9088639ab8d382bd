"""The SQLAlchemy 2 Core adapter: PostgreSQL (psycopg 3) and other SQLAlchemy databases.

It works on the platform's own tables through a :class:`StorageMapping`
(the default mapping is the reference schema), reflecting them first so a
mapping that does not fit fails before anything runs. ``students()`` and
``guardians()`` lock the rows they read (``SELECT ... FOR UPDATE``), and
a serialization failure or deadlock (SQLSTATE 40001, 40P01) becomes
:class:`~merge_engine.exceptions.TransientConflict`, so the engine can
retry the merge.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from .._log import get_logger
from ..exceptions import MissingDependencyError, PlanLockedError, StorageError, TransientConflict
from ..model import Contact, Roster
from ._base import AuditRecord, Side, Transaction
from ._loading import PreparedRosters
from ._mapping import StorageMapping
from ._rows import build_roster, plain_row
from ._sqla_accounts import AccountStatements
from ._sqla_schema import bookkeeping_tables, create_reference_schema, reference_metadata, reflect
from ._sqla_stmts import Statements, converter, stamp_for
from ._sqla_tx import SQLAlchemyTransaction, contacts_by_student
from .adapter import BaseStorage, Capability
from .codec import audit_record

__all__ = [
    "SQLAlchemyStorage",
    "create_reference_schema",
    "reference_metadata",
    "translate",
]

log = get_logger(__name__)

#: Audit records read per query by ``audit_records``.
AUDIT_PAGE = 10_000
_RETRYABLE = {"40001": "serialization failure", "40P01": "deadlock"}


def _sqlstate(exc: sa.exc.DBAPIError) -> str | None:
    orig = exc.orig
    for attr in ("sqlstate", "pgcode"):
        value = getattr(orig, attr, None)
        if isinstance(value, str):
            return value
    return None


def _message(exc: sa.exc.DBAPIError) -> str:
    """The driver's primary message: PostgreSQL's DETAIL (which may hold values) is left out."""
    diag = getattr(exc.orig, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if isinstance(primary, str):
        return primary
    return str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__


def translate(exc: sa.exc.DBAPIError) -> StorageError:
    """A driver error as ours: 40001/40P01 (and a busy SQLite) become TransientConflict.

    Callers raise the result ``from None``: the driver's error stays reachable as
    ``__context__`` but is not printed, since it can quote row values (names, notes).

    A rejected value (SQLSTATE class 22) is reported by code only: its message may quote it.
    """
    state = _sqlstate(exc)
    if isinstance(exc, sa.exc.DataError) or (state or "").startswith("22"):
        return StorageError(f"the database rejected a value (SQLSTATE {state or 'unknown'})")
    message = _message(exc)
    if state in _RETRYABLE:
        return TransientConflict(f"{_RETRYABLE[state]} (SQLSTATE {state}); retry the merge")
    if "database is locked" in message:
        return TransientConflict(f"the database is busy ({message}); retry")
    if isinstance(exc, sa.exc.IntegrityError):
        return StorageError(f"the database refused the change ({message})")
    suffix = f" (SQLSTATE {state})" if state else ""
    return StorageError(f"database error: {message}{suffix}")


#: Ids per ``IN (...)`` list (or ``= ANY`` array) of a partial roster read.
_LOOKUP = 1000


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), _LOOKUP):
        yield values[i : i + _LOOKUP]


def _as_db(ids: Collection[str], to_db: Callable[[Any], Any]) -> list[Any]:
    """``ids`` as a column takes them, sorted; an id the column cannot hold matches nothing."""
    out = []
    for i in sorted(ids):
        try:
            out.append(to_db(i))
        except ValueError:
            continue
    return out


def _lock_key(text: str) -> int:
    """A signed 64-bit advisory lock key from ``text``."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


class SQLAlchemyStorage(BaseStorage):
    """A :class:`~merge_engine.storage._base.StorageAdapter` on any SQLAlchemy database.

    ``url_or_engine``: a URL such as ``postgresql+psycopg://user@host/db`` or
    an existing :class:`sqlalchemy.Engine` (not disposed by :meth:`close`).
    ``create=True`` creates the reference schema if missing (reference
    mapping only), and brings one made by an earlier release up to date;
    the journal and audit tables are created whenever missing.
    ``isolation_level`` (e.g. ``"SERIALIZABLE"``) applies to write
    transactions; the default is the database's (READ COMMITTED on
    PostgreSQL, where the row locks of ``students()`` serialize merges).
    """

    capabilities = frozenset(
        {Capability.PLAN_LOCK, Capability.STUDENT_COUNTS, Capability.ROSTER_LOOKUP}
    )

    def __init__(
        self,
        url_or_engine: str | sa.Engine,
        *,
        mapping: StorageMapping | None = None,
        create: bool = False,
        isolation_level: str | None = None,
    ) -> None:
        self.mapping = mapping or StorageMapping()
        self._own_engine = isinstance(url_or_engine, str)
        try:
            self.engine = (
                sa.create_engine(url_or_engine, pool_pre_ping=True, hide_parameters=True)
                if isinstance(url_or_engine, str)
                else url_or_engine
            )
        except ImportError as exc:
            raise MissingDependencyError(
                f"the database driver for this URL is not installed ({exc.name or exc}); "
                'install it (PostgreSQL: pip install "merge-engine[postgres]")'
            ) from exc
        except (sa.exc.ArgumentError, ValueError) as exc:
            raise StorageError(
                "cannot read this database URL; expected dialect+driver://user@host:port/database"
            ) from exc
        self.isolation_level = isolation_level
        self._open = False
        try:
            if create and self.mapping.is_reference:
                create_reference_schema(self.engine, schema=self.mapping.schema)
            md = sa.MetaData(schema=self.mapping.schema)
            _, audit = bookkeeping_tables(md, self.mapping.journal_table, self.mapping.audit_table)
            md.create_all(self.engine, checkfirst=True)
            for index in audit.indexes:  # a table made by an earlier release lacks it
                index.create(self.engine, checkfirst=True)
            tables, gaps = reflect(self.engine, self.mapping)
            self.stmts = Statements(
                self.mapping, tables, postgres=self.engine.dialect.name == "postgresql"
            )
            self.accounts = AccountStatements(self.stmts, tables, gaps)
        except sa.exc.DBAPIError as exc:
            self.close()
            raise translate(exc) from None  # the driver error may quote row values
        except BaseException:
            self.close()
            raise

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- StorageAdapter ------------------------------------------------------------------

    def read_roster(self, side: Side) -> Roster:
        st = self.stmts
        if side not in ("archived", "synced"):
            raise ValueError(f"side must be 'archived' or 'synced', not {side!r}")
        archived = side == "archived"
        try:
            with self.engine.connect() as conn:
                params = {"flag": st.flag(archived)}
                contacts = contacts_by_student(
                    conn.execute(st.roster_contacts[archived], params), st
                )
                rows = conn.execute(st.roster_students[archived], params).all()
                staff_rows: list[Any] = []
                if st.staff is not None:
                    flag = {"flag": st.staff_flag(archived)}
                    staff_rows = list(conn.execute(st.roster_staff, flag).all())
        except sa.exc.DBAPIError as exc:
            raise translate(exc) from None  # the driver error may quote row values
        return self._roster(rows, staff_rows, contacts)

    def _roster(
        self, rows: Sequence[Any], staff_rows: Sequence[Any], contacts: Mapping[str, list[Contact]]
    ) -> Roster:
        st = self.stmts
        return build_roster(
            rows,
            staff_rows,
            (st.student_fields, st.staff_fields),
            contacts,
            self.mapping.students.table,
            (self.engine.url.render_as_string(hide_password=True), f"sqlalchemy:{self.dialect}"),
        )

    def read_roster_of(self, side: Side, ids: Collection[str]) -> Roster:
        """The part of ``read_roster(side)`` that ``ids`` name (see :class:`RosterLookup`):
        the roster's ids in its order, then only the rows wanted, ``_LOOKUP`` at a time."""
        st = self.stmts
        if side not in ("archived", "synced"):
            raise ValueError(f"side must be 'archived' or 'synced', not {side!r}")
        archived = side == "archived"
        wanted = set(ids)
        guardians = _as_db(wanted, st.gid_to_db)
        try:
            with self.engine.connect() as conn:
                for chunk in _chunks(guardians):
                    found = conn.execute(st.linked_to, {"ids": chunk})
                    wanted.update(str(row[0]) for row in found)
                params = {"flag": st.flag(archived)}
                read = conn.execute(st.roster_ids[archived], params)
                order = [row[0] for row in read if str(row[0]) in wanted]
                rows: list[Any] = []
                contacts: dict[str, list[Contact]] = {}
                for chunk in _chunks(order):
                    by_id = {str(r[0]): r for r in conn.execute(st.roster_rows_in, {"ids": chunk})}
                    rows += [by_id[str(i)] for i in chunk if str(i) in by_id]
                    found = conn.execute(st.contacts_in, {"ids": chunk})
                    contacts.update(contacts_by_student(found, st))
                staff_rows: list[Any] = []
                if st.staff is not None:
                    flag = {"flag": st.staff_flag(archived)}
                    staff = conn.execute(st.roster_staff, flag)
                    staff_rows = [row for row in staff if str(row[0]) in wanted]
        except sa.exc.DBAPIError as exc:
            raise translate(exc) from None  # the driver error may quote row values
        return self._roster(rows, staff_rows, contacts)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        if self._open:
            raise StorageError("a transaction is already open on this storage; finish it first")
        self._open = True
        tx: SQLAlchemyTransaction | None = None
        try:
            with self.engine.connect() as conn:
                if self.isolation_level is not None:
                    conn.execution_options(isolation_level=self.isolation_level)
                trans = conn.begin()
                tx = SQLAlchemyTransaction(conn, self.stmts, translate, self.accounts)
                try:
                    yield tx
                except BaseException:
                    tx.closed = True
                    trans.rollback()
                    log.debug("transaction_rolled_back", adapter=self.dialect)
                    raise
                tx.closed = True
                trans.commit()
        except sa.exc.DBAPIError as exc:
            raise translate(exc) from None  # the driver error may quote row values
        finally:
            if tx is not None:
                tx.closed = True
            self._open = False

    @contextlib.contextmanager
    def plan_lock(self, plan_fingerprint: str) -> Iterator[None]:
        """The plan's lock: a PostgreSQL session advisory lock, on a connection of its own.

        The key is 64 bits of a hash of the schema and the plan id, so plans
        applied to different schemas of one database never block each other.
        The server drops the lock when the session ends (a killed apply
        leaves nothing behind). Other databases have no such lock: none is taken.
        """
        if self.dialect != "postgresql":
            yield
            return
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except sa.exc.DBAPIError as exc:
            raise translate(exc) from None
        try:
            try:
                schema = (
                    self.mapping.schema or conn.execute(sa.text("SELECT current_schema()")).scalar()
                )
                key = _lock_key(f"merge-engine\x1f{schema}\x1f{plan_fingerprint}")
                got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            except sa.exc.DBAPIError as exc:
                raise translate(exc) from None
            if not got:
                raise PlanLockedError.for_plan(plan_fingerprint)
            try:
                yield
            finally:
                try:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                except sa.exc.DBAPIError:  # a broken session: the server dropped the lock
                    conn.invalidate()
                    log.warning("plan_lock_release_failed", plan=plan_fingerprint)
        finally:
            conn.close()

    def audit_records(self) -> Iterator[AuditRecord]:
        """Every audit record, oldest first, read a page at a time (a log of millions of
        records is never held whole)."""
        last = 0
        while True:
            try:
                with self.engine.connect() as conn:
                    params = {"last": last, "n": AUDIT_PAGE}
                    rows = conn.execute(self.stmts.audit_page, params).all()
            except sa.exc.DBAPIError as exc:
                raise translate(exc) from None  # the driver error may quote row values
            for row in rows:
                yield audit_record(tuple(row[1:]))
            if len(rows) < AUDIT_PAGE:
                return
            last = int(rows[-1][0])

    def count_students(self, side: Side) -> int:
        if side not in ("archived", "synced"):
            raise ValueError(f"side must be 'archived' or 'synced', not {side!r}")
        archived = side == "archived"
        try:
            with self.engine.connect() as conn:
                params = {"flag": self.stmts.flag(archived)}
                return int(conn.execute(self.stmts.count_students[archived], params).scalar_one())
        except sa.exc.DBAPIError as exc:
            raise translate(exc) from None

    def close(self) -> None:
        if self._own_engine and hasattr(self, "engine"):
            self.engine.dispose()

    # -- Loading and inspection ----------------------------------------------------------

    def load_prepared(self, data: PreparedRosters, *, replace: bool) -> None:
        """Bulk-load checked rosters in one transaction (see :mod:`.loading`)."""
        st = self.stmts
        try:
            with self.engine.begin() as conn:
                if replace:
                    conn.execute(sa.update(st.students).values({st.s_merged.name: None}))
                    if st.g_merged is not None:
                        merged = st.g_merged.is_not(None)
                        conn.execute(
                            sa.update(st.guardians).where(merged).values({st.g_merged.name: None})
                        )
                    for table in st.all_tables():
                        conn.execute(sa.delete(table))
                elif conn.execute(st.any_student).first() is not None:
                    raise StorageError(
                        "the database already holds students; pass replace=True to reload"
                    )
                self._insert_rosters(conn, data)
        except sa.exc.DBAPIError as exc:
            raise translate(exc) from None  # the driver error may quote row values
        self.refresh_statistics()

    def refresh_statistics(self) -> None:
        """``ANALYZE`` every mapped table on PostgreSQL, after a bulk load.

        A table loaded in bulk has no statistics until autovacuum gets to it (never, where
        autovacuum is off): the planner then guesses its size from its pages and reads the
        whole students table for every chunk the apply checks (``id = ANY(...)``), which
        grows with the square of the district. Other databases plan these reads by index.
        """
        if self.dialect != "postgresql":
            return
        prep = self.engine.dialect.identifier_preparer
        try:
            with self.engine.begin() as conn:
                for table in self.stmts.all_tables():
                    conn.execute(sa.text(f"ANALYZE {prep.format_table(table)}"))
        except sa.exc.DBAPIError as exc:
            raise translate(exc) from None

    def _insert_rosters(self, conn: sa.Connection, data: PreparedRosters) -> None:
        st = self.stmts
        s_conv = [(f, c.name, converter(c)) for f, c in st.student_cols]
        stamp = stamp_for(st.s_updated)() if st.s_updated is not None else None
        students = []
        for student, archived in data.students:
            row = {st.s_id.name: st.id_to_db(student.id), st.s_archived.name: st.flag(archived)}
            row.update({name: conv(getattr(student, f)) for f, name, conv in s_conv})
            if st.s_updated is not None:
                row[st.s_updated.name] = stamp
            students.append(row)
        if students:
            conn.execute(sa.insert(st.students), students)
        guardians = [
            {
                st.g_id.name: st.gid_to_db(gid),
                **{c.name: getattr(g, f) for f, c in st.guardian_cols},
            }
            for gid, g in sorted(data.guardians.items())
        ]
        if guardians:
            conn.execute(sa.insert(st.guardians), guardians)
        links = []
        for student_id, guardian_id, relationship, order in data.links:
            link = {
                st.l_student.name: st.id_to_db(student_id),
                st.l_guardian.name: st.gid_to_db(guardian_id),
            }
            if st.l_rel is not None:
                link[st.l_rel.name] = relationship
            if st.l_order is not None:
                link[st.l_order.name] = order
            links.append(link)
        if links:
            conn.execute(sa.insert(st.links), links)
        if st.staff is not None and data.staff:
            staff = [
                {
                    st.staff_id.name: member.id,
                    st.staff_archived.name: st.staff_flag(archived),
                    **{c.name: getattr(member, f) for f, c in st.staff_cols},
                }
                for member, archived in data.staff
            ]
            conn.execute(sa.insert(st.staff), staff)

    def snapshot(self) -> dict[str, Any]:
        """Every mapped table as deterministic plain data, to compare in tests."""
        result: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for table in self.stmts.all_tables():
                rows = conn.execute(sa.select(*table.c).order_by(*table.c)).all()
                columns = [c.name for c in table.c]
                result[table.name] = [plain_row(columns, row) for row in rows]
        return result
