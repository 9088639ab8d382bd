"""Bulk loads leave PostgreSQL with table statistics the apply can plan from.

A table filled in one transaction has no statistics until autovacuum analyzes
it, and never where autovacuum is off (as on this project's CI server). The
planner then guesses each table's size from its pages, and the apply's chunked
reads (``id = ANY(...)``) can become a scan of the whole table per chunk. The
loaders analyze what they filled. Needs the server at MERGE_ENGINE_PG_URL.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from apply_support import district, new_pg_schema, pg_storage, require_pg

from merge_engine.storage import load_history, load_rosters

pytestmark = pytest.mark.postgres


def _analyzed(storage: Any) -> dict[str, bool]:
    """Per table of the storage's schema: has it been analyzed (by hand or by autovacuum)?"""
    query = sa.text(
        "SELECT relname, COALESCE(last_analyze, last_autoanalyze) IS NOT NULL "
        "FROM pg_stat_user_tables WHERE schemaname = :s"
    )
    with storage.engine.connect() as conn:
        return {
            str(name): bool(done)
            for name, done in conn.execute(query, {"s": storage.mapping.schema})
        }


def _estimated_rows(storage: Any, table: str) -> float:
    with storage.engine.connect() as conn:
        query = sa.text(
            "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relname = :t"
        )
        return float(conn.execute(query, {"s": storage.mapping.schema, "t": table}).scalar_one())


def test_loading_rosters_and_history_analyzes_the_tables_it_filled() -> None:
    require_pg()
    d = district(200, seed=3)
    storage = pg_storage(new_pg_schema(), create=True)
    try:
        load_rosters(storage, d.archived, d.synced)
        analyzed = _analyzed(storage)
        for table in ("students", "guardians", "student_guardians"):
            assert analyzed[table], table
        students = len(d.archived.students) + len(d.synced.students)
        assert _estimated_rows(storage, "students") == students

        load_history(storage, d.rows)
        analyzed = _analyzed(storage)
        for table, rows in d.rows.items():
            if rows:
                assert analyzed[table], table
                assert _estimated_rows(storage, table) == len(list(rows))
    finally:
        storage.close()
