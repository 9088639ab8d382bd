"""The plan file read as a stream (PlanFile), compressed plans, and plans of older versions."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import attrs
import pytest
from apply_support import plan_of
from hypothesis import given
from hypothesis import strategies as st
from plan_support import OLD_PLANS, edit_plan

from merge_engine import _plan_format
from merge_engine.applying._apply import apply_plan
from merge_engine.applying._undo import undo_plan
from merge_engine.cli import main
from merge_engine.exceptions import PlanError
from merge_engine.plan import Merge, MergePlan, write_plan
from merge_engine.plan_file import PlanFile, shared_targets
from merge_engine.readers import read_roster
from merge_engine.storage._memory import InMemoryStorage


@pytest.fixture(scope="module")
def plan() -> MergePlan:
    return plan_of(300, 4, accounts=True)


def test_a_plan_file_streams_what_the_plan_holds(plan: MergePlan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    plan.write(path)

    file = PlanFile.open(path)

    assert list(plan.merges) == list(file.iter_merges())
    assert list(reversed(plan.merges)) == list(file.iter_merges_backwards())
    assert list(plan.guardian_merges) == list(file.iter_guardian_merges())
    assert list(plan.guardian_actions) == list(file.iter_guardian_actions())
    assert list(plan.role_links) == list(file.iter_role_links())
    assert list(plan.unmatched_archived) == list(file.iter_unmatched("archived"))
    assert list(plan.unmatched_synced) == list(file.iter_unmatched("synced"))
    assert [dict(w) for w in plan.warnings] == file.warnings()
    assert shared_targets(plan.merges) == file.shared_targets()
    assert file.shared_targets()  # the district has archived duplicates
    assert plan.summary() == file.summary()
    assert repr(plan) == repr(file)
    assert (plan.fingerprint, plan.settings, plan.stats) == (
        file.fingerprint,
        file.settings,
        file.stats,
    )
    assert file.verified and 3 == file.schema_version
    assert plan == file.read()


def test_opening_a_plan_reads_no_merge_and_each_is_read_when_asked_for(
    plan: MergePlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plan.json"
    plan.write(path)
    made: list[str] = []
    real = Merge.from_row

    def counting(row: Any, evidence: Any) -> Merge:
        made.append(row[0])
        return real(row, evidence)

    monkeypatch.setattr(Merge, "from_row", counting)

    file = PlanFile.open(path)
    assert [] == made
    first = list(islice(file.iter_merges(), 3))

    assert [m.archived_id for m in first] == made == [m.archived_id for m in plan.merges[:3]]


def test_reading_backwards_crosses_the_remembered_positions(
    plan: MergePlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A section is read backwards a stride of rows at a time, in plain and gzip files."""
    monkeypatch.setattr(_plan_format, "STRIDE", 7)
    for name in ("plan.json", "plan.json.gz"):
        path = tmp_path / name
        plan.write(path)
        file = PlanFile.open(path)

        assert list(reversed(plan.merges)) == list(file.iter_merges_backwards()), name
        assert list(plan.merges) == list(file.iter_merges()), name


def test_a_plan_named_gz_is_compressed_reproducibly(plan: MergePlan, tmp_path: Path) -> None:
    """gzip with no name or time in its header: the same plan gives the same bytes."""
    one, two, plain = tmp_path / "a.json.gz", tmp_path / "b.json.gz", tmp_path / "p.json"
    plan.write(one)
    plan.write(two)
    plan.write(plain)

    assert one.read_bytes() == two.read_bytes()
    assert gzip.decompress(one.read_bytes()) == plain.read_bytes()
    assert one.stat().st_size < plain.stat().st_size / 2
    assert plan == MergePlan.read(one) == PlanFile.open(one).read()
    renamed = tmp_path / "compressed.json"  # recognised by its content, not its name
    renamed.write_bytes(one.read_bytes())
    assert plan == MergePlan.read(renamed)


def test_a_changed_byte_is_refused_in_either_reader(plan: MergePlan, tmp_path: Path) -> None:
    """A row edited in place (the layout intact) fails the digest, streamed or not."""
    path = tmp_path / "plan.json"
    plan.write(path)
    text = path.read_text(encoding="utf-8")
    review = next(m for m in plan.merges if m.decision == "review")
    line = next(x for x in text.splitlines() if x.startswith(f'["{review.archived_id}"'))
    path.write_text(text.replace(line, line.replace('"review"', '"auto"')), encoding="utf-8")

    for read in (MergePlan.read, PlanFile.open):
        with pytest.raises(PlanError, match="changed after it was written"):
            read(path)


def test_a_rewritten_plan_is_read_whole_and_still_verified(plan: MergePlan, tmp_path: Path) -> None:
    """A JSON tool's re-indented copy is not in the streaming layout: it is read whole."""
    path = tmp_path / "plan.json"
    plan.write(path)
    edit_plan(path, lambda data: None)

    file = PlanFile.open(path)

    assert file.verified
    assert list(plan.merges) == list(file.iter_merges())
    assert shared_targets(plan.merges) == file.shared_targets()


