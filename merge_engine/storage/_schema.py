"""The reference schema, the default history tables and identifier safety.

Table and column names are the only SQL text not bound as parameters,
so every one of them passes :func:`check_identifier` (a strict
allow-list) and is double-quoted when used. Values are always bound.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..exceptions import MappingError
from ._base import HistoryTable

__all__ = [
    "DEFAULT_GUARDIAN_HISTORY_TABLES",
    "DEFAULT_HISTORY_TABLES",
    "GUARDIAN_FIELDS",
    "IDENTIFIER",
    "SQLITE_REFERENCE_DDL",
    "SQLITE_ROSTER_DDL",
    "STAFF_FIELDS",
    "STUDENT_FIELDS",
    "check_identifier",
    "quote",
    "sqlite_bookkeeping_ddl",
    "validate_history_tables",
]

#: Names we accept for tables and columns: a letter or underscore, then up to 62 more.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

#: Student attributes stored as columns (``id``, ``contacts`` and ``line`` are not).
STUDENT_FIELDS = (
    "first_name", "middle_name", "last_name", "dob", "grade", "gender", "school_id", "sis_id",
    "state_id", "student_number", "email", "street", "city", "state", "zip",
)  # fmt: skip
#: Guardian account attributes (the relationship lives on the link, not the guardian).
GUARDIAN_FIELDS = ("first_name", "last_name", "email", "phone", "sis_id")
STAFF_FIELDS = ("first_name", "last_name", "email", "phone", "school_id", "sis_id")

#: History tables of the reference schema: configuration, not code.
DEFAULT_HISTORY_TABLES: tuple[HistoryTable, ...] = (
    HistoryTable("messages"),
    HistoryTable("notes"),
    HistoryTable("attendance", unique=("day",)),
    HistoryTable("backpack_items"),
)
#: Guardian-owned history of the reference schema: moves with a guardian merge.
DEFAULT_GUARDIAN_HISTORY_TABLES: tuple[HistoryTable, ...] = (
    HistoryTable("guardian_messages", student_column="guardian_id"),
)


def check_identifier(name: object, where: str) -> str:
    """Return ``name`` if it is a safe SQL identifier, else raise :class:`MappingError`.

    ``where`` says which setting held it, so the message tells what to fix.
    """
    if not isinstance(name, str) or IDENTIFIER.fullmatch(name) is None:
        shown = repr(name) if isinstance(name, str) and len(name) <= 80 else "the value"
        raise MappingError(
            f"{where}: {shown} is not an allowed table, column or schema name; use 1-63 letters, "
            "digits or underscores, not starting with a digit"
        )
    return name


def quote(name: str) -> str:
    """Double-quote an identifier that already passed :func:`check_identifier`."""
    return f'"{check_identifier(name, "identifier")}"'


def validate_history_tables(tables: Iterable[HistoryTable]) -> tuple[HistoryTable, ...]:
    """Check every name of a history-table configuration; raise :class:`MappingError`."""
    result = tuple(tables)
    seen: set[str] = set()
    for table in result:
        if not isinstance(table, HistoryTable):
            raise MappingError(f"history: expected HistoryTable values, got {type(table).__name__}")
        where = f"history table {table.name!r}" if isinstance(table.name, str) else "history"
        check_identifier(table.name, "history table name")
        check_identifier(table.student_column, f"{where}: student_column")
        if not table.primary_key:
            raise MappingError(f"{where}: primary_key must name at least one column")
        for column in (*table.primary_key, *table.unique):
            check_identifier(column, f"{where}: primary_key/unique")
        if table.student_column in table.primary_key or table.student_column in table.unique:
            raise MappingError(
                f"{where}: the student column cannot be part of primary_key or unique "
                "(a merge changes it; unique already includes it)"
            )
        if table.survivor not in ("synced", "archived"):
            raise MappingError(f"{where}: survivor must be 'synced' or 'archived'")
        if table.name.casefold() in seen:
            raise MappingError(f"{where}: configured twice; list each history table once")
        seen.add(table.name.casefold())
    return result


#: The roster and history tables of the reference schema for SQLite. Dates are ISO text.
SQLITE_ROSTER_DDL = """
CREATE TABLE IF NOT EXISTS students (
    id TEXT PRIMARY KEY,
    archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    merged_into TEXT NULL REFERENCES students (id),
    first_name TEXT NOT NULL,
    middle_name TEXT,
    last_name TEXT NOT NULL,
    dob TEXT CHECK (dob IS NULL OR dob GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    grade INTEGER,
    gender TEXT CHECK (gender IS NULL OR gender IN ('F', 'M', 'X')),
    school_id TEXT,
    sis_id TEXT,
    state_id TEXT,
    student_number TEXT,
    email TEXT,
    street TEXT,
    city TEXT,
    state TEXT,
    zip TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS students_archived ON students (archived, merged_into);
CREATE INDEX IF NOT EXISTS students_merged_into ON students (merged_into);
CREATE TABLE IF NOT EXISTS guardians (
    id TEXT PRIMARY KEY,
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    phone TEXT,
    sis_id TEXT,
    merged_into TEXT NULL REFERENCES guardians (id)
);
CREATE INDEX IF NOT EXISTS guardians_merged_into ON guardians (merged_into);
CREATE TABLE IF NOT EXISTS student_guardians (
    student_id TEXT NOT NULL REFERENCES students (id),
    guardian_id TEXT NOT NULL REFERENCES guardians (id),
    relationship TEXT,
    contact_order INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (student_id, guardian_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS student_guardians_guardian ON student_guardians (guardian_id);
CREATE TABLE IF NOT EXISTS staff (
    id TEXT PRIMARY KEY,
    archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    school_id TEXT,
    sis_id TEXT
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids of set-aside rows are never reused
    student_id TEXT NOT NULL REFERENCES students (id),
    sent_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_student ON messages (student_id);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids of set-aside rows are never reused
    student_id TEXT NOT NULL REFERENCES students (id),
    created_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_student ON notes (student_id);
CREATE TABLE IF NOT EXISTS attendance (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids of set-aside rows are never reused
    student_id TEXT NOT NULL REFERENCES students (id),
    day TEXT NOT NULL,
    status TEXT NOT NULL,
    UNIQUE (student_id, day)
);
CREATE TABLE IF NOT EXISTS backpack_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids of set-aside rows are never reused
    student_id TEXT NOT NULL REFERENCES students (id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS backpack_items_student ON backpack_items (student_id);
CREATE TABLE IF NOT EXISTS guardian_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids of set-aside rows are never reused
    guardian_id TEXT NOT NULL REFERENCES guardians (id),
    sent_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS guardian_messages_guardian ON guardian_messages (guardian_id);
CREATE TABLE IF NOT EXISTS account_links (
    kind TEXT NOT NULL CHECK (kind IN ('staff_guardian', 'guardian_guardian')),
    first_id TEXT NOT NULL,
    second_id TEXT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'link' CHECK (mode IN ('link', 'merge')),
    PRIMARY KEY (kind, first_id, second_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS account_links_second ON account_links (second_id);
"""


def sqlite_bookkeeping_ddl(journal: str = "merge_journal", audit: str = "merge_audit") -> str:
    """The journal and audit tables (created by the adapter whenever missing)."""
    return f"""
CREATE TABLE IF NOT EXISTS {quote(journal)} (
    plan_fingerprint TEXT NOT NULL,
    archived_id TEXT NOT NULL,
    synced_id TEXT NOT NULL,
    entry TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (plan_fingerprint, archived_id)
);
CREATE TABLE IF NOT EXISTS {quote(audit)} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL CHECK (action IN ('apply', 'undo')),
    plan_fingerprint TEXT NOT NULL,
    archived_id TEXT NOT NULL,
    synced_id TEXT NOT NULL,
    at TEXT NOT NULL,
    rows TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS {quote(audit + "_archived_id")} ON {quote(audit)} (archived_id);
"""


#: The whole reference schema for SQLite (the embedded default).
SQLITE_REFERENCE_DDL = SQLITE_ROSTER_DDL + sqlite_bookkeeping_ddl()
