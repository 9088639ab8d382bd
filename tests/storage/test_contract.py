"""The shipped contract suite on the three built-in adapters, and what only they promise.

:mod:`merge_engine.testing.contract` holds the tests every adapter passes;
here they run on memory, SQLite and PostgreSQL, comparing each adapter's
whole database (``snapshot()``) as well as what the contract reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from merge_engine.exceptions import MappingError, StorageError
from merge_engine.storage import (
    AuditRecord,
    HistoryTable,
    InMemoryStorage,
    StorageAdapter,
    StorageMapping,
    open_storage,
)
from merge_engine.testing.contract import AdapterContract, ContractDistrict

from .support import district_storage, empty_storage


class _BuiltIn(AdapterContract):
    kind = "memory"

    def make_storage(self, district: ContractDistrict, tmp_path: Path) -> StorageAdapter:
        return district_storage(self.kind, tmp_path, None, district)

    def state(self, storage: StorageAdapter) -> Any:
        return super().state(storage), storage.snapshot()  # type: ignore[attr-defined]


class TestMemory(_BuiltIn):
    kind = "memory"


class TestSQLite(_BuiltIn):
    kind = "sqlite"


@pytest.mark.postgres
class TestPostgres(_BuiltIn):
    kind = "postgres"

    @pytest.fixture(autouse=True)
    def _schema(self, pg: tuple[Any, str]) -> None:
        self.pg = pg

    def make_storage(self, district: ContractDistrict, tmp_path: Path) -> StorageAdapter:
        return district_storage(self.kind, tmp_path, self.pg, district)


# -- Configuration safety --------------------------------------------------------------------

HOSTILE = [
    HistoryTable("messages; DROP TABLE students"),
    HistoryTable('messages"--'),
    HistoryTable("messages", student_column="student_id = student_id OR 1=1"),
    HistoryTable("messages", primary_key=("id); DELETE FROM students; --",)),
    HistoryTable("messages", unique=("day' OR '1'='1",)),
    HistoryTable("1messages"),
    HistoryTable("x" * 64),
]


@pytest.mark.parametrize("table", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_history_config_is_refused_at_construction(
    kind: str, tmp_path: Path, pg_if_needed: tuple[Any, str] | None, table: HistoryTable
) -> None:
    with pytest.raises(MappingError, match="allowed"):
        if kind == "memory":
            InMemoryStorage(history_tables=[table])
        else:
            schema = pg_if_needed[1] if pg_if_needed else None
            mapping = StorageMapping(history=(table,), schema=schema)
            url = "sqlite:///" + str(tmp_path / "x.db") if kind == "sqlite" else "unused"
            open_storage(url, mapping=mapping, create=True)


def test_a_mapping_naming_a_missing_column_is_refused(
    kind: str, tmp_path: Path, pg_if_needed: tuple[Any, str] | None
) -> None:
    if kind == "memory":
        pytest.skip("the in-memory adapter has no tables to check a mapping against")
    empty_storage(kind, tmp_path, pg_if_needed).close()  # the reference schema exists
    schema = pg_if_needed[1] if pg_if_needed else None
    mapping = StorageMapping(
        history=(HistoryTable("messages", student_column="pupil_id"),), schema=schema
    )
    with pytest.raises(MappingError, match="pupil_id"):
        if kind == "sqlite":
            open_storage(str(next(tmp_path.glob("*.db"))), mapping=mapping)
        else:
            from merge_engine.storage._sqla import SQLAlchemyStorage  # noqa: PLC0415

            assert pg_if_needed is not None
            SQLAlchemyStorage(pg_if_needed[0], mapping=mapping)


# -- One transaction at a time, and none after it ends (the built-in adapters) ----------------


def test_a_finished_transaction_refuses_use(storage: StorageAdapter) -> None:
    with storage.transaction() as tx:
        pass
    with pytest.raises(StorageError, match="finished"):
        tx.history_rows("messages", "a1")


def test_nested_transactions_are_refused(storage: StorageAdapter) -> None:
    with (
        storage.transaction(),
        pytest.raises(StorageError, match="already open"),
        storage.transaction(),
    ):
        pass


# -- The audit log is read a page at a time (the built-in adapters) ----------------------------


def test_the_audit_log_is_read_in_pages_in_order(
    storage: StorageAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log longer than a page comes back whole and in order."""
    from merge_engine.storage import _sqla as sqla  # noqa: PLC0415
    from merge_engine.storage import _sqlite as sqlite  # noqa: PLC0415

    monkeypatch.setattr(sqlite, "AUDIT_PAGE", 3)
    monkeypatch.setattr(sqla, "AUDIT_PAGE", 3)
    records = [
        AuditRecord("apply", "plan-1", f"a{i}", "s1", f"2024-09-01T10:00:0{i}Z", {"notes": i})
        for i in range(7)
    ]
    with storage.transaction() as tx:
        for record in records:
            tx.write_audit(record)

    assert records == list(storage.audit_records())
