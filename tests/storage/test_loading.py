"""Loading rosters into the reference schema, and planning from a database.

The promise tested here: a roster loaded from CSV folders reads back from
any adapter exactly as it was read from the files, so a plan built from
the database equals the plan built from the folders (and the per-merge
hashes match when the plan is applied).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from merge_engine import build_plan, read_roster, write_roster
from merge_engine.exceptions import StorageError
from merge_engine.model import Contact, Roster, Student
from merge_engine.settings import Settings
from merge_engine.storage import (
    AuditRecord,
    HistoryTable,
    StorageAdapter,
    StorageMapping,
    load_history,
    load_rosters,
    open_storage,
)
from merge_engine.storage._loading import prepare_rosters
from merge_engine.storage._mapping import StudentTable
from merge_engine.testing.synthetic import generate_district

from .support import ARCHIVED, ROWS, SYNCED, as_stored, district_storage, empty_storage

FAST = Settings(random_pairs=30_000)


def csv_rosters(tmp_path: Path, n: int, seed: int, **kw: Any) -> tuple[Roster, Roster]:
    """A synthetic district written as native CSV folders and read back."""
    d = generate_district(n, seed=seed, **kw)
    write_roster(d.archived, tmp_path / "archived")
    write_roster(d.synced, tmp_path / "synced")
    return read_roster(tmp_path / "archived"), read_roster(tmp_path / "synced")


def plan_dict(archived: Roster, synced: Roster) -> dict[str, Any]:
    data = build_plan(archived, synced, FAST).to_dict()
    for side in ("archived", "synced"):
        del data["fingerprint"][f"{side}_source_format"]
    return data


@pytest.fixture
def empty(
    kind: str, tmp_path: Path, pg_if_needed: tuple[Any, str] | None
) -> Iterator[StorageAdapter]:
    """An empty reference-schema database of each adapter kind."""
    storage = empty_storage(kind, tmp_path, pg_if_needed)
    try:
        yield storage
    finally:
        storage.close()


@pytest.mark.parametrize("synced_dob", [True, False], ids=["dob", "no-dob"])
def test_plan_from_the_database_equals_plan_from_csv(
    empty: StorageAdapter, tmp_path: Path, synced_dob: bool
) -> None:
    archived, synced = csv_rosters(tmp_path, 400, seed=11, synced_dob=synced_dob)
    load_rosters(empty, archived, synced)
    from_db = (empty.read_roster("archived"), empty.read_roster("synced"))
    for given, read in zip((archived, synced), from_db, strict=True):
        assert read.students == tuple(sorted((as_stored(s) for s in given.students),
                                             key=lambda s: s.id))  # fmt: skip
        assert read.staff == tuple(sorted(given.staff, key=lambda m: m.id))
        assert read.has_dob_column == given.has_dob_column
    assert plan_dict(*from_db) == plan_dict(archived, synced)


def test_load_reports_counts(empty: StorageAdapter) -> None:
    report = load_rosters(empty, ARCHIVED, SYNCED)
    assert (report.archived_students, report.synced_students) == (3, 2)
    assert (report.guardians, report.links, report.staff) == (4, 5, 2)
    assert not report.replaced


def test_loading_into_a_non_empty_database_is_refused(empty: StorageAdapter) -> None:
    load_rosters(empty, ARCHIVED, SYNCED)
    with pytest.raises(StorageError, match="replace=True"):
        load_rosters(empty, ARCHIVED, SYNCED)
    assert len(empty.read_roster("archived")) == 3


def test_replace_empties_every_table_first(empty: StorageAdapter) -> None:
    load_rosters(empty, ARCHIVED, SYNCED)
    load_history(empty, ROWS)
    with empty.transaction() as tx:
        tx.set_merged_into("a1", "s1")
        tx.write_audit(AuditRecord("apply", "p", "a1", "s1", "2024-09-01T00:00:00Z", {}))
    smaller = Roster(ARCHIVED.students[1:])
    report = load_rosters(empty, smaller, SYNCED, replace=True)
    assert report.replaced
    assert [s.id for s in empty.read_roster("archived").students] == ["a2", "a3"]
    assert list(empty.audit_records()) == []
    with empty.transaction() as tx:
        assert tx.history_rows("messages", "s1") == []


def test_replace_is_refused_on_a_platform_mapping() -> None:
    assert StorageMapping(history=(HistoryTable("messages"),)).is_reference  # history may differ
    with pytest.raises(StorageError, match="reference schema"):
        load_rosters(FakePlatform(), ARCHIVED, SYNCED, replace=True)  # type: ignore[arg-type]


class FakePlatform:
    """Stands for an adapter on a platform's own tables (only ``mapping`` is looked at)."""

    mapping = StorageMapping(students=StudentTable(table="pupils"))

    def load_prepared(self, data: object, *, replace: bool) -> None:
        raise AssertionError("must not be reached")


def test_load_from_a_url_creates_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    load_rosters(url, ARCHIVED, SYNCED)
    storage = open_storage(url)
    try:
        assert len(storage.read_roster("synced")) == 2
    finally:
        storage.close()


def test_ids_must_be_unique_across_both_sides() -> None:
    clash = Roster([Student("a1", "Other", "Child")])
    with pytest.raises(StorageError, match="'a1'"):
        prepare_rosters(ARCHIVED, clash)


def test_one_guardian_account_has_one_set_of_details() -> None:
    other = Student("s9", "Eve", "Lopez", contacts=(Contact("g1", "Maria", "Lopez", "new@x.org"),))
    with pytest.raises(StorageError, match="'g1'") as info:
        prepare_rosters(ARCHIVED, Roster([other]))
    assert "Maria" not in str(info.value) and "new@x.org" not in str(info.value)  # no PII


def test_a_guardian_listed_twice_for_one_student_is_refused() -> None:
    twice = Student("s9", "Eve", "Lopez", contacts=(Contact("g7"), Contact("g7")))
    with pytest.raises(StorageError, match="twice"):
        prepare_rosters(Roster([]), Roster([twice]))


def test_history_rows_must_name_a_configured_table_and_their_key(tmp_path: Path) -> None:
    storage = district_storage("sqlite", tmp_path, None)
    try:
        with pytest.raises(StorageError, match="grades"):
            load_history(storage, {"grades": [{"id": 1}]})
        with pytest.raises(StorageError, match="'id'"):
            load_history(storage, {"notes": [{"student_id": "a1", "body": "x"}]})
    finally:
        storage.close()
