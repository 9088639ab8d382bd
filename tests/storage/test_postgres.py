"""What only the SQLAlchemy/PostgreSQL adapter does: locks, retryable conflicts, the
reference schema on PostgreSQL (and bringing an earlier release's up to date), account
tables on renamed platform tables, lazy imports, and the skip-or-fail rule of the test suite."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from merge_engine.exceptions import (
    MappingError,
    MissingDependencyError,
    StorageError,
    TransientConflict,
)
from merge_engine.storage import (
    AccountLink,
    GuardianLink,
    HistoryRow,
    InMemoryStorage,
    StorageMapping,
    StoredGuardian,
    load_rosters,
    open_storage,
)
from merge_engine.storage._mapping import GuardianTable
from merge_engine.storage._schema import SQLITE_REFERENCE_DDL
from merge_engine.storage._sqlite import SQLiteStorage

from . import support
from .support import ARCHIVED, PG_URL, SYNCED, district_storage

sa = pytest.importorskip("sqlalchemy")
sqla = pytest.importorskip("merge_engine.storage._sqla")

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


# -- Guardian accounts on PostgreSQL: locks, partial mappings, renamed tables ----------------------


@pytest.mark.postgres
def test_guardians_locks_the_rows_it_returns(pg_storage: Any, pg: tuple[Any, str]) -> None:
    engine, schema = pg
    lock = sa.text(f'SELECT id FROM "{schema}".guardians WHERE id = :id FOR UPDATE NOWAIT')
    with pg_storage.transaction() as tx:
        tx.guardians(["g1", "nobody"])
        with engine.connect() as other:
            with pytest.raises(sa.exc.OperationalError, match="could not obtain lock"):
                other.execute(lock, {"id": "g1"})
            other.rollback()
            assert other.execute(lock, {"id": "g4"}).scalar() == "g4"  # not locked
            other.rollback()


@pytest.mark.postgres
def test_unmapped_merge_column_and_link_table_say_what_to_map(
    pg_storage: Any, pg: tuple[Any, str]
) -> None:
    engine, schema = pg
    partial = StorageMapping(
        guardians=GuardianTable(merged_into=None),
        account_links=None,
        guardian_history=(),
        schema=schema,
    )
    storage = sqla.SQLAlchemyStorage(engine, mapping=partial)
    link = AccountLink("guardian_guardian", "g1", "g4")
    with storage.transaction() as tx:
        assert tx.guardians(["g1", "g4"]) == {
            "g1": StoredGuardian("g1"),
            "g4": StoredGuardian("g4"),
        }
        assert tx.account_links("g1") == []
        assert tx.guardian_history_tables() == ()
        with pytest.raises(MappingError, match=r"map guardians\.merged_into"):
            tx.set_guardian_merged_into("g4", "g1")
        with pytest.raises(MappingError, match="map account_links"):
            tx.add_account_link(link)
        with pytest.raises(MappingError, match="map account_links"):
            tx.remove_account_link(link)
        with pytest.raises(MappingError, match="guardian_messages"):
            tx.history_rows("guardian_messages", "g1")


@pytest.mark.postgres
def test_a_staff_guardian_link_needs_a_staff_table(pg_storage: Any, pg: tuple[Any, str]) -> None:
    engine, schema = pg
    storage = sqla.SQLAlchemyStorage(engine, mapping=StorageMapping(staff=None, schema=schema))
    with pytest.raises(StorageError, match="no staff table is mapped"), storage.transaction() as tx:
        tx.add_account_link(AccountLink("staff_guardian", "t1", "g1"))
    with storage.transaction() as tx:
        tx.add_account_link(AccountLink("guardian_guardian", "g1", "g4"))
        assert tx.account_links("g4") == [AccountLink("guardian_guardian", "g1", "g4")]


@pytest.mark.postgres
def test_replace_also_empties_account_state(pg_storage: Any) -> None:
    with pg_storage.transaction() as tx:
        tx.set_guardian_merged_into("g4", "g1")
        tx.add_account_link(AccountLink("staff_guardian", "t1", "g1", "merge"))
    snapshot = pg_storage.snapshot()
    assert snapshot["account_links"] == [
        {"kind": "staff_guardian", "first_id": "t1", "second_id": "g1", "mode": "merge"}
    ]
    assert [g["merged_into"] for g in snapshot["guardians"]] == [None, None, None, "g1"]
    assert [m["body"] for m in snapshot["guardian_messages"]] == ["old account", "new account"]
    load_rosters(pg_storage, ARCHIVED, SYNCED, replace=True)
    snapshot = pg_storage.snapshot()
    assert snapshot["account_links"] == snapshot["guardian_messages"] == []
    assert [g["merged_into"] for g in snapshot["guardians"]] == [None, None, None, None]


def _previous_release(engine: Any, schema: str) -> Any:
    """The reference schema as the release before guardian merges made it, with a district."""
    storage = sqla.SQLAlchemyStorage(engine, mapping=StorageMapping(schema=schema), create=True)
    load_rosters(storage, ARCHIVED, SYNCED)
    roster = storage.read_roster("archived")
    storage.close()
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP TABLE "{schema}".account_links, "{schema}".guardian_messages'))
        conn.execute(sa.text(f'ALTER TABLE "{schema}".guardians DROP COLUMN merged_into'))
    return roster


def _statements_in(message: str) -> list[str]:
    """The SQL an upgrade error lists (between "add what is missing with:" and "; or,")."""
    listed = message.split("add what is missing with: ", 1)[1].split("; or, ", 1)[0]
    return listed.split("; ")


@pytest.mark.postgres
def test_a_previous_release_database_is_told_exactly_what_to_add(pg: tuple[Any, str]) -> None:
    engine, schema = pg
    roster = _previous_release(engine, schema)
    mapping = StorageMapping(schema=schema)
    with pytest.raises(MappingError, match="table 'account_links' not found") as raised:
        sqla.SQLAlchemyStorage(engine, mapping=mapping)
    message = str(raised.value)
    for needed in ("guardian_messages", "column guardians.merged_into", "create=True"):
        assert needed in message
    for opt_out in ("account_links = false", "guardians.merged_into = false"):
        assert opt_out in message
    statements = _statements_in(message)
    assert [s.split(" (")[0] for s in statements] == [
        f"CREATE TABLE {schema}.account_links",
        f"CREATE INDEX account_links_second ON {schema}.account_links",
        f"CREATE TABLE {schema}.guardian_messages",
        f"CREATE INDEX guardian_messages_guardian ON {schema}.guardian_messages",
        f"ALTER TABLE {schema}.guardians ADD COLUMN merged_into TEXT REFERENCES {schema}.guardians",
    ]
    with engine.begin() as conn:  # running exactly what the error says is enough
        for statement in statements:
            conn.execute(sa.text(statement))
    storage = sqla.SQLAlchemyStorage(engine, mapping=mapping)
    assert storage.read_roster("archived") == roster
    with storage.transaction() as tx:
        tx.set_guardian_merged_into("g4", "g1")
        tx.add_account_link(AccountLink("staff_guardian", "t1", "g1"))
        tx.insert_rows([HistoryRow("guardian_messages", (1,), {"id": 1, **_MESSAGE})])


_MESSAGE = {"guardian_id": "g4", "sent_at": "2024-01-05T08:00:00+00:00", "body": "hi"}


@pytest.mark.postgres
def test_only_a_missing_merge_column_is_named_alone(pg: tuple[Any, str]) -> None:
    engine, schema = pg
    _previous_release(engine, schema)
    mapping = StorageMapping(schema=schema, account_links=None, guardian_history=())
    with pytest.raises(MappingError, match="has no column 'merged_into'") as raised:
        sqla.SQLAlchemyStorage(engine, mapping=mapping)
    assert _statements_in(str(raised.value)) == [
        f"ALTER TABLE {schema}.guardians ADD COLUMN merged_into TEXT REFERENCES "
        f"{schema}.guardians (id)"
    ]


@pytest.mark.postgres
def test_create_brings_a_previous_release_database_up_to_date(pg: tuple[Any, str]) -> None:
    engine, schema = pg
    roster = _previous_release(engine, schema)
    storage = sqla.SQLAlchemyStorage(engine, mapping=StorageMapping(schema=schema), create=True)
    sqla.SQLAlchemyStorage(engine, mapping=StorageMapping(schema=schema), create=True)  # again
    assert storage.read_roster("archived") == roster
    with storage.transaction() as tx:
        assert tx.guardians(["g4"]) == {"g4": StoredGuardian("g4")}
        tx.set_guardian_merged_into("g4", "g1")
        tx.add_account_link(AccountLink("guardian_guardian", "g1", "g4", "merge"))
        tx.insert_rows([HistoryRow("guardian_messages", (1,), {"id": 1, **_MESSAGE})])
    with storage.transaction() as tx:
        assert tx.guardians(["g4"])["g4"].merged_into == "g1"
        assert tx.move_rows("guardian_messages", [(1,)], "g1") == 1
    inspector = sa.inspect(engine)
    foreign = inspector.get_foreign_keys("guardians", schema=schema)
    assert [(f["constrained_columns"], f["referred_table"]) for f in foreign] == [
        (["merged_into"], "guardians")
    ]
    indexes = inspector.get_indexes("guardians", schema=schema)
    assert [i["column_names"] for i in indexes] == [["merged_into"]]


PLATFORM_DDL = [
    "CREATE TABLE {s}pupils (pupil_id INTEGER PRIMARY KEY, status TEXT NOT NULL, "
    "merged_into_pupil INTEGER, given_name TEXT NOT NULL, family_name TEXT NOT NULL)",
    "CREATE TABLE {s}contacts (contact_id INTEGER PRIMARY KEY, given TEXT, family TEXT, "
    "merged_to INTEGER REFERENCES {s}contacts (contact_id))",
    "CREATE TABLE {s}pupil_contacts (pupil_id INTEGER NOT NULL, contact_id INTEGER NOT NULL, "
    "relation TEXT, PRIMARY KEY (pupil_id, contact_id))",
    "CREATE TABLE {s}contact_msgs (msg_id INTEGER PRIMARY KEY, contact_ref INTEGER NOT NULL, "
    "body TEXT NOT NULL)",
    "INSERT INTO {s}pupils VALUES (5, 'archived', NULL, 'Ana', 'Lopez'), "
    "(10, 'active', NULL, 'Ana', 'Lopez'), (9, 'active', NULL, 'Ben', 'Ng')",
    "INSERT INTO {s}contacts VALUES (1, 'Maria', 'Lopez', NULL), (2, 'Maria', 'Lopez', NULL)",
    "INSERT INTO {s}pupil_contacts VALUES (10, 1, 'Mother'), (9, 1, NULL), (5, 2, 'Mother')",
    "INSERT INTO {s}contact_msgs VALUES (7, 2, 'old'), (8, 1, 'new')",
]


def _platform_mapping(schema: str) -> StorageMapping:
    return StorageMapping.from_dict(
        {
            "students": {
                "table": "pupils",
                "id": "pupil_id",
                "archived_column": "status",
                "archived_value": "archived",
                "active_value": "active",
                "merged_into": "merged_into_pupil",
                "updated_at": False,
                "fields": {"first_name": "given_name", "last_name": "family_name"},
            },
            "guardians": {
                "table": "contacts",
                "id": "contact_id",
                "merged_into": "merged_to",
                "fields": {"first_name": "given", "last_name": "family"},
            },
            "links": {
                "table": "pupil_contacts",
                "student_id": "pupil_id",
                "guardian_id": "contact_id",
                "relationship": "relation",
                "order": False,
            },
            "staff": False,
            "history": [],
            "guardian_history": [
                {"name": "contact_msgs", "student_column": "contact_ref", "primary_key": "msg_id"}
            ],
            "account_links": {
                "table": "dual_roles",
                "kind": "role_kind",
                "first_id": "a_id",
                "second_id": "b_id",
                "mode": "how",
            },
            "schema": schema,
        }
    )


@pytest.mark.postgres
def test_renamed_account_tables_with_integer_ids(pg: tuple[Any, str]) -> None:
    engine, schema = pg
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        for statement in PLATFORM_DDL:
            conn.execute(sa.text(statement.format(s=f'"{schema}".')))
    mapping = _platform_mapping(schema)
    lacking = sqla.SQLAlchemyStorage(engine, mapping=mapping, create=True)  # create: reference only
    assert [s.id for s in lacking.read_roster("synced").students] == ["9", "10"]
    missing_links = pytest.raises(MappingError, match="table 'dual_roles' not found")
    with missing_links as raised, lacking.transaction() as tx:
        tx.set_merged_into("5", "10")  # student merges work without the link table
        tx.links_of_guardian("1")
        tx.account_links("1")
    message = str(raised.value)
    assert "create=True" not in message and "account_links = false" in message
    assert [s.id for s in lacking.read_roster("archived").students] == ["5"]  # rolled back
    with engine.begin() as conn:
        for statement in _statements_in(message):
            conn.execute(sa.text(statement))
    storage = sqla.SQLAlchemyStorage(engine, mapping=mapping)
    merge = AccountLink("guardian_guardian", "1", "2", "merge")
    with storage.transaction() as tx:
        assert tx.guardians(["2", "1", "x", "99"]) == {
            "1": StoredGuardian("1"),
            "2": StoredGuardian("2"),
        }
        assert tx.links_of_guardian("1") == [  # in student-id order, as text
            GuardianLink("10", "1", "Mother"),
            GuardianLink("9", "1", None),
        ]
        assert tx.links_of_guardian("x") == []
        tx.set_guardian_merged_into("2", "1")
        with pytest.raises(StorageError, match="no guardian with id 'x'"):
            tx.set_guardian_merged_into("2", "x")
        assert [r.key for r in tx.history_rows("contact_msgs", "2")] == [(7,)]
        assert tx.move_rows("contact_msgs", [(7,)], "1") == 1
        tx.add_account_link(merge)
        assert tx.account_links("2") == tx.account_links("1") == [merge]
        assert tx.account_links("x") == []
    unknown_guardian: list[Callable[[Any], object]] = [
        lambda tx: tx.move_rows("contact_msgs", [(8,)], "99"),
        lambda tx: tx.move_rows_many("contact_msgs", [([(8,)], "99")]),
        lambda tx: tx.add_account_link(AccountLink("guardian_guardian", "1", "99")),
    ]
    for failing in unknown_guardian:
        with pytest.raises(StorageError, match="no guardian"), storage.transaction() as tx:
            failing(tx)
    with pytest.raises(StorageError, match="already linked"), storage.transaction() as tx:
        tx.add_account_link(AccountLink("guardian_guardian", "1", "2"))
    with storage.transaction() as tx:
        assert tx.guardians(["2"])["2"].merged_into == "1"
        tx.remove_account_link(merge)
        tx.remove_account_link(AccountLink("guardian_guardian", "x", "2"))  # cannot exist
        tx.set_guardian_merged_into("2", None)
    with engine.connect() as conn:
        assert conn.execute(sa.text(f'SELECT count(*) FROM "{schema}".dual_roles')).scalar() == 0
        merged = conn.execute(sa.text(f'SELECT merged_to FROM "{schema}".contacts')).all()
        assert merged == [(None,), (None,)]


@pytest.mark.postgres
def test_a_platform_lacking_account_parts_fails_only_where_they_are_needed(
    pg: tuple[Any, str],
) -> None:
    engine, schema = pg
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        for statement in PLATFORM_DDL:
            conn.execute(sa.text(statement.format(s=f'"{schema}".')))
        conn.execute(sa.text(f'ALTER TABLE "{schema}".contacts DROP COLUMN merged_to'))
        conn.execute(sa.text(f'DROP TABLE "{schema}".contact_msgs'))
    storage = sqla.SQLAlchemyStorage(engine, mapping=_platform_mapping(schema))
    with storage.transaction() as tx:
        assert tx.links_of_guardian("2") == [GuardianLink("5", "2", "Mother")]
        assert [t.name for t in tx.guardian_history_tables()] == ["contact_msgs"]
        expected = {
            "guardians": ("has no column 'merged_to'", "ADD COLUMN merged_to INTEGER REFERENCES"),
            "merge": ("has no column 'merged_to'", "guardians.merged_into = false"),
            "history": ("table 'contact_msgs' not found", "a table contact_msgs with primary"),
        }
        calls: dict[str, Callable[[], object]] = {
            "guardians": lambda: tx.guardians(["1"]),
            "merge": lambda: tx.set_guardian_merged_into("2", "1"),
            "history": lambda: tx.history_rows("contact_msgs", "1"),
        }
        for name, call in calls.items():
            with pytest.raises(MappingError) as raised:
                call()
            for part in expected[name]:
                assert part in str(raised.value), name


@pytest.mark.postgres
def test_create_adds_the_merge_column_index_a_previous_release_lacked(
    pg: tuple[Any, str],
) -> None:
    """A schema made before ``guardians.merged_into`` was indexed gets the index on the next
    ``create=True``: deleting a guardian checks that column (it references the table)."""
    engine, schema = pg
    sqla.SQLAlchemyStorage(engine, mapping=StorageMapping(schema=schema), create=True).close()
    (index,) = sa.inspect(engine).get_indexes("guardians", schema=schema)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP INDEX "{schema}"."{index["name"]}"'))
    assert sa.inspect(engine).get_indexes("guardians", schema=schema) == []

    sqla.SQLAlchemyStorage(engine, mapping=StorageMapping(schema=schema), create=True).close()

    indexes = sa.inspect(engine).get_indexes("guardians", schema=schema)
    assert [i["column_names"] for i in indexes] == [["merged_into"]]
