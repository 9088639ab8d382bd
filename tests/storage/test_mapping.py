"""Storage mappings: the file format, validation, and adapters on a platform's own tables."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from merge_engine.exceptions import MappingError, StorageError
from merge_engine.storage import (
    GuardianLink,
    HistoryTable,
    JournalEntry,
    StorageAdapter,
    StorageMapping,
    load_rosters,
    open_storage,
)
from merge_engine.storage._mapping import StudentTable

from .support import ARCHIVED, SYNCED, pg_schema

PLATFORM_TOML = """
journal_table = "me_journal"
audit_table = "me_audit"
staff = false

[students]
table = "pupils"
id = "pupil_id"
archived_column = "status"
archived_value = "archived"
active_value = "active"
merged_into = "merged_into_pupil"
updated_at = "modified_at"

[students.fields]
first_name = "given_name"
last_name = "family_name"
dob = "birth_date"
grade = "grade_level"
school_id = "school_ref"

[guardians]
table = "contacts"
id = "contact_id"
fields = { first_name = "given", last_name = "family", email = "mail", phone = "mobile" }

[links]
table = "pupil_contacts"
student_id = "pupil_id"
guardian_id = "contact_id"
relationship = "relation"
order = false

[[history]]
name = "chat_messages"
student_column = "pupil_ref"

[[history]]
name = "daily_attendance"
student_column = "pupil_ref"
primary_key = ["att_id"]
unique = ["att_date"]
"""

PLATFORM_DDL = [
    """CREATE TABLE {s}pupils (pupil_id INTEGER PRIMARY KEY, status TEXT NOT NULL,
       merged_into_pupil INTEGER REFERENCES {s}pupils (pupil_id), given_name TEXT NOT NULL,
       family_name TEXT NOT NULL, birth_date DATE, grade_level INTEGER, school_ref TEXT,
       modified_at TEXT, nickname TEXT)""",
    "CREATE TABLE {s}contacts (contact_id TEXT PRIMARY KEY, given TEXT, family TEXT, mail TEXT, "
    "mobile TEXT)",
    "CREATE TABLE {s}pupil_contacts (pupil_id INTEGER NOT NULL, contact_id TEXT NOT NULL, "
    "relation TEXT, PRIMARY KEY (pupil_id, contact_id))",
    "CREATE TABLE {s}chat_messages (id INTEGER PRIMARY KEY, pupil_ref INTEGER NOT NULL, "
    "body TEXT NOT NULL)",
    "CREATE TABLE {s}daily_attendance (att_id INTEGER PRIMARY KEY, pupil_ref INTEGER NOT NULL, "
    "att_date DATE NOT NULL, UNIQUE (pupil_ref, att_date))",
    "INSERT INTO {s}pupils VALUES (5, 'archived', NULL, 'Ana', 'Lopez', '2015-03-04', 3, 'sch1', "
    "NULL, 'Annie'), (6, 'active', NULL, 'Ana', 'Lopez', '2015-03-04', 4, 'sch1', NULL, NULL), "
    "(7, 'deleted', NULL, 'Old', 'Row', NULL, NULL, NULL, NULL, NULL), "
    "(8, 'archived', NULL, 'Ben', 'Ng', NULL, 0, NULL, NULL, NULL)",
    "INSERT INTO {s}contacts VALUES ('c2', 'Maria', 'Lopez', 'm@example.org', NULL), "
    "('c1', 'Jose', 'Lopez', NULL, '+15555550102')",
    "INSERT INTO {s}pupil_contacts VALUES (5, 'c2', 'Mother'), (5, 'c1', 'Father'), "
    "(6, 'c2', 'Mother')",
    "INSERT INTO {s}chat_messages VALUES (11, 5, 'hi'), (10, 5, 'hello'), (12, 6, 'yo')",
    "INSERT INTO {s}daily_attendance VALUES (1, 5, '2024-01-05'), (2, 6, '2024-01-05')",
]


def platform_mapping(schema: str | None = None) -> StorageMapping:
    mapping = StorageMapping.from_dict(tomllib.loads(PLATFORM_TOML))
    return mapping.with_schema(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageAdapter]:
    """An adapter on a platform's own tables (not the reference schema)."""
    if request.param == "sqlite":
        path = tmp_path / "platform.db"
        conn = sqlite3.connect(path)
        with conn:
            for statement in PLATFORM_DDL:
                conn.execute(statement.format(s=""))
        conn.close()
        storage = open_storage(str(path), mapping=platform_mapping())
        yield storage
        storage.close()
        return
    import sqlalchemy as sa  # noqa: PLC0415

    from merge_engine.storage._sqla import SQLAlchemyStorage  # noqa: PLC0415

    for engine, schema in pg_schema():
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            for statement in PLATFORM_DDL:
                conn.execute(sa.text(statement.format(s=f'"{schema}".')))
        storage = SQLAlchemyStorage(engine, mapping=platform_mapping(schema))
        yield storage
        storage.close()


