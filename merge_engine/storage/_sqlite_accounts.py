"""The SQLite adapter's guardian-account statements, and the upgrade of older files.

Guardian merges and multiple-role links need a column and two tables that
files made by earlier releases lack (``guardians.merged_into``,
``guardian_messages``, ``account_links``). On the reference schema they
are added in place when the file is opened (:func:`upgrade_reference_schema`).
A platform's own tables are never changed: an account part its mapping
names but the database lacks fails with a :class:`MappingError` when an
account method first needs it, so student merges keep working meanwhile.
"""

from __future__ import annotations

import re
import sqlite3

from .._log import get_logger
from ..exceptions import MappingError, StorageError
from ._mapping import AccountLinkTable, StorageMapping
from ._schema import DEFAULT_GUARDIAN_HISTORY_TABLES, SQLITE_ROSTER_DDL, quote
from ._sqlite_sql import Columns, HistorySQL, check_columns

__all__ = ["AccountSQL", "upgrade_reference_schema"]

log = get_logger(__name__)

#: The table (or, for an index, the indexed table) a reference DDL statement creates.
_CREATES = re.compile(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)(?: ON (\w+))?")
_MERGED = "guardians.merged_into"
_LINKS = "account_links"


class AccountSQL:
    """Every statement of the account methods, built once from the mapping.

    ``missing`` holds, per mapping setting (``guardians.merged_into``,
    ``account_links`` or ``guardian_history <name>``), why the database
    cannot serve it; :meth:`require` raises that as a :class:`MappingError`.
    """

    def __init__(self, mapping: StorageMapping, columns: Columns) -> None:
        self.mapping = mapping
        self.missing: dict[str, str] = {}
        g, lk = mapping.guardians, mapping.links
        gt, gid = quote(g.table), quote(g.id)
        self._guardian_ids_in = f"SELECT {gid} FROM {gt} WHERE {gid} IN "
        self.merged_column: str | None = None
        if g.merged_into is not None and self._present(
            columns, g.table, {g.merged_into: _MERGED}, _MERGED, "guardians.merged_into = false"
        ):
            self.merged_column = g.merged_into
        merged = "NULL" if self.merged_column is None else quote(self.merged_column)
        self._guardians_in = f"SELECT {gid}, {merged} FROM {gt} WHERE {gid} IN "
        exists = f"EXISTS (SELECT 1 FROM {gt} WHERE {gid} = ?)"
        self.set_merged = (
            f"UPDATE {gt} SET {merged} = ? WHERE {gid} = ? AND (? IS NULL OR {exists})"
            if self.merged_column is not None
            else ""  # never run: require_merged_column() raises first
        )
        # Many marks at once (executemany), after one existence check of every id.
        self.set_merged_many = (
            f"UPDATE {gt} SET {merged} = ? WHERE {gid} = ?"
            if self.merged_column is not None
            else ""  # never run: require_merged_column() raises first
        )
        relationship = quote(lk.relationship) if lk.relationship else "NULL"
        order = quote(lk.order) if lk.order else "NULL"
        lsid = quote(lk.student_id)
        self.links_of_guardian = (
            f"SELECT {lsid}, {relationship}, {order} FROM {quote(lk.table)} "
            f"WHERE {quote(lk.guardian_id)} = ? ORDER BY {lsid}"
        )
        lgid = quote(lk.guardian_id)
        self._links_of_guardians_in = (
            f"SELECT {lgid}, {lsid}, {relationship}, {order} "
            f"FROM {quote(lk.table)} WHERE {lgid} IN "
        )
        self.history: dict[str, HistorySQL] = {}
        for h in mapping.guardian_history:
            wanted = {h.student_column: f"guardian_history {h.name}.student_column"}
            wanted.update({c: f"guardian_history {h.name}.primary_key" for c in h.primary_key})
            wanted.update({c: f"guardian_history {h.name}.unique" for c in h.unique})
            key = f"guardian_history {h.name}"
            present = self._present(columns, h.name, wanted, key, "guardian_history = []")
            if present:
                self.history[h.name] = HistorySQL(h, present, owner="guardian")
        self._build_account_links(columns)

    def _present(
        self, columns: Columns, table: str, wanted: dict[str, str], key: str, off: str
    ) -> list[str]:
        """The table's columns, or ``[]`` after noting in ``missing`` what is absent."""
        try:
            return check_columns(columns, table, wanted)
        except MappingError as exc:
            self.missing[key] = f"{exc} (a platform without it maps {off})"
            return []

    def _build_account_links(self, columns: Columns) -> None:
        m = self.mapping
        al = m.account_links
        self.links_table: str | None = None
        self.account_links = ""
        self.remove_link = ""
        self.add_guardian_link = ""
        self.add_staff_link = ""
        self.staff_exists = ""
        if al is None:
            return
        wanted = {
            al.kind: "account_links.kind",
            al.first_id: "account_links.first_id",
            al.second_id: "account_links.second_id",
            al.mode: "account_links.mode",
        }
        if not self._present(columns, al.table, wanted, _LINKS, "account_links = false"):
            return
        self.links_table = al.table
        t, kind = quote(al.table), quote(al.kind)
        first, second = quote(al.first_id), quote(al.second_id)
        listed = f"{kind}, {first}, {second}, {quote(al.mode)}"
        key = f"{kind} = ? AND {first} = ? AND {second} = ?"
        self.account_links = (
            f"SELECT {listed} FROM {t} WHERE ? IN ({first}, {second}) "
            f"ORDER BY {kind}, {first}, {second}"
        )
        self.remove_link = f"DELETE FROM {t} WHERE {key}"
        g = m.guardians
        guardian = f"EXISTS (SELECT 1 FROM {quote(g.table)} WHERE {quote(g.id)} = ?)"
        insert = f"INSERT INTO {t} ({listed}) SELECT ?, ?, ?, ? WHERE "
        absent = f"NOT EXISTS (SELECT 1 FROM {t} WHERE {key})"
        self.add_guardian_link = f"{insert}{guardian} AND {guardian} AND {absent}"
        if m.staff is not None:
            st, sid = quote(m.staff.table), quote(m.staff.id)
            self.staff_exists = f"SELECT 1 FROM {st} WHERE {sid} = ?"
            staff = f"EXISTS (SELECT 1 FROM {st} WHERE {sid} = ?)"
            self.add_staff_link = f"{insert}{staff} AND {guardian} AND {absent}"

    def require(self, key: str) -> None:
        """Raise the :class:`MappingError` noted for ``key``, if any."""
        message = self.missing.get(key)
        if message is not None:
            raise MappingError(message)

    def require_merged_column(self) -> str:
        """The set-merged statement; MappingError when the column is unmapped or absent."""
        if self.mapping.guardians.merged_into is None:
            raise MappingError(
                "guardians.merged_into is not mapped; map guardians.merged_into to the column "
                "marking an account merged into another to apply guardian merges"
            )
        self.require(_MERGED)
        return self.set_merged

    def require_links_table(self) -> None:
        """MappingError when account links are not mapped or their table is absent."""
        if self.mapping.account_links is None:
            raise MappingError(
                "no account link table is mapped; map account_links (a table with kind, "
                "first_id, second_id and mode columns) to record multiple-role links"
            )
        self.require(_LINKS)

    def add_link(self, staff: bool) -> str:
        """The insert for a staff-guardian (``staff``) or guardian-guardian link."""
        self.require_links_table()
        if staff and not self.add_staff_link:
            raise StorageError(
                "no staff table is mapped; a staff_guardian link needs one (map staff)"
            )
        return self.add_staff_link if staff else self.add_guardian_link

    def guardians_in(self, n: int) -> str:
        self.require(_MERGED)
        return f"{self._guardians_in}({', '.join('?' * n)})"

    def guardian_ids_in(self, n: int) -> str:
        return f"{self._guardian_ids_in}({', '.join('?' * n)})"

    def links_of_guardians_in(self, n: int) -> str:
        """The links of ``n`` guardians, by guardian and then student."""
        return f"{self._links_of_guardians_in}({', '.join('?' * n)}) ORDER BY 1, 2"

    def account_tables(self) -> list[str]:
        """The account tables present, to empty before the guardians on a reload."""
        tables = list(self.history)
        if self.links_table is not None:
            tables.append(self.links_table)
        return tables


