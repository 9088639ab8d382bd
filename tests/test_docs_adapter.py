"""The adapter of docs/adapters.md (docs/examples/my_adapter.py) passes the shipped contract suite,
and the engine applies and undoes a plan through it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from merge_engine import build_plan
from merge_engine.applying._apply import apply_plan
from merge_engine.applying._undo import undo_plan
from merge_engine.storage import HistoryRow, HistoryTable, StorageAdapter, history_key
from merge_engine.testing.contract import CONTRACT_DISTRICT, AdapterContract, ContractDistrict

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "my_adapter.py"
_spec = importlib.util.spec_from_file_location("my_adapter", EXAMPLE)
assert _spec is not None and _spec.loader is not None
my_adapter: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(my_adapter)

#: The platform's own tables, there before merge-engine came.
PLATFORM_SCHEMA = """
CREATE TABLE pupils (pupil_id TEXT PRIMARY KEY, given_name TEXT, family_name TEXT,
    birth_date TEXT, year_level INTEGER, is_old INTEGER NOT NULL, merged_to TEXT);
CREATE TABLE parents (parent_id TEXT PRIMARY KEY, given_name TEXT, family_name TEXT,
    email TEXT, mobile TEXT);
CREATE TABLE pupil_parents (pupil_id TEXT, parent_id TEXT, relation TEXT, position INTEGER,
    PRIMARY KEY (pupil_id, parent_id));
"""


def _history_ddl(t: HistoryTable, rows: Any) -> str:
    columns = {c for row in rows for c in row} | {t.student_column}
    rest = ", ".join(sorted(columns - set(t.primary_key)))
    unique = f", UNIQUE ({', '.join((t.student_column, *t.unique))})" if t.unique else ""
    return f"CREATE TABLE {t.name} ({t.primary_key[0]} INTEGER PRIMARY KEY, {rest}{unique})"


def platform_storage(district: ContractDistrict, tmp_path: Path) -> StorageAdapter:
    """The platform's database holding ``district``, opened with the docs' adapter."""
    path = tmp_path / "platform.db"
    with __import__("sqlite3").connect(path) as conn:
        conn.executescript(PLATFORM_SCHEMA)
        for t in district.history:
            conn.execute(_history_ddl(t, district.rows.get(t.name, ())))
        for old, roster in ((1, district.archived), (0, district.synced)):
            for s in roster.students:
                dob = s.dob.isoformat() if s.dob else None
                pupil = [s.id, s.first_name, s.last_name, dob, s.grade, old]
                conn.execute("INSERT INTO pupils VALUES (?, ?, ?, ?, ?, ?, NULL)", pupil)
                for position, c in enumerate(s.contacts):
                    parent = [c.guardian_id, c.first_name, c.last_name, c.email, c.phone]
                    conn.execute("INSERT OR IGNORE INTO parents VALUES (?, ?, ?, ?, ?)", parent)
                    link = [s.id, c.guardian_id, c.relationship, position]
                    conn.execute("INSERT INTO pupil_parents VALUES (?, ?, ?, ?)", link)
    conn.close()
    storage: StorageAdapter = my_adapter.PlatformStorage(str(path), district.history)
    tables = {t.name: t for t in district.history}
    rows = [
        HistoryRow(name, history_key(tables[name], row), row)
        for name, items in district.rows.items()
        if name in tables
        for row in items
    ]
    with storage.transaction() as tx:
        tx.insert_rows(rows)
    return storage


class TestDocsAdapter(AdapterContract):
    make_storage = staticmethod(platform_storage)
    student_fields = ("dob", "grade")
    contact_fields = ("email", "phone", "relationship")
    reads_staff = False


def test_the_engine_applies_and_undoes_a_plan_through_the_docs_adapter(tmp_path: Path) -> None:
    storage = platform_storage(CONTRACT_DISTRICT, tmp_path)
    plan = build_plan(storage.read_roster("archived"), storage.read_roster("synced"))
    merges = [(m.archived_id, m.synced_id) for m in plan.merges]
    with storage.transaction() as tx:
        before = {i: tx.history_rows("messages", i) for i in ("a1", "s1")}

    applied = apply_plan(plan, storage, approved=["a1"], accounts=False)  # a reviewer's yes
    with storage.transaction() as tx:
        after = {i: tx.history_rows("messages", i) for i in ("a1", "s1")}
    undone = undo_plan(plan, storage)

    assert merges == [("a1", "s1")]
    assert [o.status for o in applied.outcomes] == ["applied"]
    assert after["a1"] == [] and len(after["s1"]) == 4
    assert [s.id for s in storage.read_roster("archived").students] == ["a1", "a2", "a3"]
    with storage.transaction() as tx:
        assert {i: tx.history_rows("messages", i) for i in ("a1", "s1")} == before
    assert [o.status for o in undone.outcomes] == ["undone"]
    storage.close()


def test_the_docs_adapter_is_under_150_lines() -> None:
    """docs/adapters.md promises a complete adapter in under 150 lines: keep the promise."""
    assert len(EXAMPLE.read_text(encoding="utf-8").splitlines()) < 150
