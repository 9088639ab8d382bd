"""Applying and undoing a plan streamed from its file: the same result as the plan in memory,
in the memory of one batch (reports keep the notable outcomes, the others are counted)."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from apply_support import (
    FaultyStorage,
    db_snapshot,
    district,
    hand_plan,
    make_storage,
    memory_storage,
    plan_of,
    state,
    without_bookkeeping,
)

from merge_engine.applying._account_steps import account_steps, approval_ids, iter_account_steps
from merge_engine.applying._apply import apply_plan
from merge_engine.applying._plans import NOTABLE, PlanSource
from merge_engine.applying._report import MergeOutcome
from merge_engine.applying._undo import undo_plan
from merge_engine.cli import main
from merge_engine.exceptions import SafetyValveError
from merge_engine.model import Roster, Student
from merge_engine.plan import MergePlan
from merge_engine.plan_file import PlanFile
from merge_engine.storage import InMemoryStorage

N, SEED = 200, 5


@pytest.fixture(scope="module")
def plan() -> MergePlan:
    return plan_of(N, SEED, accounts=True)


@pytest.mark.parametrize(
    "kind", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_plan_file_applies_and_undoes_as_the_plan_in_memory(
    kind: str, plan: MergePlan, tmp_path: Path
) -> None:
    path = tmp_path / "plan.json.gz"
    plan.write(path)
    approved = [m.archived_id for m in plan.review[:2]]
    one = make_storage(kind, district(N, SEED), _folder(tmp_path / "one"))
    two = make_storage(kind, district(N, SEED), _folder(tmp_path / "two"))
    pristine = db_snapshot(one)
    seen: list[MergeOutcome] = []

    whole = apply_plan(plan, one, approved=approved)
    streamed = apply_plan(PlanFile.open(path), two, approved=approved, on_outcome=seen.append)

    assert db_snapshot(one) == db_snapshot(two) != pristine
    assert without_bookkeeping(state(one, plan)) == without_bookkeeping(state(two, plan))
    assert (whole.counts, whole.rows, whole.set_aside, whole.links) == (
        streamed.counts,
        streamed.rows,
        streamed.set_aside,
        streamed.links,
    )
    assert list(whole.outcomes) == seen
    assert whole.account_outcomes == streamed.account_outcomes
    assert all(o.status in NOTABLE for o in streamed.outcomes)
    assert len(seen) - len(streamed.outcomes) == streamed.omitted > 0
    assert streamed.summary().splitlines()[1:] == whole.summary().splitlines()[1:]

    undone_whole = undo_plan(plan, one)
    undone = undo_plan(PlanFile.open(path), two, keep_outcomes=True)

    assert db_snapshot(one) == db_snapshot(two) == pristine
    assert undone_whole.outcomes == undone.outcomes
    assert undone_whole.account_outcomes == undone.account_outcomes
    one.close()
    two.close()


def test_undoing_some_merges_of_a_plan_file_undoes_those(plan: MergePlan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    plan.write(path)
    storage = memory_storage(district(N, SEED))
    apply_plan(plan, storage)
    some = [m.archived_id for m in plan.auto[3:9]]

    undone = undo_plan(PlanFile.open(path), storage, archived_ids=some, keep_outcomes=True)

    assert {"undone": len(some)} == undone.counts
    assert {m.archived_id for m in plan.auto[3:9]} == {o.archived_id for o in undone.outcomes}
    with pytest.raises(Exception, match="not archived ids"):
        undo_plan(PlanFile.open(path), storage, archived_ids=["nobody"])


@pytest.mark.parametrize("bulk", ["use", "hide"])
def test_another_plans_merge_is_found_in_the_audit_of_the_batch_or_the_whole_log(
    bulk: str, tmp_path: Path
) -> None:
    """A merge another plan made is already applied, and the history written to the archived
    student since is swept into that plan's journal: with the audit read per batch
    (Capability.AUDIT_LOOKUP) or, without it, from the whole log."""
    inner = make_storage("sqlite", district(N, SEED), tmp_path)
    storage = FaultyStorage(inner, bulk=bulk)
    plan = plan_of(N, SEED)
    first = attrs.evolve(plan, merges=plan.auto[:40], fingerprint={"archived": "1", "synced": "1"})
    apply_plan(first, storage)
    late = first.merges[0].archived_id
    with inner.transaction() as tx:
        row = {"id": 10**6, "student_id": late, "created_at": "2025-01-01", "body": "late"}
        tx.insert_rows([_note(row)])
    path = tmp_path / "plan.json"
    plan.write(path)

    report = apply_plan(PlanFile.open(path), storage, keep_outcomes=True)
    statuses = {o.archived_id: o.status for o in report.outcomes}

    assert "swept" == statuses[late]
    assert {"already_applied"} == {statuses[m.archived_id] for m in first.merges[1:]}
    assert {"applied"} == {statuses[m.archived_id] for m in plan.auto[40:]}
    undo_plan(first, storage)  # the swept note goes back with the first plan's merge
    with inner.transaction() as tx:
        assert [10**6] == [r.key[0] for r in tx.history_rows("notes", late) if r.key[0] == 10**6]
    inner.close()


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _note(values: dict[str, object]) -> object:
    from merge_engine.storage._base import HistoryRow  # noqa: PLC0415

    return HistoryRow("notes", (values["id"],), values)


def _one_to_one_district(pairs: int, shared: int) -> tuple[InMemoryStorage, MergePlan]:
    """``pairs`` archived students merged one to one, plus ``shared`` synced students that two
    archived records each merge into; synced students up to sixty in all."""
    archived = [Student(f"a{i:02d}", f"F{i}", "Lee") for i in range(pairs + 2 * shared)]
    synced = [Student(f"s{i:02d}", f"F{i}", "Lee") for i in range(60)]
    storage = InMemoryStorage(Roster(archived), Roster(synced))
    merges = [(f"a{i:02d}", f"s{i:02d}") for i in range(pairs)]
    merges += [
        (f"a{pairs + 2 * k + j:02d}", f"s{pairs + k:02d}") for k in range(shared) for j in (0, 1)
    ]
    return storage, hand_plan(storage, merges)


@pytest.mark.parametrize(("pairs", "shared", "trips"), [(55, 2, False), (56, 2, True)])
def test_the_coverage_check_counts_each_synced_student_once(
    pairs: int, shared: int, trips: bool, tmp_path: Path
) -> None:
    """55 + 2 synced students of 60 is 95%, not more: applied; 58 of 60 trips the valve. Two
    merges into one synced student count once, read from memory or streamed."""
    for streamed in (False, True):
        storage, plan = _one_to_one_district(pairs, shared)
        path = tmp_path / f"plan-{pairs}.json"
        plan.write(path)
        source = PlanFile.open(path) if streamed else plan
        if trips:
            with pytest.raises(SafetyValveError, match="copy of the archive"):
                apply_plan(source, storage)
        else:
            report = apply_plan(source, storage)
            assert {"applied": pairs + 2 * shared} == report.counts


def test_apply_json_lists_every_outcome_as_the_whole_report_would(
    plan: MergePlan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``apply --json`` keeps no outcome in memory, yet prints all of them, in the same text."""
    storage = make_storage("sqlite", district(N, SEED), tmp_path)
    db = str(storage.path)  # type: ignore[attr-defined]
    twin = make_storage("sqlite", district(N, SEED), _folder(tmp_path / "twin"))
    path = tmp_path / "plan.json"
    plan.write(path)
    capsys.readouterr()

    code = main(["apply", str(path), "--db", db, "--json"])
    out = capsys.readouterr().out
    expected = apply_plan(plan, twin).to_dict()

    printed = json.loads(out)
    assert code in (0, 1)
    assert out == json.dumps(printed, indent=1, sort_keys=True) + "\n"
    assert len(printed["outcomes"]) == len(plan.merges)
    assert {k: v for k, v in expected.items() if k != "seconds"} == {
        k: v for k, v in printed.items() if k != "seconds"
    }
    storage.close()
    twin.close()