# -- Upgrading files made by earlier releases ------------------------------------------------


def _reference_statements(tables: set[str]) -> list[str]:
    """The reference DDL statements creating ``tables`` and their indexes, in order."""
    chosen = []
    for statement in SQLITE_ROSTER_DDL.split(";"):
        found = _CREATES.search(statement)
        if found is not None and (found.group(2) or found.group(1)) in tables:
            chosen.append(statement.strip())
    return chosen


def _pending(mapping: StorageMapping, columns: Columns) -> tuple[list[str], list[str]]:
    """What a reference-schema file lacks: ``(names added, statements adding them)``."""
    g = mapping.guardians
    present = {c.casefold() for c in columns(g.table)}
    if not present:
        return [], []  # no roster tables yet: nothing to upgrade (create=True makes them)
    added: list[str] = []
    statements: list[str] = []
    if g.merged_into is not None and g.merged_into.casefold() not in present:
        added.append(f"{g.table}.{g.merged_into}")
        statements.append(
            f"ALTER TABLE {quote(g.table)} ADD COLUMN {quote(g.merged_into)} TEXT "
            f"REFERENCES {quote(g.table)} ({quote(g.id)})"
        )
    wanted = {t.name for t in mapping.guardian_history if t in DEFAULT_GUARDIAN_HISTORY_TABLES}
    if mapping.account_links == AccountLinkTable():
        wanted.add(mapping.account_links.table)
    tables = {t for t in wanted if not columns(t)}
    added += sorted(tables)
    statements += _reference_statements(tables)
    return added, statements


def upgrade_reference_schema(
    conn: sqlite3.Connection, mapping: StorageMapping, columns: Columns
) -> list[str]:
    """Add to a reference-schema file what earlier releases did not create; returns it.

    Only for the reference mapping, and only what that mapping names as the
    reference schema defines it (the account parts of a platform's tables
    are the platform's to create). Runs in one ``BEGIN IMMEDIATE``
    transaction, re-checked under the lock so two openers upgrade once.
    """
    if not mapping.is_reference or not _pending(mapping, columns)[1]:
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        added, statements = _pending(mapping, columns)
        for statement in statements:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if added:
        log.info("sqlite_schema_upgraded", added=added)
    return added
