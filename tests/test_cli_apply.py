"""The database commands: load, plan --db, apply, undo, history, and the demo."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from merge_engine import MergePlan, write_roster
from merge_engine.applying._account_steps import approval_ids, is_account_key
from merge_engine.cli import main
from merge_engine.storage import open_storage
from merge_engine.testing.synthetic import generate_district


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("district")
    district = generate_district(150, seed=6)
    write_roster(district.archived, root / "archived")
    write_roster(district.synced, root / "synced")
    return root / "archived", root / "synced"


@pytest.fixture
def db(folders: tuple[Path, Path], tmp_path: Path) -> Path:
    """A SQLite file loaded through `merge-engine load`."""
    path = tmp_path / "district.db"
    archived, synced = folders
    assert main(["load", "--db", str(path), "--archived", str(archived),
                 "--synced", str(synced)]) == 0  # fmt: skip
    return path


@pytest.fixture
def plan_path(db: Path, tmp_path: Path) -> Path:
    settings = tmp_path / "fast.toml"
    settings.write_text("random_pairs = 30000\n", encoding="utf-8")
    out = tmp_path / "plan.json"
    assert main(["plan", "--db", f"sqlite:///{db}", "--out", str(out),
                 "--settings", str(settings)]) == 0  # fmt: skip
    return out


def history(db: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["history", "--db", str(db), "--json"]) == 0
    records: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return records


def test_load_plan_apply_history_undo(
    db: Path, plan_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole flow on a SQLite file; history lists every apply and undo."""
    plan = MergePlan.read(plan_path)
    capsys.readouterr()

    assert main(["apply", str(plan_path), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"{len(plan.auto)} merges applied" in out
    records = history(db, capsys)
    assert len(plan.auto) == len([r for r in records if not is_account_key(str(r["archived_id"]))])
    assert "guardian merges: " in out
    assert any(str(r["archived_id"]).startswith("guardian:") for r in records)

    assert main(["apply", str(plan_path), "--db", f"sqlite:///{db}"]) == 0
    assert f"{len(plan.auto)} already_applied" in capsys.readouterr().out

    first = plan.auto[0].archived_id
    assert main(["undo", str(plan_path), "--db", str(db), "--only", first]) == 0
    assert "1 merges undone" in capsys.readouterr().out
    assert main(["history", "--db", str(db), "--id", first]) == 0
    table = capsys.readouterr().out
    assert "apply" in table
    assert "undo" in table

    assert main(["undo", str(plan_path), "--db", str(db)]) == 0
    actions = [r["action"] for r in history(db, capsys)]
    assert actions.count("apply") == actions.count("undo")


def test_dry_run_writes_nothing(
    db: Path, plan_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    assert main(["apply", str(plan_path), "--db", str(db), "--dry-run"]) == 0

    assert "would be applied" in capsys.readouterr().out
    assert history(db, capsys) == []


def test_review_merges_need_approval(
    db: Path, plan_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--approve FILE (plain list or CSV) and --approve-all-review apply review merges."""
    plan = MergePlan.read(plan_path)
    assert plan.review, "the sample district should have review merges"
    plain = tmp_path / "approved.txt"
    plain.write_text(f"# approved by the registrar\n{plan.review[0].archived_id}\n", "utf-8")

    assert main(["apply", str(plan_path), "--db", str(db), "--approve", str(plain)]) == 0
    applied = {str(r["archived_id"]) for r in history(db, capsys)}
    assert plan.review[0].archived_id in applied
    assert all(m.archived_id not in applied for m in plan.review[1:])

    assert main(["apply", str(plan_path), "--db", str(db), "--approve-all-review"]) == 0
    records = {str(r["archived_id"]) for r in history(db, capsys)}
    assert {m.archived_id for m in plan.merges} == {r for r in records if not is_account_key(r)}


def test_approval_csv_with_an_approved_column(tmp_path: Path) -> None:
    from merge_engine.applying._approvals import read_approvals  # noqa: PLC0415

    path = tmp_path / "review.csv"
    path.write_text("\ufeffarchived_id,synced_id,approved\na1,s1,yes\na2,s2,no\na3,s3,X\n", "utf-8")

    assert frozenset({"a1", "a3"}) == read_approvals(path)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["apply", "{plan}", "--db", "{missing}"], "no database at"),
        (["apply", "{plan}", "--db", "{db}", "--approve", "{unknown}"], "approved ids"),
        (["plan", "--db", "{db}", "--archived", "x", "--out", "p.json"], "either --db or"),
        (["undo", "{plan}", "--db", "{db}", "--only", "zzz"], "not archived ids"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(
    argv: list[str], expected: str, db: Path, plan_path: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("nobody\n", encoding="utf-8")
    args = [a.format(plan=plan_path, db=db, missing=tmp_path / "none.db", unknown=unknown)
            for a in argv]  # fmt: skip
    capsys.readouterr()

    code = main(args)

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: ")
    assert expected in err[-1]


def test_the_safety_valve_says_to_use_force(
    folders: tuple[Path, Path], plan_path: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Applying to a database whose sync is missing is refused until --force."""
    archived, _ = folders
    empty = tmp_path / "empty-synced"
    empty.mkdir()
    (empty / "students.csv").write_text("id,first_name,last_name\n", encoding="utf-8")
    other = tmp_path / "other.db"
    assert main(["load", "--db", str(other), "--archived", str(archived),
                 "--synced", str(empty)]) == 0  # fmt: skip
    capsys.readouterr()

    assert main(["apply", str(plan_path), "--db", str(other)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["apply", str(plan_path), "--db", str(other), "--force"]) == 1  # some stale
    assert "stale" in capsys.readouterr().out


def test_demo_builds_applies_and_explains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo needs no server, takes seconds, applies the auto merges and says what next."""
    work = tmp_path / "demo"
    start = time.perf_counter()

    assert main(["demo", "--dir", str(work)]) == 0

    seconds = time.perf_counter() - start
    out = capsys.readouterr().out
    plan = MergePlan.read(work / "plan.json")
    assert seconds < 20
    assert f"{len(plan.auto)} merges applied" in out
    assert "set aside on collisions" in out
    assert f"{len(plan.review)} merges wait for review" in out
    for command in ("merge-engine show", "merge-engine undo", "merge-engine history"):
        assert command in out
    storage = open_storage(str(work / "district.db"))
    try:
        assert len(plan.auto) == sum(
            1
            for r in storage.audit_records()
            if r.action == "apply" and not is_account_key(r.archived_id)
        )
    finally:
        storage.close()


def test_show_accounts_lists_review_steps_with_their_approval_ids(
    db: Path, plan_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reviewer sees each review account step's approval id; approving it applies it."""
    plan = MergePlan.read(plan_path)
    review = sorted(approval_ids(plan))
    assert review, "the sample district has guardian merges for review"
    capsys.readouterr()
    assert main(["show", str(plan_path), "--accounts", "--review", "--limit", "1000"]) == 0
    out = capsys.readouterr().out
    assert all(f"[approve: {i}]" in out for i in review)
    assert " auto (" not in out

    guardians = [i for i in review if i.startswith("guardian:")]
    approved = tmp_path / "approved.txt"
    approved.write_text(guardians[0] + "\n", "utf-8")
    assert main(["apply", str(plan_path), "--db", str(db), "--approve", str(approved)]) == 0
    records = {str(r["archived_id"]) for r in history(db, capsys)}
    assert guardians[0] in records
    assert not records & set(guardians[1:])


def test_the_readme_workflow_approves_reviews_after_a_first_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """load, plan, apply, then apply --approve-all-review: no reviewed merge is refused,
    although the first apply's guardian merges re-linked their synced students."""
    district = generate_district(400, seed=11)
    write_roster(district.archived, tmp_path / "archived")
    write_roster(district.synced, tmp_path / "synced")
    db, out = tmp_path / "district.db", tmp_path / "plan.json"
    assert main(["load", "--db", str(db), "--archived", str(tmp_path / "archived"),
                 "--synced", str(tmp_path / "synced")]) == 0  # fmt: skip
    assert main(["plan", "--db", str(db), "--out", str(out)]) == 0
    plan = MergePlan.read(out)
    assert plan.review and plan.guardian_merges
    assert main(["apply", str(out), "--db", str(db)]) == 0
    capsys.readouterr()

    assert main(["apply", str(out), "--db", str(db), "--approve-all-review"]) == 0

    assert "stale" not in capsys.readouterr().out
    applied = {str(r["archived_id"]) for r in history(db, capsys) if r["action"] == "apply"}
    assert {m.archived_id for m in plan.merges} <= applied
