"""The embedded default adapter: one SQLite file, stdlib ``sqlite3`` only.

Tuned for applying large plans: WAL with ``synchronous=NORMAL`` (commits
are cheap; a power cut may lose the last transactions, never consistency),
every statement prepared once and reused, row batches through
``executemany``. Write transactions start with ``BEGIN IMMEDIATE`` so two
appliers wait for each other instead of failing on a lock upgrade.

A reference-schema file made by an earlier release is upgraded in place
when opened (see :mod:`._sqlite_accounts`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._log import get_logger
from ..exceptions import MappingError, PlanLockedError, StorageError, TransientConflict
from ..model import Contact, Roster
from ._base import AuditRecord, Side, Transaction
from ._loading import PreparedRosters
from ._mapping import StorageMapping
from ._rows import build_roster, now_iso, plain_row
from ._schema import SQLITE_ROSTER_DDL, quote, sqlite_bookkeeping_ddl
from ._sqlite_accounts import AccountSQL, upgrade_reference_schema
from ._sqlite_sql import SQLiteSQL
from ._sqlite_tx import SQLiteTransaction, contacts_by_student
from .adapter import BaseStorage, Capability
from .codec import audit_record

__all__ = ["AUDIT_PAGE", "SQLiteStorage", "translate"]

#: Audit records read per query by ``audit_records``.
AUDIT_PAGE = 10_000

log = get_logger(__name__)


def translate(exc: sqlite3.Error) -> StorageError:
    """A sqlite3 error as ours: a busy database is a conflict the engine may retry."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return TransientConflict(f"the database is busy ({text}); retry")
    if isinstance(exc, sqlite3.IntegrityError):
        return StorageError(f"the database refused the change ({text})")
    return StorageError(f"SQLite error: {text}")


