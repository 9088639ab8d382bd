"""What only the SQLAlchemy/PostgreSQL adapter does: locks, retryable conflicts, the
reference schema on PostgreSQL, lazy imports, and the skip-or-fail rule of the test suite."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from merge_engine.exceptions import MissingDependencyError, StorageError, TransientConflict
from merge_engine.storage import InMemoryStorage, StorageMapping, load_rosters, open_storage
from merge_engine.storage.schema import SQLITE_REFERENCE_DDL
from merge_engine.storage.sqlite import SQLiteStorage

from . import support
from .support import ARCHIVED, PG_URL, SYNCED, district_storage

sa = pytest.importorskip("sqlalchemy")
sqla = pytest.importorskip("merge_engine.storage.sqla")

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/test"


# -- The suite's own rule: skip without a server, fail with MERGE_ENGINE_REQUIRE_PG=1 ---------


def test_an_unreachable_server_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MERGE_ENGINE_REQUIRE_PG", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"unreachable .*MERGE_ENGINE_REQUIRE_PG=1"):
        support.require_pg(UNREACHABLE)


def test_an_unreachable_server_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MERGE_ENGINE_REQUIRE_PG", "1")
    with pytest.raises(pytest.fail.Exception, match="MERGE_ENGINE_REQUIRE_PG=1 makes this a fail"):
        support.require_pg(UNREACHABLE)


@pytest.mark.postgres
def test_a_reachable_server_neither_skips_nor_fails(
    pg: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERGE_ENGINE_REQUIRE_PG", "1")
    support.require_pg(PG_URL)  # the pg fixture found the server, so this returns


# -- Errors: retryable conflicts, and no values in messages -------------------------------------


class _Diag:
    def __init__(self, message: str) -> None:
        self.message_primary = message


class _DriverError(Exception):
    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(f"{message}\nDETAIL:  Key (name)=(Maria Lopez) already exists.")
        self.sqlstate = sqlstate
        self.diag = _Diag(message)


@pytest.mark.parametrize("state", ["40001", "40P01"])
def test_serialization_failures_and_deadlocks_are_transient(state: str) -> None:
    error = sa.exc.OperationalError("UPDATE ...", {}, _DriverError(state, "could not serialize"))
    assert isinstance(sqla.translate(error), TransientConflict)


def test_driver_details_and_rejected_values_stay_out_of_messages() -> None:
    unique = sa.exc.IntegrityError("INSERT", {}, _DriverError("23505", "duplicate key value"))
    value = sa.exc.DataError("INSERT", {}, _DriverError("22P02", 'invalid input: "Maria"'))
    for error in (unique, value):
        message = str(sqla.translate(error))
        assert "Maria" not in message and "DETAIL" not in message
    assert type(sqla.translate(unique)) is StorageError
    assert "22P02" in str(sqla.translate(value))


@pytest.fixture
def pg_storage(pg: tuple[Any, str], tmp_path: Path) -> Iterator[Any]:
    storage = district_storage("postgres", tmp_path, pg)
    yield storage
    storage.close()


@pytest.mark.postgres
def test_students_locks_the_rows_it_returns(pg_storage: Any, pg: tuple[Any, str]) -> None:
    engine, schema = pg
    lock = sa.text(f'SELECT id FROM "{schema}".students WHERE id = :id FOR UPDATE NOWAIT')
    with pg_storage.transaction() as tx:
        tx.students(["a1", "s1"])
        with engine.connect() as other:
            with pytest.raises(sa.exc.OperationalError, match="could not obtain lock"):
                other.execute(lock, {"id": "a1"})
            other.rollback()
            assert other.execute(lock, {"id": "a2"}).scalar() == "a2"  # not locked
            other.rollback()


@pytest.mark.postgres
def test_a_serialization_failure_is_a_transient_conflict(pg: tuple[Any, str]) -> None:
    engine, schema = pg
    mapping = StorageMapping(schema=schema)
    storage = sqla.SQLAlchemyStorage(engine, mapping=mapping, create=True)
    load_rosters(storage, ARCHIVED, SYNCED)
    repeatable = sqla.SQLAlchemyStorage(engine, mapping=mapping, isolation_level="REPEATABLE READ")
    with pytest.raises(TransientConflict, match="40001"), repeatable.transaction() as tx:
        tx.history_rows("messages", "a1")  # the snapshot is taken here
        with engine.begin() as other:
            other.execute(sa.text(f"UPDATE \"{schema}\".students SET grade = 5 WHERE id = 'a1'"))
        tx.set_merged_into("a1", "s1")
    with storage.transaction() as tx:
        assert tx.students(["a1"])["a1"].merged_into is None


@pytest.mark.postgres
def test_a_deadlock_is_a_transient_conflict(pg: tuple[Any, str]) -> None:
    _, schema = pg
    fast = sa.create_engine(PG_URL)  # deadlock_timeout (1 s by default) bounds the wait
    try:
        storage = sqla.SQLAlchemyStorage(fast, mapping=StorageMapping(schema=schema), create=True)
        load_rosters(storage, ARCHIVED, SYNCED)
        other = sqla.SQLAlchemyStorage(fast, mapping=StorageMapping(schema=schema))
        both_locked = threading.Barrier(2, timeout=10)
        outcomes: list[str] = []

        def merge(adapter: Any, first: str, second: str) -> None:
            try:
                with adapter.transaction() as tx:
                    tx.set_merged_into(first, "s1")
                    both_locked.wait()
                    tx.set_merged_into(second, "s1")
                outcomes.append("committed")
            except TransientConflict:
                outcomes.append("conflict")

        threads = [
            threading.Thread(target=merge, args=(storage, "a1", "a2")),
            threading.Thread(target=merge, args=(other, "a2", "a1")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert sorted(outcomes) == ["committed", "conflict"]
    finally:
        fast.dispose()


# -- The reference schema on PostgreSQL ----------------------------------------------------------


@pytest.mark.postgres
def test_the_reference_schema_has_the_same_columns_everywhere(
    pg: tuple[Any, str], tmp_path: Path
) -> None:
    engine, schema = pg
    sqla.create_reference_schema(engine, schema=schema)
    sqla.create_reference_schema(engine, schema=schema)  # idempotent
    inspector = sa.inspect(engine)
    lite = SQLiteStorage(tmp_path / "ref.db", create=True)
    try:
        for table in StorageMapping().table_names():
            pg_columns = [c["name"] for c in inspector.get_columns(table, schema=schema)]
            lite_columns = [r[1] for r in lite._conn.execute(f"PRAGMA table_info({table})")]
            assert pg_columns == lite_columns, table
    finally:
        lite.close()
    assert "CREATE TABLE IF NOT EXISTS students" in SQLITE_REFERENCE_DDL


@pytest.mark.postgres
def test_open_storage_dispatches_on_the_url(pg: tuple[Any, str], tmp_path: Path) -> None:
    _, schema = pg
    mapping = StorageMapping(schema=schema)
    storage = open_storage(PG_URL, mapping=mapping, create=True)
    try:
        assert isinstance(storage, sqla.SQLAlchemyStorage)
        assert storage.read_roster("synced").format == "sqlalchemy:postgresql"
    finally:
        storage.close()
    assert isinstance(open_storage("memory:"), InMemoryStorage)
    for url in (f"sqlite:///{tmp_path / 'a.db'}", str(tmp_path / "b.db")):
        lite = open_storage(url, create=True)
        assert isinstance(lite, SQLiteStorage)
        lite.close()


def test_unreachable_servers_and_bad_urls_raise_storage_errors() -> None:
    with pytest.raises(StorageError, match="database error"):
        sqla.SQLAlchemyStorage(UNREACHABLE)
    with pytest.raises(StorageError, match="cannot read this database URL"):
        open_storage("postgresql+psycopg://user:secret@host:notaport/db")
    with pytest.raises(MissingDependencyError, match="driver"):
        open_storage("mysql+mysqldb://u@h/db")
    with pytest.raises(StorageError, match="cannot read this database URL"):
        open_storage("mysql+nosuchdriver://u@h/db")


# -- SQLAlchemy stays optional ---------------------------------------------------------------------


def test_storage_imports_without_sqlalchemy() -> None:
    code = (
        "import sys; sys.modules['sqlalchemy'] = None\n"
        "import merge_engine.storage as s\n"
        "try:\n"
        "    s.open_storage('postgresql+psycopg://h/db')\n"
        "except s.MissingDependencyError as e:\n"
        "    print(e)\n"
        "print(type(s.open_storage('memory:')).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert 'pip install "merge-engine[postgres]"' in out
    assert out.strip().endswith("InMemoryStorage")
