"""The student part of the contract: what the engine relies on to apply and undo merges.

What rosters read back, what ``students()`` returns, how history rows move
and come back, guardian links, the journal and audit, and that a
transaction is all or nothing (see :mod:`.contract`).
"""

from __future__ import annotations

from typing import Any, cast

import attrs
import pytest

from ..exceptions import MappingError, StorageError
from ..planning._planner import student_hash
from ..storage import (
    AuditRecord,
    Capability,
    GuardianLink,
    HistoryRow,
    HistoryTable,
    JournalEntry,
    StorageAdapter,
    Transaction,
    capabilities_of,
)
from ..storage._base import (
    BULK_READS,
    BULK_WRITES,
    AuditLookup,
    RosterLookup,
    Side,
    StudentCounts,
)
from ._contract_base import A1, ARCHIVED, FATHER, S1, SYNCED, ContractBase, text

__all__ = ["StudentContract"]

IDS = ["a1", "a2", "a3", "s1", "s2", "nobody"]


def keys(rows: list[HistoryRow]) -> list[tuple[Any, ...]]:
    return [row.key for row in rows]


def entry(moved: dict[str, tuple[tuple[Any, ...], ...]], **kw: Any) -> JournalEntry:
    return JournalEntry("plan-1", "a1", "s1", moved, **kw)


def _many_writes(tx: Transaction) -> None:
    tx.move_rows("messages", [(1,), (3,)], "s1")
    tx.remove_rows("attendance", [(1,)])
    tx.insert_rows([HistoryRow("notes", (9,), {"id": 9, "student_id": "a1",
                                               "created_at": "2024-02-01T00:00:00+00:00",
                                               "body": "new"})])  # fmt: skip
    tx.add_guardian_link(GuardianLink("s1", "g2", "Father"))
    tx.remove_guardian_link(GuardianLink("a1", "g1"))
    tx.set_merged_into("a1", "s1")
    tx.write_journal(entry({"messages": ((1,), (3,))}))
    tx.write_audit(AuditRecord("apply", "plan-1", "a1", "s1", "2024-09-01T10:00:00Z", {}))