class SQLiteStorage(BaseStorage):
    """A :class:`~merge_engine.storage._base.StorageAdapter` on one SQLite file.

    ``create=True`` creates the file and (for the reference mapping) the
    reference schema if missing; a reference-schema file from an earlier
    release gains the account tables and column it lacks. The journal and
    audit tables are created whenever missing. ``timeout`` is how long to
    wait for another writer.
    """

    capabilities = frozenset(
        {Capability.PLAN_LOCK, Capability.STUDENT_COUNTS, Capability.ROSTER_LOOKUP}
    )

    def __init__(
        self,
        path: str | Path,
        *,
        mapping: StorageMapping | None = None,
        create: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.mapping = mapping or StorageMapping()
        if self.mapping.schema is not None:
            raise MappingError("SQLite databases have no schemas; remove 'schema' from the mapping")
        self.path = str(path)
        memory = self.path == ":memory:"
        if not memory and not create and not Path(self.path).is_file():
            raise StorageError(f"no database at {self.path}; pass create=True to make one")
        self._open = False
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=timeout, cached_statements=512
            )
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        try:
            if not memory:
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            # 128 MiB of page cache and 64 MiB mapped: together the most a district's
            # database adds to the process (apply of a 150k plan stays under 500 MB).
            self._conn.execute("PRAGMA cache_size=-131072")
            self._conn.execute("PRAGMA mmap_size=67108864")
            self._conn.execute("PRAGMA temp_store=MEMORY")
            self._conn.execute("PRAGMA wal_autocheckpoint=16384")
            upgrade_reference_schema(self._conn, self.mapping, self._columns)
            if create and self.mapping.is_reference:
                self._conn.executescript(SQLITE_ROSTER_DDL)
            self._conn.executescript(
                sqlite_bookkeeping_ddl(self.mapping.journal_table, self.mapping.audit_table)
            )
            self.sql = SQLiteSQL(self.mapping, self._columns)
            self.accounts_sql = AccountSQL(self.mapping, self._columns)
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.Error):
                raise translate(exc) from exc
            raise

    def _columns(self, table: str) -> list[str]:
        rows = self._conn.execute(f"PRAGMA table_info({quote(table)})").fetchall()
        return [str(r[1]) for r in rows]

    # -- StorageAdapter ------------------------------------------------------------------

    def read_roster(self, side: Side) -> Roster:
        sql = self.sql
        archived = _is_archived(side)
        try:
            cursor = self._conn.execute(sql.roster_contacts(archived), (sql.flag(archived),))
            contacts = contacts_by_student(cursor, sql)
            rows = self._conn.execute(sql.roster_students(archived), (sql.flag(archived),))
            student_rows = rows.fetchall()
            staff_rows = []
            if sql.roster_staff:
                params = (sql.staff_flag(archived),)
                staff_rows = self._conn.execute(sql.roster_staff, params).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        return self._roster(student_rows, staff_rows, contacts)

    def _roster(
        self, rows: Sequence[Any], staff_rows: Sequence[Any], contacts: Mapping[str, list[Contact]]
    ) -> Roster:
        sql = self.sql
        return build_roster(
            rows,
            staff_rows,
            (sql.student_fields, sql.staff_fields),
            contacts,
            self.mapping.students.table,
            (f"sqlite:///{self.path}", "sqlite"),
        )

    def read_roster_of(self, side: Side, ids: Collection[str]) -> Roster:
        """The part of ``read_roster(side)`` that ``ids`` name (see :class:`RosterLookup`):
        the roster's ids in its order, then only the rows wanted, ``_LOOKUP`` at a time."""
        sql = self.sql
        archived = _is_archived(side)
        wanted = set(ids)
        asked = sorted(wanted)
        try:
            for chunk in _chunks(asked):
                cursor = self._conn.execute(sql.linked_to(len(chunk)), chunk)
                wanted.update(str(row[0]) for row in cursor)
            cursor = self._conn.execute(sql.roster_ids[archived], (sql.flag(archived),))
            order = [row[0] for row in cursor if str(row[0]) in wanted]
            student_rows: list[Any] = []
            contacts: dict[str, list[Contact]] = {}
            for chunk in _chunks(order):
                found = self._conn.execute(sql.students_in(len(chunk)), chunk).fetchall()
                by_id = {str(r[0]): (r[0], *r[3:]) for r in found}
                student_rows += [by_id[str(i)] for i in chunk if str(i) in by_id]
                read = self._conn.execute(sql.contacts_in(len(chunk)), chunk)
                contacts.update(contacts_by_student(read, sql))
            staff_rows = []
            if sql.roster_staff:
                params = (sql.staff_flag(archived),)
                staff = self._conn.execute(sql.roster_staff, params)
                staff_rows = [row for row in staff if str(row[0]) in wanted]
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        return self._roster(student_rows, staff_rows, contacts)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        if self._open:
            raise StorageError("a transaction is already open on this storage; finish it first")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        self._open = True
        tx = SQLiteTransaction(self._conn, self.sql, self.accounts_sql, translate)
        try:
            yield tx
        except BaseException:
            self._rollback()
            raise
        else:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise translate(exc) from exc
        finally:
            tx.closed = True
            self._open = False

    @contextlib.contextmanager
    def plan_lock(self, plan_fingerprint: str) -> Iterator[None]:
        """The plan's lock: ``flock`` on ``<database>.plan-<id>.lock`` beside the file.

        The operating system drops it when the process ends, however it ends.
        The file is removed on release. Without ``fcntl`` (Windows) and for
        ``:memory:`` databases there is no lock.
        """
        if self.path == ":memory:" or _fcntl is None:
            yield
            return
        path = f"{self.path}.plan-{plan_fingerprint}.lock"
        fd = _flock(path, plan_fingerprint)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)  # still holding the lock: nobody else holds this file
            os.close(fd)

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
            log.debug("transaction_rolled_back", adapter="sqlite")

    def audit_records(self) -> Iterator[AuditRecord]:
        """Every audit record, oldest first, read a page at a time (a log of millions of
        records is never held whole)."""
        last = 0
        while True:
            try:
                rows = self._conn.execute(self.sql.audit_page, (last, AUDIT_PAGE)).fetchall()
            except sqlite3.Error as exc:
                raise translate(exc) from exc
            for row in rows:
                yield audit_record(row[1:])
            if len(rows) < AUDIT_PAGE:
                return
            last = rows[-1][0]

    def count_students(self, side: Side) -> int:
        archived = _is_archived(side)
        statement = self.sql.count_students[archived]
        try:
            row = self._conn.execute(statement, (self.sql.flag(archived),)).fetchone()
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        return int(row[0])

    def close(self) -> None:
        self._conn.close()

    # -- Loading and inspection ----------------------------------------------------------

    def load_prepared(self, data: PreparedRosters, *, replace: bool) -> None:
        """Bulk-load checked rosters in one transaction (see :mod:`.loading`)."""
        sql = self.sql
        conn = self._conn
        with self.transaction():
            try:
                if replace:
                    accounts = self.accounts_sql
                    emptied = sql.delete_all(accounts.account_tables(), accounts.merged_column)
                    for statement in emptied:
                        conn.execute(statement)
                elif conn.execute(sql.any_student).fetchone() is not None:
                    raise StorageError(
                        "the database already holds students; pass replace=True to reload"
                    )
                stamp = now_iso()
                conn.executemany(
                    sql.insert_student,
                    (sql.student_params(s, archived, stamp) for s, archived in data.students),
                )
                guardians = sorted(data.guardians.items())
                conn.executemany(
                    sql.insert_guardian, (sql.guardian_params(g) for _, g in guardians)
                )
                conn.executemany(sql.insert_link, (sql.link_params(link) for link in data.links))
                if sql.insert_staff:
                    staff = (sql.staff_params(m, archived) for m, archived in data.staff)
                    conn.executemany(sql.insert_staff, staff)
            except sqlite3.Error as exc:
                raise translate(exc) from exc

    def snapshot(self) -> dict[str, Any]:
        """Every mapped table present as deterministic plain data, to compare in tests."""
        result: dict[str, Any] = {}
        for table in self.mapping.table_names():
            columns = self._columns(table)
            if not columns:
                continue  # an account table a platform lacks (see AccountSQL.missing)
            order = ", ".join(quote(c) for c in columns)
            cursor = self._conn.execute(f"SELECT * FROM {quote(table)} ORDER BY {order}")
            result[table] = [plain_row(columns, row) for row in cursor.fetchall()]
        return result


try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]


def _flock(path: str, plan_fingerprint: str) -> int:
    """An open descriptor of ``path`` holding an exclusive ``flock``; raise if another holds it.

    A lock file is removed by its holder on release, so a lock won on a file
    already unlinked is worthless: the path is checked to still name the
    locked file, else it is tried again.
    """
    assert _fcntl is not None
    for _ in range(10):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(
                f"cannot create the plan lock file {path} ({exc.strerror}); "
                "check the folder's permissions"
            ) from None
        try:
            _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise PlanLockedError.for_plan(plan_fingerprint) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except OSError:
            same = False
        if same:
            return fd
        os.close(fd)  # the file was released and removed meanwhile: lock the new one
    raise PlanLockedError.for_plan(plan_fingerprint)


#: Ids per ``IN (...)`` list of a partial roster read.
_LOOKUP = 500


def _chunks(ids: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(ids), _LOOKUP):
        yield ids[i : i + _LOOKUP]


def _is_archived(side: Side) -> bool:
    if side not in ("archived", "synced"):
        raise ValueError(f"side must be 'archived' or 'synced', not {side!r}")
    return side == "archived"