def test_platform_tables_read_as_rosters(platform: StorageAdapter) -> None:
    archived = platform.read_roster("archived")
    assert [s.id for s in archived.students] == ["5", "8"]  # 'deleted' is on neither side
    ana = archived.students[0]
    assert (ana.first_name, ana.grade, ana.school_id, ana.email) == ("Ana", 3, "sch1", None)
    assert str(ana.dob) == "2015-03-04"
    assert [(c.guardian_id, c.relationship) for c in ana.contacts] == [
        ("c1", "Father"),  # no order column: guardian-id order
        ("c2", "Mother"),
    ]
    assert ana.contacts[1].email == "m@example.org"
    assert [s.id for s in platform.read_roster("synced").students] == ["6"]
    assert archived.staff == ()


def test_platform_tables_take_a_merge(platform: StorageAdapter) -> None:
    with platform.transaction() as tx:
        stored = tx.students(["5", "6"])
        assert stored["5"].archived and not stored["6"].archived
        rows = tx.history_rows("chat_messages", "5")
        assert [r.key for r in rows] == [(10,), (11,)]
        assert tx.move_rows("chat_messages", [r.key for r in rows], "6") == 2
        attendance = tx.history_rows("daily_attendance", "5")
        assert tx.remove_rows("daily_attendance", [r.key for r in attendance]) == 1
        tx.add_guardian_link(GuardianLink("6", "c1", "Father", order=5))  # no column: ignored
        tx.set_merged_into("5", "6")
        tx.write_journal(JournalEntry("p", "5", "6", {"chat_messages": ((10,), (11,))}, attendance))
    assert [s.id for s in platform.read_roster("archived").students] == ["8"]
    with platform.transaction() as tx:
        assert [r.key for r in tx.history_rows("chat_messages", "6")] == [(10,), (11,), (12,)]
        assert [link.guardian_id for link in tx.guardian_links("6")] == ["c1", "c2"]
        assert [link.order for link in tx.guardian_links("6")] == [None, None]
        assert tx.students(["5"])["5"].merged_into == "6"
        saved = tx.journal("p", "5")
        assert saved is not None
        tx.insert_rows(list(saved.set_aside))
        assert tx.history_rows("daily_attendance", "5") == attendance


