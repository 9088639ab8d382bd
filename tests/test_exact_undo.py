"""Exact undo: every column of every row comes back, contact order included (issue 8, finding 3).

The whole database is compared (``db_snapshot``: every table, every
column, read straight from the database), after apply + undo of a plan
with guardian merges, after repeated cycles, and after a failure injected
mid-apply, a rerun and an undo. Apply itself keeps every synced student's
contacts in the order the sync left them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from apply_support import (
    District,
    FaultyStorage,
    StorageProxy,
    db_snapshot,
    district,
    make_storage,
    plan_of,
)

from merge_engine.applying._account_apply import run_account_steps
from merge_engine.applying._account_steps import AccountStep
from merge_engine.applying._apply import ApplyReport, apply_plan
from merge_engine.applying._undo import undo_plan
from merge_engine.model import Contact, Roster, Student
from merge_engine.plan import MergePlan
from merge_engine.storage import Capability, capabilities_of
from merge_engine.storage._base import (
    ACCOUNT_BULK,
    BULK_READS,
    BULK_WRITES,
    AccountTransaction,
    BulkAccountTransaction,
    BulkTransaction,
    GuardianLink,
    JournalEntry,
    StorageAdapter,
)
from merge_engine.storage.codec import decode_entry, encode_entry

KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage(kind: str, tmp_path: Path) -> Iterator[StorageAdapter]:
    s = make_storage(kind, district(), tmp_path)
    yield s
    s.close()


def plan() -> MergePlan:
    return plan_of(120, 7, accounts=True)


def apply_all(storage: StorageAdapter, **kw: object) -> ApplyReport:
    """Apply every merge and step of the plan (review ones approved, safety valve off)."""
    p = plan()
    approved = [m.archived_id for m in p.review]
    return apply_plan(p, storage, force=True, approved=approved, **kw)  # type: ignore[arg-type]


def guardian_merges_applied(report: ApplyReport) -> int:
    return sum(1 for o in report.account_outcomes if o.status == "applied")


def contacts(storage: StorageAdapter) -> dict[str, list[str]]:
    """Each synced student's guardian ids, in contact order."""
    roster = storage.read_roster("synced")
    return {s.id: [c.guardian_id for c in s.contacts] for s in roster.students}


def final_account(storage: StorageAdapter, guardian_ids: set[str]) -> dict[str, str]:
    """Where each guardian account ends after following guardian merges."""
    with storage.transaction() as tx:
        assert isinstance(tx, AccountTransaction)
        out = {}
        for g in guardian_ids:
            current = g
            while (merged := tx.guardians([current])[current].merged_into) is not None:
                current = merged
            out[g] = current
    return out


class TestWholeDatabase:
    @pytest.mark.parametrize("bulk", ["use", "fail", "hide"])
    def test_apply_then_undo_restores_every_row_and_column(
        self, storage: StorageAdapter, bulk: str
    ) -> None:
        """With guardian merges applied, undo leaves contact_order and relationship as before.

        ``use``: batched reads and writes; ``fail``: every batch-level write fails,
        so apply and undo redo each batch one merge at a time; ``hide``: an
        adapter with the required methods only.
        """
        before = db_snapshot(storage)
        proxy = FaultyStorage(storage, bulk=bulk)

        report = apply_all(proxy)
        failures = proxy.bulk_failures
        undo_plan(plan(), proxy)

        assert (proxy.bulk_failures > failures > 0) == (bulk == "fail")

        assert guardian_merges_applied(report) > 20
        assert db_snapshot(storage) == before

    def test_three_cycles_do_not_drift(self, storage: StorageAdapter) -> None:
        """Apply + undo three times: the database equals the first snapshot after each cycle."""
        before = db_snapshot(storage)
        for cycle in range(3):
            report = apply_all(storage)
            assert guardian_merges_applied(report) > 20, cycle
            undo_plan(plan(), storage)
            assert db_snapshot(storage) == before, cycle

    def test_apply_keeps_the_sync_contact_order(self, storage: StorageAdapter) -> None:
        """After apply, a synced student's contacts start with the sync's, in the sync's order.

        The sync's guardian accounts are read through the guardian merges (a
        sync-created account merged into the old one is the same adult), so
        the first contact is the one the SIS listed first; links the archived
        student brought come after.
        """
        before = contacts(storage)

        report = apply_all(storage)

        after = contacts(storage)
        into = final_account(storage, {g for gs in before.values() for g in gs})
        assert guardian_merges_applied(report) > 20
        renamed = 0
        for student, guardians in before.items():
            expected = list(dict.fromkeys(into[g] for g in guardians))
            assert after[student][: len(expected)] == expected, student
            if guardians:
                assert after[student][0] == into[guardians[0]], student
                renamed += guardians[0] != into[guardians[0]]
        assert renamed > 20  # primary contacts whose account a guardian merge replaced


