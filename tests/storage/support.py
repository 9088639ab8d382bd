"""The contract suite's tiny district in each built-in adapter, and PostgreSQL availability.

PostgreSQL tests use ``MERGE_ENGINE_PG_URL`` (default: the local trust-auth
server). When it is unreachable they skip with the reason, unless
``MERGE_ENGINE_REQUIRE_PG=1``, which turns the skip into a failure (CI).
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from merge_engine.model import Student
from merge_engine.storage import (
    InMemoryStorage,
    StorageAdapter,
    StorageMapping,
    load_history,
    load_rosters,
)
from merge_engine.storage._sqlite import SQLiteStorage
from merge_engine.testing.contract import CONTRACT_DISTRICT, ContractDistrict

PG_URL = os.environ.get("MERGE_ENGINE_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KINDS = ("memory", "sqlite", "postgres")

ARCHIVED = CONTRACT_DISTRICT.archived
SYNCED = CONTRACT_DISTRICT.synced
ROWS = CONTRACT_DISTRICT.rows


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
    from merge_engine.storage._sqla import SQLAlchemyStorage  # noqa: PLC0415

    engine, schema = pg
    return SQLAlchemyStorage(engine, mapping=StorageMapping(schema=schema), create=True)


def district_storage(
    kind: str,
    tmp_path: Path,
    pg: tuple[Any, str] | None,
    district: ContractDistrict = CONTRACT_DISTRICT,
) -> StorageAdapter:
    """The tiny district (the contract suite's), with its history rows, in a storage of ``kind``."""
    if kind == "memory":
        return InMemoryStorage(district.archived, district.synced, rows=district.rows)
    storage = empty_storage(kind, tmp_path, pg)
    load_rosters(storage, district.archived, district.synced)
    load_history(storage, district.rows)
    return storage