def test_the_safety_check_reports_its_progress_before_the_first_batch(
    plan: MergePlan, tmp_path: Path
) -> None:
    """The check reads every merge's students before anything is written: it says how far."""
    path = tmp_path / "plan.json"
    plan.write(path)
    storage = memory_storage(district(N, SEED))
    calls: list[tuple[str, int, int]] = []

    apply_plan(
        PlanFile.open(path),
        storage,
        batch_size=50,
        progress=lambda done, total: calls.append(("apply", done, total)),
        check_progress=lambda done, total: calls.append(("check", done, total)),
    )

    kinds = [kind for kind, _, _ in calls]
    n = len(plan.auto)
    assert ("check", n, n) == calls[kinds.index("apply") - 1]
    assert "check" not in kinds[kinds.index("apply") :]
    assert calls[-1][0] == "apply" and calls[-1][1] == calls[-1][2]


def test_the_account_steps_of_a_plan_file_are_those_of_the_plan_in_memory(
    plan: MergePlan, tmp_path: Path
) -> None:
    """Made from the file's sections as apply runs them, the same steps in the same order."""
    path = tmp_path / "plan.json"
    plan.write(path)
    source = PlanSource(PlanFile.open(path))
    review = approval_ids(plan)
    approved = frozenset(sorted(review)[: len(review) // 2])
    skipped: list[MergeOutcome] = []

    steps = list(iter_account_steps(source.step_parts(), approved, skipped))

    assert any(g.decision == "auto" for g in plan.guardian_merges) and approved < review
    assert (steps, skipped) == account_steps(plan, approved)
    assert len(source.review_part.guardian_merges) < len(plan.guardian_merges)