@pytest.mark.parametrize("bulk", ["use", "fail", "hide"])
def test_failure_mid_apply_then_rerun_then_undo_restores_everything(
    kind: str, bulk: str, tmp_path: Path
) -> None:
    """A write fails in the student merges and in the guardian merges; rerun; undo; exact.

    ``use`` runs the batched path, ``fail`` the one-by-one path after every
    batch-level write fails, ``hide`` an adapter with the required methods only.
    """
    counting = FaultyStorage(make_storage(kind, district(), tmp_path), bulk=bulk)
    report = apply_all(counting, batch_size=25)
    assert guardian_merges_applied(report) > 20
    total = counting.writes
    students_only = FaultyStorage(make_storage(kind, district(), tmp_path), bulk=bulk)
    apply_all(students_only, batch_size=25, accounts=False)
    points = (total // 4, total // 2, total - total // 8)
    # Failures land both in the student merges and in the guardian merges.
    assert min(points) <= students_only.writes < max(points)
    for n in points:
        storage = make_storage(kind, district(), tmp_path)
        before = db_snapshot(storage)
        faulty = FaultyStorage(storage, lambda w, n=n: w == n, bulk=bulk)

        apply_all(faulty, batch_size=25)
        assert faulty.failures == 1, n
        apply_all(storage)
        undo_plan(plan(), storage)

        assert db_snapshot(storage) == before, n
        storage.close()


class TestLinkPositions:
    def test_add_guardian_link_stores_the_given_position(self, storage: StorageAdapter) -> None:
        """A link with a position sits exactly there; one without goes after the others."""
        student = next(s for s in storage.read_roster("synced").students if len(s.contacts) >= 3)
        first, second = student.contacts[0].guardian_id, student.contacts[1].guardian_id
        with storage.transaction() as tx:
            links = {x.guardian_id: x for x in tx.guardian_links(student.id)}
            assert links[first].order is not None
            tx.remove_guardian_link(links[first])
            tx.remove_guardian_link(links[second])
            tx.add_guardian_link(GuardianLink(student.id, second, "Aunt"))  # appended
            tx.add_guardian_link(links[first])  # back at its position
            again = {x.guardian_id: x for x in tx.guardian_links(student.id)}
        assert again[first].order == links[first].order
        others = [x.order or 0 for g, x in links.items() if g not in (first, second)]
        assert again[second].order == max(others) + 1
        assert again[second].relationship == "Aunt"
        assert contacts(storage)[student.id][0] == first

    def test_reads_agree_on_positions(self, storage: StorageAdapter) -> None:
        """guardian_links, links_of_guardian and their batch forms report the same positions."""
        student = next(s for s in storage.read_roster("synced").students if len(s.contacts) >= 2)
        with storage.transaction() as tx:
            assert isinstance(tx, BulkTransaction) and isinstance(tx, BulkAccountTransaction)
            links = tx.guardian_links(student.id)
            by_student = {x.guardian_id: x.order for x in links}
            many = tx.guardian_links_many([student.id])[student.id]
            assert {x.guardian_id: x.order for x in many} == by_student
            for link in links:
                g = link.guardian_id
                assert {x.student_id: x.order for x in tx.links_of_guardian(g)}[student.id] == (
                    link.order
                )
                batch = tx.links_of_guardians([g])[g]
                assert {x.student_id: x.order for x in batch}[student.id] == link.order
        assert sorted(by_student, key=lambda g: (by_student[g], g)) == [
            c.guardian_id for c in student.contacts
        ]


class TestJournalPositions:
    def test_positions_survive_the_journal(self) -> None:
        removed = [GuardianLink("s1", "g1", "Mother", 0), GuardianLink("s1", "g2", order=3)]
        added = [GuardianLink("s1", "g2", "Mother", 0)]
        entry = JournalEntry(
            "fp", "guardian:g1", "guardian:g2", {}, links_added=added, links_removed=removed
        )

        back = decode_entry(encode_entry(entry))

        assert [x.order for x in back.links_added] == [0]
        assert [x.order for x in back.links_removed] == [0, 3]
        assert back == entry

    def test_entries_written_before_positions_still_read(self) -> None:
        """A three-item link (an older journal) reads as a link without a position."""
        text = json.dumps({
            "plan_fingerprint": "fp", "archived_id": "a1", "synced_id": "s1", "moved": {},
            "set_aside": [], "links_added": [["s1", "g1", "Mother"]], "undone": False,
            "links_removed": [["s2", "g1", None]],
        })  # fmt: skip

        entry = decode_entry(text)

        assert entry.links_added == (GuardianLink("s1", "g1", "Mother"),)
        assert entry.links_added[0].order is None
        assert entry.links_removed[0].order is None

    def test_links_without_a_position_keep_the_old_form(self) -> None:
        """Student-merge entries (links appended, no position) are written as before."""
        entry = JournalEntry("fp", "a1", "s1", {}, links_added=[GuardianLink("s1", "g1", "Mother")])

        assert json.loads(encode_entry(entry))["links_added"] == [["s1", "g1", "Mother"]]


def _positions_district() -> District:
    """Three synced students of one sync-created account ``new`` (the adult of account ``old``).

    ``s1`` lists ``new`` first and has ``old`` last (brought by a student
    merge); ``s2`` lists ``old`` first and ``new`` second; ``s3`` lists ``new``
    second and lacks ``old``.
    """

    def contact(gid: str, relationship: str) -> Contact:
        return Contact(gid, first_name=f"P{gid}", last_name="Tester", relationship=relationship)

    def student(sid: str, *contacts: Contact) -> Student:
        return Student(id=sid, first_name=sid, last_name="Tester", grade=3, contacts=contacts)

    synced = Roster([
        student("s1", contact("new", "Mother"), contact("x", "Father"), contact("old", "Parent")),
        student("s2", contact("old", "Parent"), contact("new", "Mother")),
        student("s3", contact("y", "Father"), contact("new", "Mother")),
    ])  # fmt: skip
    archived = Roster([student("a1", contact("old", "Parent"))])
    return District(archived, synced, {})


def _links(storage: StorageAdapter) -> dict[str, list[tuple[str, str | None, int | None]]]:
    with storage.transaction() as tx:
        return {
            s: [(x.guardian_id, x.relationship, x.order)
                for x in sorted(tx.guardian_links(s), key=lambda x: (x.order, x.guardian_id))]
            for s in ("s1", "s2", "s3")
        }  # fmt: skip


@pytest.mark.parametrize("bulk", ["use", "hide"])
def test_a_guardian_merge_keeps_the_first_listed_link_in_place(
    kind: str, bulk: str, tmp_path: Path
) -> None:
    """The old account takes the sync's place; a link to it listed first stays; undo is exact."""
    storage = make_storage(kind, _positions_district(), tmp_path)
    proxy = FaultyStorage(storage, bulk=bulk)
    before = db_snapshot(storage)
    step = AccountStep("guardian_merge", "guardian:new", "guardian:old", "new", "old")

    (applied,) = run_account_steps(proxy, "fp", [step], undo=False, batch_size=5, max_retries=1)

    assert applied.status == "applied"
    assert _links(storage) == {
        "s1": [("old", "Mother", 0), ("x", "Father", 1)],
        "s2": [("old", "Parent", 0)],
        "s3": [("y", "Father", 0), ("old", "Mother", 1)],
    }
    (undone,) = run_account_steps(proxy, "fp", [step], undo=True, batch_size=5, max_retries=1)
    assert undone.status == "undone"
    assert db_snapshot(storage) == before
    storage.close()


class _NoPositions(StorageProxy):
    """A storage whose transactions know nothing of link positions (the contract before them)."""

    def wrap(self, tx: Any) -> Any:
        return _NoPositionsTx(tx)


class _NoPositionsTx:
    def __init__(self, tx: Any) -> None:
        self._tx = tx
        self.capabilities = capabilities_of(tx) - {Capability.BULK_READS, Capability.BULK_WRITES}

    def __getattr__(self, name: str) -> Any:
        if name in (*BULK_READS, *BULK_WRITES, *ACCOUNT_BULK):
            raise AttributeError(name)
        return getattr(self._tx, name)

    def guardian_links(self, student_id: str) -> list[GuardianLink]:
        return [attrs.evolve(x, order=None) for x in self._tx.guardian_links(student_id)]

    def links_of_guardian(self, guardian_id: str) -> list[GuardianLink]:
        return [attrs.evolve(x, order=None) for x in self._tx.links_of_guardian(guardian_id)]

    def add_guardian_link(self, link: GuardianLink) -> None:
        assert link.order is None  # nothing it read had a position
        self._tx.add_guardian_link(link)


def test_an_adapter_without_positions_still_applies_and_undoes(kind: str, tmp_path: Path) -> None:
    """Links without positions are appended: apply and undo work, every link comes back."""
    storage = make_storage(kind, district(), tmp_path)
    old = _NoPositions(storage)
    with storage.transaction() as tx:
        ids = [s.id for side in ("archived", "synced") for s in storage.read_roster(side).students]
        before = {x for i in ids for x in tx.guardian_links(i)}

    report = apply_all(old)
    undo_plan(plan(), old)

    assert guardian_merges_applied(report) > 20
    with storage.transaction() as tx:
        assert {x for i in ids for x in tx.guardian_links(i)} == before  # relationship too
    storage.close()
