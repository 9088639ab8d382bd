"""A tiny district every adapter test starts from, and PostgreSQL availability.

PostgreSQL tests use ``MERGE_ENGINE_PG_URL`` (default: the local trust-auth
server). When it is unreachable they skip with the reason, unless
``MERGE_ENGINE_REQUIRE_PG=1``, which turns the skip into a failure (CI).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from merge_engine.model import Contact, Roster, StaffMember, Student
from merge_engine.storage import (
    InMemoryStorage,
    StorageAdapter,
    StorageMapping,
    load_history,
    load_rosters,
)
from merge_engine.storage.sqlite import SQLiteStorage

PG_URL = os.environ.get("MERGE_ENGINE_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KINDS = ("memory", "sqlite", "postgres")

MOTHER = Contact("g1", "Maria", "Lopez", "maria@example.org", "+15555550101", "Mother")
FATHER = Contact("g2", "Jose", "Lopez", None, "+15555550102", "Father", sis_id="P-2")
A1 = Student(
    "a1", "Ana", "Lopez", middle_name="B", dob=dt.date(2015, 3, 4), grade=3, gender="F",
    school_id="sch1", sis_id="100", state_id="ST1", student_number="N1", email="ana@example.org",
    street="1 Main St", city="Springfield", state="IL", zip="62701",
    contacts=(FATHER, MOTHER),  # deliberately not in guardian-id order
    line=2,
)  # fmt: skip
A2 = Student("a2", "Ben", "Ng", grade=0, contacts=(Contact("g3", "Li", "Ng", relationship=None),))
A3 = Student("a3", "Cy", "Oh", grade=-2)
S1 = Student(
    "s1", "Ana", "Lopez", dob=dt.date(2015, 3, 4), grade=4, gender="F", school_id="sch1",
    contacts=(Contact("g4", "Rosa", "Diaz", "rosa@example.org", None, "Grandparent"), MOTHER),
)  # fmt: skip
S2 = Student("s2", "Dee", "Park", dob=dt.date(2010, 12, 31), grade=9)
ARCHIVED = Roster([A1, A2, A3], staff=[StaffMember("t1", "Tom", "Hart", school_id="sch1")])
SYNCED = Roster([S1, S2], staff=[StaffMember("t2", "Una", "Vale", email="u@example.org")])

STAMP = "2024-01-05T08:00:00+00:00"
ROWS: dict[str, list[dict[str, Any]]] = {
    "messages": [
        {"id": 3, "student_id": "a1", "sent_at": STAMP, "body": "second"},
        {"id": 1, "student_id": "a1", "sent_at": STAMP, "body": "first"},
        {"id": 2, "student_id": "s1", "sent_at": STAMP, "body": "synced"},
        {"id": 7, "student_id": "a1", "sent_at": STAMP, "body": "third"},
    ],
    "notes": [{"id": 1, "student_id": "a2", "created_at": STAMP, "body": "note"}],
    "attendance": [
        {"id": 1, "student_id": "a1", "day": "2024-01-05", "status": "present"},
        {"id": 2, "student_id": "a1", "day": "2024-01-06", "status": "absent"},
        {"id": 3, "student_id": "s1", "day": "2024-01-05", "status": "present"},
    ],
    "backpack_items": [
        {"id": 1, "student_id": "a1", "kind": "form", "title": "permission", "added_at": STAMP}
    ],
    "guardian_messages": [
        {"id": 1, "guardian_id": "g1", "sent_at": STAMP, "body": "old account"},
        {"id": 2, "guardian_id": "g4", "sent_at": STAMP, "body": "new account"},
    ],
}


def as_stored(student: Student) -> Student:
    """A student as any adapter reads it back (no source line)."""
    return attrs.evolve(student, line=0)


def text(value: Any) -> str:
    """A value as comparable text across adapters (DATE vs ISO text)."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


@functools.cache
def pg_problem(url: str = PG_URL) -> str | None:
    """Why PostgreSQL cannot be used (None when it can)."""
    try:
        import sqlalchemy as sa  # noqa: PLC0415
    except ImportError:
        return 'SQLAlchemy is not installed (pip install "merge-engine[postgres]")'
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means: no server to test against
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def require_pg(url: str = PG_URL) -> None:
    """Skip when PostgreSQL is unreachable, or fail when MERGE_ENGINE_REQUIRE_PG=1."""
    problem = pg_problem(url)
    if problem is None:
        return
    message = f"PostgreSQL at MERGE_ENGINE_PG_URL is unreachable ({problem})"
    if os.environ.get("MERGE_ENGINE_REQUIRE_PG") == "1":
        pytest.fail(f"{message}; MERGE_ENGINE_REQUIRE_PG=1 makes this a failure")
    pytest.skip(f"{message}; set MERGE_ENGINE_REQUIRE_PG=1 to fail instead")


@functools.cache
def _engine(url: str) -> Any:
    import sqlalchemy as sa  # noqa: PLC0415

    return sa.create_engine(url)


def pg_schema() -> Iterator[tuple[Any, str]]:
    """A fresh, uniquely named schema (dropped afterwards) and a shared engine."""
    import sqlalchemy as sa  # noqa: PLC0415

    require_pg()
    engine = _engine(PG_URL)
    name = f"me_test_{secrets.token_hex(6)}"
    try:
        yield engine, name
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def empty_storage(kind: str, tmp_path: Path, pg: tuple[Any, str] | None) -> StorageAdapter:
    """An empty reference-schema storage of ``kind``."""
    if kind == "memory":
        return InMemoryStorage()
    if kind == "sqlite":
        return SQLiteStorage(tmp_path / f"{secrets.token_hex(4)}.db", create=True)
    assert pg is not None
    from merge_engine.storage.sqla import SQLAlchemyStorage  # noqa: PLC0415

    engine, schema = pg
    return SQLAlchemyStorage(engine, mapping=StorageMapping(schema=schema), create=True)


def district_storage(kind: str, tmp_path: Path, pg: tuple[Any, str] | None) -> StorageAdapter:
    """The tiny district, with its history rows, in a storage of ``kind``."""
    if kind == "memory":
        return InMemoryStorage(ARCHIVED, SYNCED, rows=ROWS)
    storage = empty_storage(kind, tmp_path, pg)
    load_rosters(storage, ARCHIVED, SYNCED)
    load_history(storage, ROWS)
    return storage