class StudentContract(ContractBase):
    """The tests every adapter passes."""

    def test_adapters_satisfy_the_protocols(self, storage: StorageAdapter) -> None:
        assert isinstance(storage, StorageAdapter)
        with storage.transaction() as tx:
            assert isinstance(tx, Transaction)

    def test_read_roster_archived_gives_back_what_was_loaded(self, storage: StorageAdapter) -> None:
        roster = storage.read_roster("archived")
        assert roster.students == tuple(self.stored(s) for s in ARCHIVED.students)
        assert [c.guardian_id for c in roster.students[0].contacts] == ["g2", "g1"]  # load order
        assert roster.staff == self.staff(ARCHIVED)
        assert roster.has_dob_column
        assert [student_hash(s) for s in roster.students] == [
            student_hash(self.stored(s)) for s in ARCHIVED.students
        ]

    def test_read_roster_synced_gives_back_what_was_loaded(self, storage: StorageAdapter) -> None:
        roster = storage.read_roster("synced")
        assert roster.students == tuple(self.stored(s) for s in SYNCED.students)
        assert roster.staff == self.staff(SYNCED)

    def test_read_roster_rejects_an_unknown_side(self, storage: StorageAdapter) -> None:
        with pytest.raises(ValueError, match="side"):
            storage.read_roster("both")  # type: ignore[arg-type]

    def test_students_returns_stored_state_of_known_ids(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            got = tx.students(["s1", "a1", "nobody", "a1"])
        assert list(got) == ["a1", "s1"]
        assert got["a1"].archived and not got["s1"].archived
        assert got["a1"].merged_into is None
        assert got["a1"].student == self.stored(A1)
        assert got["s1"].student == self.stored(S1)

    def test_set_merged_into_hides_the_archived_student_and_clearing_restores_it(
        self,
        storage: StorageAdapter,
    ) -> None:
        with storage.transaction() as tx:
            tx.set_merged_into("a1", "s1")
        assert [s.id for s in storage.read_roster("archived").students] == ["a2", "a3"]
        assert [s.id for s in storage.read_roster("synced").students] == ["s1", "s2"]
        with storage.transaction() as tx:
            assert tx.students(["a1"])["a1"].merged_into == "s1"
            tx.set_merged_into("a1", None)
        assert [s.id for s in storage.read_roster("archived").students] == ["a1", "a2", "a3"]

    @pytest.mark.parametrize(("archived", "synced"), [("nobody", "s1"), ("a1", "nobody")])
    def test_set_merged_into_unknown_students_raise(
        self, storage: StorageAdapter, archived: str, synced: str
    ) -> None:
        with pytest.raises(StorageError, match="nobody"), storage.transaction() as tx:
            tx.set_merged_into(archived, synced)

    def test_history_tables_are_the_configured_ones(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            tables = list(tx.history_tables())
        assert [t.name for t in tables] == ["messages", "notes", "attendance", "backpack_items"]
        assert tables[2] == HistoryTable("attendance", unique=("day",))

    def test_history_rows_are_ordered_by_primary_key(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            rows = tx.history_rows("messages", "a1")
            assert tx.history_rows("messages", "nobody") == []
            with pytest.raises(MappingError, match="grades"):
                tx.history_rows("grades", "a1")
        assert keys(rows) == [(1,), (3,), (7,)]
        assert [r.values["body"] for r in rows] == ["first", "second", "third"]
        assert {r.values["student_id"] for r in rows} == {"a1"}
        assert {r.table for r in rows} == {"messages"}
        assert set(rows[0].values) == {"id", "student_id", "sent_at", "body"}

    def test_move_rows_points_rows_at_the_new_student(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            assert tx.move_rows("messages", [(1,), (3,), (99,)], "s1") == 2
            assert tx.move_rows("messages", [], "s1") == 0
            assert keys(tx.history_rows("messages", "s1")) == [(1,), (2,), (3,)]
            assert keys(tx.history_rows("messages", "a1")) == [(7,)]
        with storage.transaction() as tx:  # committed
            assert keys(tx.history_rows("messages", "a1")) == [(7,)]

    def test_move_rows_to_an_unknown_student_raises(self, storage: StorageAdapter) -> None:
        with pytest.raises(StorageError, match="nobody"), storage.transaction() as tx:
            tx.move_rows("messages", [(1,)], "nobody")

    def test_move_rows_onto_a_unique_collision_raises_and_rolls_back(
        self, storage: StorageAdapter
    ) -> None:
        before = self.state(storage)
        with pytest.raises(StorageError), storage.transaction() as tx:
            tx.move_rows("messages", [(1,)], "s1")
            tx.move_rows("attendance", [(1,)], "s1")  # s1 already has 2024-01-05
        assert self.state(storage) == before

    def test_remove_then_insert_round_trips_rows_exactly(self, storage: StorageAdapter) -> None:
        tables = ("messages", "attendance", "backpack_items")
        with storage.transaction() as tx:
            original = {t: tx.history_rows(t, "a1") for t in tables}
            for t in tables:
                assert tx.remove_rows(t, [*keys(original[t]), (99,)]) == len(original[t])
                assert tx.history_rows(t, "a1") == []
            assert tx.remove_rows("messages", []) == 0
        with storage.transaction() as tx:
            tx.insert_rows([row for t in tables for row in original[t]])
            assert {t: tx.history_rows(t, "a1") for t in tables} == original

    def test_rows_set_aside_in_the_journal_come_back_exactly(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            rows = tx.history_rows("messages", "a1") + tx.history_rows("attendance", "a1")
            tx.write_journal(entry({}, set_aside=rows))
            tx.remove_rows("messages", keys(rows[:3]))
            tx.remove_rows("attendance", keys(rows[3:]))
        with storage.transaction() as tx:
            saved = tx.journal("plan-1", "a1")
            assert saved is not None
            tx.insert_rows(list(saved.set_aside))
            assert tx.history_rows("messages", "a1") + tx.history_rows("attendance", "a1") == rows

    def test_inserting_an_existing_key_raises(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            row = tx.history_rows("messages", "a1")[0]
        with pytest.raises(StorageError), storage.transaction() as tx:
            tx.insert_rows([row])

    def test_hostile_column_names_in_rows_are_refused(self, storage: StorageAdapter) -> None:
        bad = HistoryRow("messages", (50,), {"id": 50, 'body"; DROP TABLE students; --': "x"})
        with pytest.raises(MappingError), storage.transaction() as tx:
            tx.insert_rows([bad])
        assert len(storage.read_roster("archived").students) == 3

    def test_guardian_links_add_and_remove(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            assert tx.guardian_links("a1") == [
                GuardianLink("a1", "g1", "Mother"),
                GuardianLink("a1", "g2", "Father"),
            ]
            tx.add_guardian_link(GuardianLink("s1", "g2", "Father"))
            assert [link.guardian_id for link in tx.guardian_links("s1")] == ["g1", "g2", "g4"]
            contacts = tx.students(["s1"])["s1"].student.contacts
            assert [c.guardian_id for c in contacts] == ["g4", "g1", "g2"]  # added ones go last
            assert contacts[2] == self.stored(attrs.evolve(FATHER, relationship="Father"))
        with storage.transaction() as tx:
            tx.remove_guardian_link(GuardianLink("s1", "g2"))
            tx.remove_guardian_link(GuardianLink("s1", "g2"))  # already gone: nothing happens
            assert [link.guardian_id for link in tx.guardian_links("s1")] == ["g1", "g4"]
            assert tx.guardian_links("nobody") == []

    @pytest.mark.parametrize(
        ("link", "message"),
        [
            (GuardianLink("s1", "g1", "Mother"), "already linked"),
            (GuardianLink("s1", "g99"), "no guardian"),
            (GuardianLink("nobody", "g1"), "no student"),
        ],
    )
    def test_add_guardian_link_refuses_bad_links(
        self, storage: StorageAdapter, link: GuardianLink, message: str
    ) -> None:
        before = self.state(storage)
        with pytest.raises(StorageError, match=message), storage.transaction() as tx:
            tx.add_guardian_link(link)
        assert self.state(storage) == before

    def test_journal_write_replace_read(self, storage: StorageAdapter) -> None:
        first = entry({"messages": ((1,), (3,))}, links_added=[GuardianLink("s1", "g2", "Father")])
        second = entry({"messages": ((7,),)}, undone=True)
        other = JournalEntry("plan-2", "a1", "s2", {})
        with storage.transaction() as tx:
            assert tx.journal("plan-1", "a1") is None
            tx.write_journal(first)
            assert tx.journal("plan-1", "a1") == first
        with storage.transaction() as tx:
            tx.write_journal(second)
            tx.write_journal(other)
        with storage.transaction() as tx:
            assert tx.journal("plan-1", "a1") == second
            assert tx.journal("plan-2", "a1") == other
            assert tx.journal("plan-1", "a2") is None

    def test_audit_records_append_in_order(self, storage: StorageAdapter) -> None:
        records = [
            AuditRecord("apply", "plan-1", "a1", "s1", "2024-09-01T10:00:00Z", {"messages": 2}),
            AuditRecord("undo", "plan-1", "a1", "s1", "2024-09-02T10:00:00Z", {}, note="typo"),
        ]
        assert list(storage.audit_records()) == []
        with storage.transaction() as tx:
            tx.write_audit(records[0])
        with storage.transaction() as tx:
            tx.write_audit(records[1])
        assert list(storage.audit_records()) == records

    def test_audit_records_of_some_students_come_in_log_order(
        self, storage: StorageAdapter
    ) -> None:
        """``Capability.AUDIT_LOOKUP``: the records of the given students, oldest first."""
        records = [
            AuditRecord("apply", "plan-1", "a1", "s1", "2024-09-01T10:00:00Z", {"messages": 2}),
            AuditRecord("apply", "plan-1", "a2", "s2", "2024-09-01T10:00:01Z", {}),
            AuditRecord("undo", "plan-1", "a1", "s1", "2024-09-02T10:00:00Z", {}, note="n"),
            AuditRecord("apply", "plan-2", "a1", "s2", "2024-09-03T10:00:00Z", {"notes": 1}),
        ]
        with storage.transaction() as tx:
            if Capability.AUDIT_LOOKUP not in capabilities_of(tx):
                pytest.skip("the adapter does not declare Capability.AUDIT_LOOKUP")
            for record in records[:2]:
                tx.write_audit(record)
        with storage.transaction() as tx:
            for record in records[2:]:
                tx.write_audit(record)
        with storage.transaction() as tx:
            lookup = cast(AuditLookup, tx)
            of_a1 = list(lookup.audit_records_of(["a1", "nobody"]))
            of_both = list(lookup.audit_records_of(["a2", "a1", "a2"]))
            of_none = list(lookup.audit_records_of([]))
        assert [records[0], records[2], records[3]] == of_a1
        assert records == of_both == list(storage.audit_records())
        assert of_none == []

    def test_count_students_counts_what_read_roster_reads(self, storage: StorageAdapter) -> None:
        """``Capability.STUDENT_COUNTS``: a roster's size without reading it."""
        if Capability.STUDENT_COUNTS not in capabilities_of(storage):
            pytest.skip("the adapter does not declare Capability.STUDENT_COUNTS")
        counts = cast(StudentCounts, storage)
        sides: tuple[Side, Side] = ("archived", "synced")
        before = [counts.count_students(side) for side in sides]
        with storage.transaction() as tx:
            tx.set_merged_into("a1", "s1")
        after = [counts.count_students(side) for side in sides]

        assert before == [3, 2]
        assert after == [len(storage.read_roster(side)) for side in sides] == [2, 2]
        with pytest.raises(ValueError, match="side"):
            counts.count_students("both")  # type: ignore[arg-type]

    def test_read_roster_of_reads_the_part_of_read_roster_some_ids_name(
        self, storage: StorageAdapter
    ) -> None:
        """``Capability.ROSTER_LOOKUP``: the students and staff named, and the children of
        the guardian accounts named, as ``read_roster`` gives them."""
        if Capability.ROSTER_LOOKUP not in capabilities_of(storage):
            pytest.skip("the adapter does not declare Capability.ROSTER_LOOKUP")
        lookup = cast(RosterLookup, storage)
        with storage.transaction() as tx:
            tx.set_merged_into("a3", "s2")
        ids = ["a3", "g1", "t2", "t1", "nobody"]

        archived, synced = (lookup.read_roster_of(side, ids) for side in ("archived", "synced"))
        whole = [storage.read_roster(side) for side in ("archived", "synced")]

        assert [whole[0].students[0]] == list(archived.students)  # a1 (mother g1); a3 merged
        assert [whole[1].students[0]] == list(synced.students)  # s1 (mother g1)
        assert (list(whole[0].staff), list(whole[1].staff)) == (
            list(archived.staff),
            list(synced.staff),
        )
        assert list(lookup.read_roster_of("synced", []).students) == []

    def test_a_clean_exit_commits_everything(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            _many_writes(tx)
        assert [s.id for s in storage.read_roster("archived").students] == ["a2", "a3"]
        assert len(list(storage.audit_records())) == 1
        with storage.transaction() as tx:
            assert keys(tx.history_rows("messages", "s1")) == [(1,), (2,), (3,)]
            assert keys(tx.history_rows("notes", "a1")) == [(9,)]
            assert tx.journal("plan-1", "a1") is not None
            assert [link.guardian_id for link in tx.guardian_links("a1")] == ["g2"]

    def test_an_exception_rolls_back_everything(self, storage: StorageAdapter) -> None:
        before = self.state(storage)
        archived_before = storage.read_roster("archived")
        with pytest.raises(RuntimeError, match="forced"), storage.transaction() as tx:
            _many_writes(tx)
            raise RuntimeError("forced")
        assert self.state(storage) == before
        assert storage.read_roster("archived") == archived_before
        assert list(storage.audit_records()) == []

    def test_values_compare_as_text_across_adapters(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            row = tx.history_rows("attendance", "a1")[0]
        assert text(row.values["day"]) == "2024-01-05"

    def test_declared_batch_level_methods_exist(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            declared = capabilities_of(tx)
            names = (*(BULK_READS if Capability.BULK_READS in declared else ()),
                     *(BULK_WRITES if Capability.BULK_WRITES in declared else ()))  # fmt: skip
            assert all(callable(getattr(tx, name, None)) for name in names)

    def test_bulk_reads_equal_the_per_student_reads(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            bulk = self.bulk(tx)
            tx.write_journal(entry({"messages": ((1,),)}))
            for table in tx.history_tables():
                many = bulk.history_rows_many(table.name, IDS)
                assert {i: tx.history_rows(table.name, i) for i in IDS} == many
            assert {i: tx.guardian_links(i) for i in IDS} == bulk.guardian_links_many(IDS)
            assert bulk.history_rows_many("messages", []) == {}
            assert bulk.journals("plan-1", IDS) == {"a1": tx.journal("plan-1", "a1")}
            assert bulk.journals("plan-2", IDS) == {}
            with pytest.raises(MappingError, match="grades"):
                bulk.history_rows_many("grades", ["a1"])

    def test_move_rows_many_moves_each_group_and_counts_them(self, storage: StorageAdapter) -> None:
        with storage.transaction() as tx:
            bulk = self.bulk(tx)
            moved = bulk.move_rows_many("messages", [([(1,), (3,)], "s1"), ([(7,), (99,)], "s2")])
            assert moved == 3
            assert bulk.move_rows_many("messages", []) == 0
            assert keys(tx.history_rows("messages", "s1")) == [(1,), (2,), (3,)]
            assert keys(tx.history_rows("messages", "s2")) == [(7,)]
            assert tx.history_rows("messages", "a1") == []

    def test_move_rows_many_refuses_unknown_students_and_collisions(
        self, storage: StorageAdapter
    ) -> None:
        before = self.state(storage)
        with pytest.raises(StorageError, match="nobody"), storage.transaction() as tx:
            self.bulk(tx).move_rows_many("messages", [([(1,)], "s1"), ([(3,)], "nobody")])
        with pytest.raises(StorageError), storage.transaction() as tx:
            self.bulk(tx).move_rows_many("attendance", [([(2,)], "s2"), ([(1,)], "s1")])
        assert self.state(storage) == before

    def test_bulk_link_and_merge_writes_equal_the_per_item_writes(
        self, storage: StorageAdapter
    ) -> None:
        with storage.transaction() as tx:
            bulk = self.bulk(tx)
            bulk.add_guardian_links([GuardianLink("s1", "g2", "Father"), GuardianLink("s2", "g3")])
            bulk.set_merged_into_many([("a1", "s1"), ("a2", "s2")])
            assert [link.guardian_id for link in tx.guardian_links("s1")] == ["g1", "g2", "g4"]
            contacts = tx.students(["s1"])["s1"].student.contacts
            assert [c.guardian_id for c in contacts] == ["g4", "g1", "g2"]  # added ones go last
            assert tx.guardian_links("s2") == [GuardianLink("s2", "g3", None)]
        assert [s.id for s in storage.read_roster("archived").students] == ["a3"]
        with storage.transaction() as tx:
            bulk = self.bulk(tx)
            bulk.remove_guardian_links([GuardianLink("s1", "g2"), GuardianLink("s2", "g3")])
            bulk.remove_guardian_links([GuardianLink("s2", "g3")])  # already gone: nothing happens
            bulk.set_merged_into_many([("a1", None), ("a2", None)])
            assert [link.guardian_id for link in tx.guardian_links("s1")] == ["g1", "g4"]
            assert tx.guardian_links("s2") == []
        assert [s.id for s in storage.read_roster("archived").students] == ["a1", "a2", "a3"]

    @pytest.mark.parametrize(
        ("links", "message"),
        [
            ([GuardianLink("s2", "g3"), GuardianLink("s1", "g1", "Mother")], "already linked"),
            ([GuardianLink("s2", "g3"), GuardianLink("s1", "g99")], "no guardian"),
            ([GuardianLink("nobody", "g1")], "no student"),
        ],
    )
    def test_add_guardian_links_refuses_bad_links(
        self, storage: StorageAdapter, links: list[GuardianLink], message: str
    ) -> None:
        before = self.state(storage)
        with pytest.raises(StorageError, match=message), storage.transaction() as tx:
            self.bulk(tx).add_guardian_links(links)
        assert self.state(storage) == before

    @pytest.mark.parametrize("pair", [("nobody", "s1"), ("a2", "nobody")])
    def test_set_merged_into_many_refuses_unknown_students(
        self, storage: StorageAdapter, pair: tuple[str, str]
    ) -> None:
        before = self.state(storage)
        with pytest.raises(StorageError, match="nobody"), storage.transaction() as tx:
            self.bulk(tx).set_merged_into_many([("a1", "s1"), pair])
        assert self.state(storage) == before

    def test_write_journals_and_audits_equal_the_per_item_writes(
        self, storage: StorageAdapter
    ) -> None:
        first = entry({"messages": ((1,), (3,))}, links_added=[GuardianLink("s1", "g2", "Father")])
        second = entry({"messages": ((7,),)}, undone=True)
        other = JournalEntry("plan-1", "a2", "s2", {})
        records = [
            AuditRecord("apply", "plan-1", "a1", "s1", "2024-09-01T10:00:00Z", {"messages": 2}),
            AuditRecord("undo", "plan-1", "a1", "s1", "2024-09-02T10:00:00Z", {}, note="typo"),
            AuditRecord("apply", "plan-1", "a2", "s2", "2024-09-03T10:00:00Z", {"notes": 1}),
        ]
        with storage.transaction() as tx:
            bulk = self.bulk(tx)
            bulk.write_journals([first, other])
            bulk.write_audits(records[:2])
            bulk.write_journals([])
            bulk.write_audits([])
        with storage.transaction() as tx:
            bulk = self.bulk(tx)
            assert bulk.journals("plan-1", ["a1", "a2"]) == {"a1": first, "a2": other}
            bulk.write_journals([second, first, second])  # the last one for a key wins
            bulk.write_audits(records[2:])
        with storage.transaction() as tx:
            assert tx.journal("plan-1", "a1") == second
        assert list(storage.audit_records()) == records
