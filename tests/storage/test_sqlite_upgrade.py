"""SQLite files made by the previous release, and mappings without the account parts.

The previous release's reference schema had no ``guardians.merged_into``
column and no ``guardian_messages`` or ``account_links`` table. Opening
such a file with the reference mapping adds them in place, in one
transaction, keeping every row; a platform's own tables are never changed,
and what its mapping names but lacks fails clearly when first needed.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from merge_engine.exceptions import MappingError, StorageError
from merge_engine.storage import (
    AccountLink,
    AccountTransaction,
    GuardianLink,
    HistoryRow,
    StorageMapping,
    StoredGuardian,
    load_history,
    load_rosters,
)
from merge_engine.storage._mapping import GuardianTable
from merge_engine.storage._sqlite import SQLiteStorage

from .support import ARCHIVED, ROWS, SYNCED, as_stored

#: The reference schema of the previous release, as its files hold it.
OLD_DDL = """
CREATE TABLE students (
    id TEXT PRIMARY KEY,
    archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    merged_into TEXT NULL REFERENCES students (id),
    first_name TEXT NOT NULL, middle_name TEXT, last_name TEXT NOT NULL, dob TEXT,
    grade INTEGER, gender TEXT, school_id TEXT, sis_id TEXT, state_id TEXT,
    student_number TEXT, email TEXT, street TEXT, city TEXT, state TEXT, zip TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE guardians (
    id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, email TEXT, phone TEXT, sis_id TEXT
);
CREATE TABLE student_guardians (
    student_id TEXT NOT NULL REFERENCES students (id),
    guardian_id TEXT NOT NULL REFERENCES guardians (id),
    relationship TEXT,
    contact_order INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (student_id, guardian_id)
) WITHOUT ROWID;
CREATE TABLE staff (
    id TEXT PRIMARY KEY, archived INTEGER NOT NULL DEFAULT 0, first_name TEXT NOT NULL,
    last_name TEXT NOT NULL, email TEXT, phone TEXT, school_id TEXT, sis_id TEXT
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, student_id TEXT NOT NULL REFERENCES students (id),
    sent_at TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, student_id TEXT NOT NULL REFERENCES students (id),
    created_at TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE attendance (
    id INTEGER PRIMARY KEY AUTOINCREMENT, student_id TEXT NOT NULL REFERENCES students (id),
    day TEXT NOT NULL, status TEXT NOT NULL, UNIQUE (student_id, day)
);
CREATE TABLE backpack_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT, student_id TEXT NOT NULL REFERENCES students (id),
    kind TEXT NOT NULL, title TEXT NOT NULL, added_at TEXT NOT NULL
);
INSERT INTO students (id, archived, first_name, last_name, grade)
    VALUES ('a1', 1, 'Ana', 'Lopez', 3), ('s1', 0, 'Ana', 'Lopez', 4);
INSERT INTO guardians VALUES ('g1', 'Maria', 'Lopez', NULL, NULL, NULL),
    ('g4', 'Rosa', 'Diaz', NULL, NULL, NULL);
INSERT INTO student_guardians VALUES ('a1', 'g1', 'Mother', 0), ('s1', 'g4', NULL, 0);
INSERT INTO staff (id, archived, first_name, last_name) VALUES ('t1', 1, 'Tom', 'Hart');
INSERT INTO messages VALUES (5, 'a1', '2024-01-05T08:00:00Z', 'kept');
"""
ADDED = ["guardians.merged_into", "account_links", "guardian_messages"]


def old_file(path: Path, extra: str = "") -> Path:
    """A file laid out as the previous release made it (plus ``extra`` DDL)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(OLD_DDL + extra)
    return path


def layout(path: Path) -> dict[str, Any]:
    """Tables and indexes (with the guardians' columns), read without the adapter."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        names = conn.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 1, 2"
        ).fetchall()
        guardians = [r[1] for r in conn.execute("PRAGMA table_info(guardians)")]
    return {"objects": names, "guardian_columns": guardians}


@contextlib.contextmanager
def opened(path: Path, **kw: Any) -> Iterator[SQLiteStorage]:
    storage = SQLiteStorage(path, **kw)
    try:
        yield storage
    finally:
        storage.close()


class TestUpgradeOnOpen:
    def test_an_old_file_gains_the_account_column_tables_and_indexes(self, tmp_path: Path) -> None:
        """Opening adds guardians.merged_into, both tables and their indexes."""
        path = old_file(tmp_path / "old.db")

        with opened(path):
            pass
        found = layout(path)

        assert found["guardian_columns"][-1] == "merged_into"
        for expected in [
            ("table", "account_links"),
            ("table", "guardian_messages"),
            ("index", "account_links_second"),
            ("index", "guardian_messages_guardian"),
        ]:
            assert expected in found["objects"]

    def test_every_row_survives_the_upgrade(self, tmp_path: Path) -> None:
        """Students, contacts, staff and history read back as they were stored."""
        path = old_file(tmp_path / "old.db")

        with opened(path) as storage:
            archived = storage.read_roster("archived")
            with storage.transaction() as tx:
                assert isinstance(tx, AccountTransaction)
                rows = tx.history_rows("messages", "a1")
                guardians = dict(tx.guardians(["g1", "g4"]))

        assert ["a1"] == [s.id for s in archived.students]
        assert [("g1", "Maria", "Mother")] == [
            (c.guardian_id, c.first_name, c.relationship) for c in archived.students[0].contacts
        ]
        assert ["t1"] == [m.id for m in archived.staff]
        assert [((5,), "kept")] == [(r.key, r.values["body"]) for r in rows]
        assert {"g1": StoredGuardian("g1"), "g4": StoredGuardian("g4")} == guardians

    def test_the_upgraded_file_takes_guardian_merges_and_account_links(
        self, tmp_path: Path
    ) -> None:
        """The new column and tables work, keep their constraints, and persist."""
        path = old_file(tmp_path / "old.db")
        link = AccountLink("staff_guardian", "t1", "g4", "merge")
        with opened(path) as storage, storage.transaction() as tx:
            assert isinstance(tx, AccountTransaction)
            tx.set_guardian_merged_into("g4", "g1")
            tx.add_account_link(link)
            values = {"id": 1, "guardian_id": "g4", "sent_at": "2024-01-05", "body": "hello"}
            tx.insert_rows([HistoryRow("guardian_messages", (1,), values)])
            assert tx.move_rows("guardian_messages", [(1,)], "g1") == 1

        with opened(path) as storage, storage.transaction() as tx:
            assert isinstance(tx, AccountTransaction)
            merged = tx.guardians(["g4"])["g4"].merged_into
            links = tx.account_links("g4")
            moved = [r.key for r in tx.history_rows("guardian_messages", "g1")]

        assert "g1" == merged
        assert [link] == links
        assert [(1,)] == moved

    def test_the_added_column_refers_to_guardians(self, tmp_path: Path) -> None:
        """The reference schema's foreign key comes with the column."""
        path = old_file(tmp_path / "old.db")
        with opened(path):
            pass

        with contextlib.closing(sqlite3.connect(path)) as conn:
            keys = conn.execute("PRAGMA foreign_key_list(guardians)").fetchall()

        assert [("guardians", "merged_into", "id")] == [(k[2], k[3], k[4]) for k in keys]

    def test_the_upgrade_is_logged_once_without_personal_data(self, tmp_path: Path) -> None:
        """One info event lists what was added; a second open changes and logs nothing."""
        path = old_file(tmp_path / "old.db")

        with structlog.testing.capture_logs() as first, opened(path):
            pass
        before = layout(path)
        with structlog.testing.capture_logs() as second, opened(path):
            pass

        upgrades = [e for e in first if e["event"] == "sqlite_schema_upgraded"]
        assert [{"event": "sqlite_schema_upgraded", "log_level": "info", "added": ADDED}] == [
            {k: e[k] for k in ("event", "log_level", "added")} for e in upgrades
        ]
        assert not any(w in str(upgrades) for w in ("Maria", "Lopez", "Tom", str(tmp_path)))
        assert [] == [e for e in second if e["event"] == "sqlite_schema_upgraded"]
        assert before == layout(path)

    def test_create_true_upgrades_an_old_file_too(self, tmp_path: Path) -> None:
        """Passing create=True to an existing old file upgrades it instead of failing."""
        path = old_file(tmp_path / "old.db")

        with opened(path, create=True) as storage, storage.transaction() as tx:
            assert isinstance(tx, AccountTransaction)
            tx.set_guardian_merged_into("g4", "g1")

        assert "merged_into" in layout(path)["guardian_columns"]

    def test_a_failed_upgrade_changes_nothing(self, tmp_path: Path) -> None:
        """All or nothing: when one statement fails, the column and tables are not added."""
        clash = "CREATE TABLE account_links_second (x TEXT);"  # takes the index's name
        path = old_file(tmp_path / "old.db", clash)
        before = layout(path)

        with pytest.raises(StorageError, match="account_links_second"):
            SQLiteStorage(path)

        assert before == layout(path)

    def test_a_fresh_reference_file_needs_no_upgrade(self, tmp_path: Path) -> None:
        """create=True on a new file makes the whole current schema; nothing is logged."""
        with structlog.testing.capture_logs() as logs, opened(tmp_path / "new.db", create=True):
            pass

        assert [] == [e for e in logs if e["event"] == "sqlite_schema_upgraded"]
        assert "merged_into" in layout(tmp_path / "new.db")["guardian_columns"]


NO_ACCOUNTS = StorageMapping(guardians=GuardianTable(merged_into=None), account_links=None)


class TestMappingsWithoutAccountParts:
    def test_a_non_reference_mapping_never_changes_an_old_file(self, tmp_path: Path) -> None:
        """Only the reference mapping upgrades; student work goes on without account parts."""
        path = old_file(tmp_path / "old.db")
        before = layout(path)["guardian_columns"]

        with opened(path, mapping=NO_ACCOUNTS) as storage:
            with storage.transaction() as tx:
                tx.set_merged_into("a1", "s1")
            archived = storage.read_roster("archived")

        assert before == layout(path)["guardian_columns"]
        assert ("table", "account_links") not in layout(path)["objects"]
        assert () == archived.students

    def test_unmapped_merged_into_reads_none_and_refuses_writes(self, tmp_path: Path) -> None:
        """guardians() gives merged_into=None; setting it asks to map the column."""
        path = old_file(tmp_path / "old.db")
        with opened(path, mapping=NO_ACCOUNTS) as storage, storage.transaction() as tx:
            assert isinstance(tx, AccountTransaction)
            found = tx.guardians(["g1", "nobody"])
            with pytest.raises(MappingError, match=r"map guardians\.merged_into"):
                tx.set_guardian_merged_into("g4", "g1")

        assert {"g1": StoredGuardian("g1")} == found

    def test_unmapped_account_links_read_empty_and_refuse_writes(self, tmp_path: Path) -> None:
        """account_links() gives []; adding or removing one asks to map account_links."""
        path = old_file(tmp_path / "old.db")
        link = AccountLink("staff_guardian", "t1", "g1")
        with opened(path, mapping=NO_ACCOUNTS) as storage, storage.transaction() as tx:
            assert isinstance(tx, AccountTransaction)
            found = tx.account_links("g1")
            for write in (tx.add_account_link, tx.remove_account_link):
                with pytest.raises(MappingError, match="map account_links"):
                    write(link)

        assert [] == found

    def test_mapped_but_missing_account_parts_fail_when_first_needed(self, tmp_path: Path) -> None:
        """A platform mapping naming absent account parts opens, then says what to fix."""
        path = old_file(tmp_path / "old.db")
        platform = StorageMapping.from_dict({"guardians": {"fields": {"first_name": "first_name"}}})
        with opened(path, mapping=platform) as storage, storage.transaction() as tx:
            assert isinstance(tx, AccountTransaction)
            assert [GuardianLink("a1", "g1", "Mother")] == tx.links_of_guardian("g1")
            with pytest.raises(MappingError, match=r"no column 'merged_into'.*merged_into = false"):
                tx.guardians(["g1"])
            with pytest.raises(MappingError, match="'account_links' not found"):
                tx.account_links("g1")
            with pytest.raises(MappingError, match=r"guardian_history = \[\]"):
                tx.history_rows("guardian_messages", "g1")

    def test_staff_links_need_a_staff_table(self, tmp_path: Path) -> None:
        """Without a mapped staff table a staff_guardian link is refused, naming why."""
        path = tmp_path / "x.db"
        with opened(path, create=True):
            pass
        with opened(path, mapping=StorageMapping(staff=None)) as storage:
            load_rosters(storage, ARCHIVED, SYNCED)
            with storage.transaction() as tx:
                assert isinstance(tx, AccountTransaction)
                with pytest.raises(StorageError, match="no staff table is mapped"):
                    tx.add_account_link(AccountLink("staff_guardian", "t1", "g1"))
                tx.add_account_link(AccountLink("guardian_guardian", "g1", "g4"))


def test_replace_empties_account_tables_and_guardian_merges(tmp_path: Path) -> None:
    """load_rosters(replace=True) leaves no guardian history, account link or merge mark."""
    with opened(tmp_path / "x.db", create=True) as storage:
        load_rosters(storage, ARCHIVED, SYNCED)
        load_history(storage, ROWS)
        with storage.transaction() as tx:
            assert isinstance(tx, AccountTransaction)
            tx.set_guardian_merged_into("g4", "g1")
            tx.add_account_link(AccountLink("staff_guardian", "t1", "g1"))

        load_rosters(storage, ARCHIVED, SYNCED, replace=True)
        state = storage.snapshot()
        archived = storage.read_roster("archived")

    assert [] == state["guardian_messages"]
    assert [] == state["account_links"]
    assert [None] * 4 == [g["merged_into"] for g in state["guardians"]]
    assert tuple(as_stored(s) for s in ARCHIVED.students) == archived.students


def test_an_audit_table_of_an_earlier_release_gains_its_index_on_archived_ids(
    tmp_path: Path,
) -> None:
    """Apply and undo read the audit by student (a batch at a time): the index is added."""
    earlier_audit = """
    CREATE TABLE merge_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL CHECK (action IN ('apply', 'undo')),
        plan_fingerprint TEXT NOT NULL, archived_id TEXT NOT NULL, synced_id TEXT NOT NULL,
        at TEXT NOT NULL, rows TEXT NOT NULL, note TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO merge_audit (action, plan_fingerprint, archived_id, synced_id, at, rows)
        VALUES ('apply', 'p1', 'a1', 's1', '2024-09-01T10:00:00Z', '{}');
    """
    path = old_file(tmp_path / "old.db", earlier_audit)

    with opened(path) as storage, storage.transaction() as tx:
        found = tx.audit_records_of(["a1", "a2"])

    assert ("index", "merge_audit_archived_id") in layout(path)["objects"]
    assert [("p1", "a1")] == [(r.plan_fingerprint, r.archived_id) for r in found]