def test_a_failed_write_leaves_neither_plan_nor_temporary_file(
    plan: MergePlan, tmp_path: Path
) -> None:
    path = tmp_path / "plan.json"

    def merges() -> Iterator[Merge]:
        yield plan.merges[0]
        raise RuntimeError("the planner failed")

    with pytest.raises(RuntimeError):
        write_plan(path, fingerprint={}, settings={}, model={}, stats={}, merges=merges())

    assert [] == list(tmp_path.iterdir())


def test_the_plan_for_review_holds_what_review_decisions_rest_on(
    plan: MergePlan, tmp_path: Path
) -> None:
    """Review merges and steps, what they rest on; not the auto guardian merges and folds."""
    path = tmp_path / "plan.json"
    plan.write(path)

    partial = PlanFile.open(path).for_review()
    kept = {m.archived_id for m in partial.merges}

    assert partial.partial and len(kept) < len(plan.merges)
    assert {m.archived_id for m in plan.review} <= kept
    assert {a for ids in shared_targets(plan.merges).values() for a in ids} <= kept
    assert {a.student_id for a in plan.guardian_actions} <= kept
    assert [g for g in plan.guardian_merges if g.decision != "auto"] == list(
        partial.guardian_merges
    )
    assert [f for f in plan.guardian_folds if f.decision != "auto"] == list(partial.guardian_folds)
    assert len(partial.guardian_merges) < len(plan.guardian_merges)
    assert (plan.guardian_actions, plan.role_links) == (
        partial.guardian_actions,
        partial.role_links,
    )
    with pytest.raises(PlanError, match="partial"):
        partial.write(tmp_path / "copy.json")


# --- plans written by earlier versions ----------------------------------------------------


def _old_district() -> InMemoryStorage:
    """The rosters the committed old plans were made from (tests/data/old_plans)."""
    return InMemoryStorage(read_roster(OLD_PLANS / "archived"), read_roster(OLD_PLANS / "synced"))


def _without_bookkeeping(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k not in ("journal", "audit")}


def test_a_version_2_plan_still_reads_applies_and_undoes() -> None:
    """A plan written by the previous release (schema version 2, one document)."""
    path = OLD_PLANS / "plan-v2.json"
    storage = _old_district()
    before = _without_bookkeeping(storage.snapshot())

    plan = MergePlan.read(path)
    file = PlanFile.open(path)
    applied = apply_plan(plan, storage)
    undone = undo_plan(plan, storage)

    assert (2, True) == (plan.schema_version, plan.verified)
    assert list(plan.merges) == list(file.iter_merges())
    assert {"applied": len(plan.auto), "skipped_review": len(plan.review)} == applied.counts
    assert {"undone": len(plan.auto), "not_applied": len(plan.review)} == undone.counts
    assert before == _without_bookkeeping(storage.snapshot())


def test_a_version_1_plan_is_shown_but_not_applied(capsys: pytest.CaptureFixture[str]) -> None:
    path = OLD_PLANS / "plan-v1.json"
    storage = _old_district()

    plan = MergePlan.read(path)
    code = main(["show", str(path), "--limit", "1"])
    out = capsys.readouterr().out

    assert (1, False) == (plan.schema_version, plan.verified)
    assert 0 == code and repr(plan) in out
    with pytest.raises(PlanError, match="no integrity digest"):
        apply_plan(plan, storage)


def test_an_old_plan_written_again_is_a_version_3_plan(tmp_path: Path) -> None:
    old = MergePlan.read(OLD_PLANS / "plan-v2.json")
    path = tmp_path / "plan.json"
    old.write(path)

    new = MergePlan.read(path)

    assert 3 == new.schema_version
    assert attrs.evolve(old, schema_version=3) == new
    assert json.loads(path.read_text(encoding="utf-8"))["merges"][0][0] == old.merges[0].archived_id


def test_show_streams_a_version_3_plan(
    plan: MergePlan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.json.gz"
    plan.write(path)
    review = plan.review

    code = main(["show", str(path), "--review", "--limit", "2"])
    out = capsys.readouterr().out

    assert 0 == code
    assert out.startswith(repr(plan))
    assert f"{review[0].archived_id} -> {review[0].synced_id}: review" in out
    assert f"{review[2].archived_id} ->" not in out
    assert f"... {len(review) - 2} more" in out
    assert 0 == main(["show", str(path), "--id", review[2].archived_id, "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert 1 == shown["total"] and review[2].archived_id == shown["items"][0]["archived_id"]


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_JSON_VALUES)
def test_plan_text_is_what_json_dumps_writes(value: Any) -> None:
    """The writer's encoder, made once, writes what json.dumps writes with the same options
    (floats, NaN, escapes, key order), so a plan's bytes do not depend on which is used."""
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    assert expected == _plan_format.dumps(value)
