"""Apply trusts nothing it did not decide: staleness ignores the engine's own writes, and a
plan edited by hand is refused before anything is written (issue 8, findings 1 and 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from apply_support import (
    FAST,
    db_snapshot,
    district,
    hand_plan,
    make_storage,
    plan_of,
    tiny_storage,
)
from plan_support import cell, col, edit_plan, set_cell

from merge_engine.applying._apply import apply_plan
from merge_engine.cli import main
from merge_engine.exceptions import PlanError
from merge_engine.model import Contact
from merge_engine.plan import Merge, MergePlan
from merge_engine.planning._planner import build_plan
from merge_engine.planning._replan import plan_from_storage, rosters_for_planning
from merge_engine.storage._base import GuardianLink
from merge_engine.storage._loading import load_rosters

ADAPTERS = ["memory", "sqlite", "postgres"]
N, SEED = 400, 11


@pytest.fixture(scope="module")
def plan() -> MergePlan:
    return plan_of(N, SEED, accounts=True)


class TestApproveAfterAFirstApply:
    """The README's workflow: apply the auto merges, then the reviewed ones."""

    @pytest.mark.parametrize("kind", ADAPTERS)
    def test_no_approved_review_merge_is_refused_after_guardian_merges(
        self, kind: str, plan: MergePlan, tmp_path: Path
    ) -> None:
        """The first apply's guardian merges re-link the review merges' synced students to the
        old accounts; that is the engine's own doing, not a change since planning."""
        storage = make_storage(kind, district(N, SEED), tmp_path)
        first = apply_plan(plan, storage)
        merged_away = {
            g.synced_guardian_id
            for g, o in zip(plan.guardian_merges, first.account_outcomes, strict=False)
            if o.status == "applied"
        }
        touched = [m for m in plan.review if set(m.synced_guardians) & merged_away]
        assert touched, "the district must have review merges whose guardian was merged"

        second = apply_plan(plan, storage, approved={m.archived_id for m in plan.review})

        statuses = {o.archived_id: o.status for o in second.outcomes}
        assert {m.archived_id: "applied" for m in plan.review} == {
            m.archived_id: statuses[m.archived_id] for m in plan.review
        }
        storage.close()

    @pytest.mark.parametrize("kind", ["memory", "sqlite"])
    def test_a_guardian_linked_by_someone_else_is_still_a_change(
        self, kind: str, plan: MergePlan, tmp_path: Path
    ) -> None:
        storage = make_storage(kind, district(N, SEED), tmp_path)
        apply_plan(plan, storage)
        target = plan.review[0]
        with storage.transaction() as tx:
            stranger = next(
                c.guardian_id
                for m in plan.auto
                for c in tx.students([m.synced_id])[m.synced_id].student.contacts
                if c.guardian_id not in target.synced_guardians
            )
            tx.add_guardian_link(GuardianLink(target.synced_id, stranger, "aunt"))

        report = apply_plan(plan, storage, approved={target.archived_id})

        outcome = next(o for o in report.outcomes if o.archived_id == target.archived_id)
        assert "stale" == outcome.status
        assert f"guardian account {stranger} was linked" in outcome.reason
        storage.close()

    def test_a_guardian_unlinked_by_someone_else_is_a_change(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1")])
        with storage.transaction() as tx:
            for link in tx.guardian_links("s1"):
                tx.remove_guardian_link(link)

        report = apply_plan(plan, storage)

        assert "stale" == report.outcomes[0].status
        assert "was unlinked" in report.outcomes[0].reason

    def test_a_blank_hash_is_a_refusal_not_a_skipped_check(self) -> None:
        storage = tiny_storage()
        plan = hand_plan(storage, [("a1", "s1"), ("a2", "s2")])
        blank = attrs.evolve(plan.merges[0], synced_hash="")
        plan = attrs.evolve(plan, merges=[blank, plan.merges[1]])

        report = apply_plan(plan, storage)

        statuses = {o.archived_id: o.status for o in report.outcomes}
        assert {"a1": "stale", "a2": "applied"} == statuses
        assert "has no record hashes" in report.outcomes[0].reason


_edit = edit_plan


def _flip_review(data: dict[str, Any]) -> None:
    row = next(m for m in data["merges"] if cell(m, "decision") == "review")
    set_cell(row, "decision", "auto")


def _retarget_without_hash(data: dict[str, Any]) -> None:
    one, two = data["merges"][0], data["merges"][1]
    set_cell(one, "synced_id", cell(two, "synced_id"))
    set_cell(one, "synced_hash", "")


def _swap_targets(data: dict[str, Any]) -> None:
    one, two = data["merges"][0], data["merges"][1]
    for key in ("synced_id", "synced_hash", "synced_guardians"):
        i = col(key)
        one[i], two[i] = two[i], one[i]


def _add_merge(data: dict[str, Any]) -> None:
    extra = list(data["merges"][0])
    set_cell(extra, "archived_id", data["unmatched_archived"][0])
    set_cell(extra, "archived_hash", "")
    set_cell(extra, "synced_hash", "")
    data["merges"].append(extra)


def _loosen_settings(data: dict[str, Any]) -> None:
    data["settings"]["auto_threshold"] = 0.5


class TestHandEditedPlans:
    """Edits go through approval files; a plan changed by hand is refused before any write."""

    @pytest.mark.parametrize(
        "edit",
        [_flip_review, _retarget_without_hash, _swap_targets, _add_merge, _loosen_settings],
    )
    def test_an_edited_plan_is_refused(self, edit: Any, plan: MergePlan, tmp_path: Path) -> None:
        path = tmp_path / "plan.json"
        plan.write(path)
        _edit(path, edit)

        with pytest.raises(PlanError, match="changed after it was written"):
            MergePlan.read(path)

    def test_a_plan_without_its_digest_is_read_but_not_applied(
        self, plan: MergePlan, tmp_path: Path
    ) -> None:
        path = tmp_path / "plan.json"
        plan.write(path)
        _edit(path, lambda data: data.pop("digest"))
        storage = make_storage("memory", district(N, SEED), tmp_path)
        before = db_snapshot(storage, bookkeeping=True)

        read = MergePlan.read(path)
        with pytest.raises(PlanError, match="no integrity digest"):
            apply_plan(read, storage)

        assert before == db_snapshot(storage, bookkeeping=True)

    def test_reformatting_a_plan_keeps_it_valid(self, plan: MergePlan, tmp_path: Path) -> None:
        """The digest covers the content, not the layout of the file."""
        path = tmp_path / "plan.json"
        plan.write(path)
        _edit(path, lambda data: None)  # re-indented, keys in another order

        assert plan == MergePlan.read(path)
        assert MergePlan.read(path).verified

    @pytest.mark.parametrize(
        ("entry", "expected"),
        [
            (None, r"merges\[1\]: it is null, not a list"),
            ({"archived_id": "x"}, r"merges\[1\]: it is dict, not a list"),
            ("x", r"merges\[1\]: it is str"),
            (["a1", "s1"], r"merges\[1\]: it has 2 values, not the 13 of its columns"),
        ],
    )
    def test_a_broken_entry_is_named_not_a_traceback(
        self, entry: Any, expected: str, plan: MergePlan
    ) -> None:
        data = json.loads(plan.to_json())
        data.pop("digest")
        data["merges"][1] = entry

        with pytest.raises(PlanError, match=expected):
            MergePlan.from_dict(data)

    def test_the_cli_refuses_an_edited_plan_with_exit_code_2(
        self, plan: MergePlan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        storage = make_storage("sqlite", district(N, SEED), tmp_path)
        db = Path(storage.path)  # type: ignore[attr-defined]
        before = db_snapshot(storage, bookkeeping=True)
        path = tmp_path / "plan.json"
        plan.write(path)
        _edit(path, _flip_review)

        code = main(["apply", str(path), "--db", str(db)])

        err = capsys.readouterr().err
        assert 2 == code
        assert "changed after it was written" in err
        assert "Traceback" not in err
        assert before == db_snapshot(storage, bookkeeping=True)
        storage.close()


def test_hand_built_merges_carry_the_synced_guardians() -> None:
    """A Merge read from a version-1 plan has no synced_guardians: apply refuses the plan."""
    storage = tiny_storage()
    plan = hand_plan(storage, [("a1", "s1")])
    data = {
        "schema_version": 1,
        "fingerprint": dict(plan.fingerprint),
        "stats": dict(plan.stats),
        "merges": [
            {k: v for k, v in m.to_dict().items() if k != "synced_guardians"} for m in plan.merges
        ],
    }
    old = MergePlan.from_dict(data)

    with pytest.raises(PlanError, match="no integrity digest"):
        apply_plan(old, storage)
    assert all(isinstance(m, Merge) and m.synced_guardians for m in plan.merges)


def test_contacts_are_what_the_hash_of_a_synced_student_leaves_out() -> None:
    """A guardian's new phone is not a new child: only account ids are compared."""
    storage = tiny_storage()
    plan = hand_plan(storage, [("a1", "s1")])
    synced = storage.read_roster("synced")
    changed = [
        attrs.evolve(s, contacts=[attrs.evolve(c, phone="+1 555 0100") for c in s.contacts])
        if s.id == "s1"
        else s
        for s in synced.students
    ]
    assert any(isinstance(c, Contact) for s in changed for c in s.contacts)
    fresh = tiny_storage()
    load_rosters(fresh, fresh.read_roster("archived"), attrs.evolve(synced, students=changed),
                 replace=True)  # fmt: skip

    report = apply_plan(plan, fresh)

    assert "applied" == report.outcomes[0].status


def _contacts(roster: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        s.id: sorted((c.guardian_id, c.email, c.phone, c.relationship) for c in s.contacts)
        for s in roster.students
    }


def _evidence(plan: MergePlan) -> dict[str, tuple[Any, ...]]:
    """Each merge's comparison levels; the namesake estimate is a number that moves a little
    with the rosters' name frequencies (merged archived records leave them), so only its
    presence counts."""
    return {
        m.archived_id: (
            m.synced_id,
            tuple(
                (e.comparison, "" if e.comparison == "names_only" else e.level) for e in m.evidence
            ),
        )
        for m in plan.merges
    }


class TestPlanningAfterAnApply:
    """A second plan sees the district as the sync left it, not the engine's own links."""

    @pytest.mark.parametrize("kind", ADAPTERS)
    def test_the_synced_roster_reads_back_as_the_sync_left_it(
        self, kind: str, plan: MergePlan, tmp_path: Path
    ) -> None:
        storage = make_storage(kind, district(N, SEED), tmp_path)
        before = _contacts(storage.read_roster("synced"))
        report = apply_plan(plan, storage)
        assert report.account_counts["guardian_merge"]["applied"] > 0
        assert before != _contacts(storage.read_roster("synced"))

        _, synced = rosters_for_planning(storage)

        assert before == _contacts(synced)
        storage.close()

    @pytest.mark.parametrize("kind", ["memory", "sqlite"])
    def test_review_pairs_keep_their_evidence_and_apply_cleanly(
        self, kind: str, tmp_path: Path
    ) -> None:
        """Evidence labels stay true: a sibling's guardian merge is not a shared guardian."""
        storage = make_storage(kind, district(600, SEED), tmp_path)
        first = plan_from_storage(storage, FAST)
        apply_plan(first, storage)
        naive = build_plan(storage.read_roster("archived"), storage.read_roster("synced"), FAST)
        pending = [m.archived_id for m in first.review]
        was, naive_ev = _evidence(first), _evidence(naive)
        assert any(naive_ev.get(a) != was[a] for a in pending), "scenario must arise"

        second = plan_from_storage(storage, FAST)

        now = _evidence(second)
        assert {a: was[a] for a in pending} == {a: now.get(a) for a in pending}
        report = apply_plan(second, storage, approved={m.archived_id for m in second.review})
        assert "stale" not in report.counts
        storage.close()