def test_a_mapping_file_in_toml_or_json_gives_the_same_mapping(tmp_path: Path) -> None:
    toml = tmp_path / "mapping.toml"
    toml.write_text(PLATFORM_TOML, encoding="utf-8")
    from_toml = StorageMapping.from_file(toml)
    as_json = tmp_path / "mapping.json"
    as_json.write_text(json.dumps(from_toml.to_dict()), encoding="utf-8")
    assert StorageMapping.from_file(as_json) == from_toml == platform_mapping()
    assert from_toml.students.fields["middle_name"] is None
    assert from_toml.links.order is None
    assert from_toml.staff is None
    assert not from_toml.is_reference
    assert StorageMapping.from_dict(StorageMapping().to_dict()) == StorageMapping()
    assert StorageMapping().is_reference


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"student": {}}, "unknown key 'student'; allowed keys are students"),
        ({"students": {"tabel": "x"}}, "students: unknown key 'tabel'"),
        ({"students": {"fields": {"frist_name": "x"}}}, "students.fields: unknown key"),
        ({"students": {"fields": {"last_name": "ln"}}}, "students.fields.first_name: required"),
        ({"students": {"archived_value": 1, "active_value": 1}}, "must differ"),
        ({"students": {"archived_value": [1]}}, "students.archived_value"),
        ({"guardians": {"table": "students"}}, "named for two roles"),
        ({"history": {"name": "x"}}, "expected a list"),
        ({"history": [{"student_column": "x"}]}, "needs a name"),
        ({"history": [{"name": "a", "colour": 1}]}, r"history\[0\]: unknown key 'colour'"),
        ({"history": [{"name": "a"}, {"name": "A"}]}, "configured twice"),
        ({"history": [{"name": "a", "primary_key": []}]}, "at least one column"),
        ({"history": [{"name": "a", "unique": ["student_id"]}]}, "cannot be part"),
        ({"history": [{"name": "a", "survivor": "both"}]}, "survivor"),
        ({"schema": "public; DROP SCHEMA x"}, "schema: 'public; DROP SCHEMA x' is not an allowed"),
        ({"students": {"table": "pupils x"}}, "students.table"),
        ({"links": {"relationship": "rel--"}}, "links.relationship"),
        ({"journal_table": ""}, "journal_table"),
        ({"staff": {"fields": {"first_name": "f", "last_name": "l", "phone": "p h"}}}, "phone"),
    ],
)
def test_invalid_mappings_say_what_to_fix(data: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        StorageMapping.from_dict(data)


def test_mapping_file_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[students\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"broken\.toml: not valid TOML"):
        StorageMapping.from_file(broken)
    with pytest.raises(MappingError, match="cannot read"):
        StorageMapping.from_file(tmp_path / "missing.toml")
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"students": {"id": 5}}', encoding="utf-8")
    with pytest.raises(MappingError, match=r"wrong\.json: students\.id"):
        StorageMapping.from_file(wrong)


def test_sqlite_refuses_a_schema_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="no schemas"):
        open_storage(str(tmp_path / "x.db"), mapping=StorageMapping(schema="s"), create=True)
    with pytest.raises(StorageError, match="create=True"):
        open_storage(str(tmp_path / "missing.db"))


def test_a_mapping_naming_a_missing_table_is_refused(tmp_path: Path) -> None:
    open_storage(str(tmp_path / "x.db"), create=True).close()
    mapping = StorageMapping(students=StudentTable(table="pupils"))
    with pytest.raises(MappingError, match="table 'pupils' not found"):
        open_storage(str(tmp_path / "x.db"), mapping=mapping)
    history = StorageMapping(history=(HistoryTable("grades"),))
    with pytest.raises(MappingError, match="table 'grades' not found"):
        open_storage(str(tmp_path / "x.db"), mapping=history)


def test_a_foreign_table_in_the_journals_place_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    open_storage(str(path), create=True).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE other_journal (x TEXT)")
    conn.close()
    with pytest.raises(MappingError, match="'other_journal' has no column 'plan_fingerprint'"):
        open_storage(str(path), mapping=StorageMapping(journal_table="other_journal"))


def test_unreadable_stored_values_become_warnings_without_the_value(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    load_rosters(f"sqlite:///{path}", ARCHIVED, SYNCED)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE students SET dob = '2015-13-45', grade = 'third' WHERE id = 'a1'")
    conn.close()
    storage = open_storage(str(path))
    try:
        roster = storage.read_roster("archived")
    finally:
        storage.close()
    a1 = roster.students[0]
    assert (a1.dob, a1.grade) == (None, None)
    messages = [w.message for w in roster.warnings]
    assert messages == [
        "student a1: unreadable dob; ignored",
        "student a1: unreadable grade; ignored",
    ]
    assert not any("2015-13-45" in m or "third" in m for m in messages)
