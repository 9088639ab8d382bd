"""The review desk: export a sheet, decide, import with line-numbered refusals, apply, re-plan."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import cast

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from merge_engine import MergePlan, read_roster, write_roster
from merge_engine._evidence import FieldEvidence
from merge_engine.cli import main
from merge_engine.model import Contact, Roster, Student
from merge_engine.plan import Competitor, Merge
from merge_engine.planning._planner import record_hashes
from merge_engine.review._decisions import Decisions
from merge_engine.review._export import (
    COLUMNS,
    Directory,
    escape_cell,
    named_ids,
    review_rows,
    unescape_cell,
)
from merge_engine.review._items import review_items
from merge_engine.storage import open_storage
from merge_engine.storage._base import RosterLookup
from merge_engine.testing.synthetic import generate_district

LOW = "confidence below the auto-merge threshold"


# --- a real district, planned from SQLite -------------------------------------------------


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("district")
    d = generate_district(600, seed=4)
    write_roster(d.archived, root / "archived")
    write_roster(d.synced, root / "synced")
    (root / "fast.toml").write_text("random_pairs = 30000\n", encoding="utf-8")
    return root


@pytest.fixture
def db_plan(district: Path, tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "district.db"
    assert main(["load", "--db", str(db), "--archived", str(district / "archived"),
                 "--synced", str(district / "synced")]) == 0  # fmt: skip
    plan = tmp_path / "plan.json"
    assert main(["plan", "--db", str(db), "--out", str(plan),
                 "--settings", str(district / "fast.toml")]) == 0  # fmt: skip
    structlog.reset_defaults()
    return db, plan


def read_sheet(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_sheet(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)


def merged_into(db: Path, ids: list[str]) -> dict[str, str | None]:
    storage = open_storage(str(db))
    try:
        with storage.transaction() as tx:
            return {i: s.merged_into for i, s in tx.students(ids).items()}
    finally:
        storage.close()


def test_export_decide_import_apply_on_sqlite(
    db_plan: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The admin's round trip: approved student pairs are merged, rejected ones are not."""
    db, plan_path = db_plan
    plan = MergePlan.read(plan_path)
    sheet = tmp_path / "review.csv"
    assert main(["review", "export", str(plan_path), "--db", str(db), "--out", str(sheet)]) == 0
    rows = read_sheet(sheet)
    students = [r for r in rows if r["kind"] in ("student", "archived_duplicate")]
    assert len(rows) == len(review_items(plan)) and len(students) == len(plan.review) >= 4
    # Names come from the database, side by side.
    archived = {s.id: s for s in open_storage(str(db)).read_roster("archived").students}
    first = students[0]
    assert archived[first["left_id"]].first_name in first["left_name"]
    assert first["right_name"] and first["right_birth_date"] and first["right_guardians"]
    approve = {r["approval_id"] for r in students if r["kind"] == "student"}
    reject = {r["approval_id"] for r in students if r["kind"] == "archived_duplicate"}
    for r in rows:
        r["decision"] = "approve" if r["approval_id"] in approve else (
            "Reject" if r["approval_id"] in reject else "")  # fmt: skip
    write_sheet(sheet, rows)
    decisions = tmp_path / "decisions.json"
    code = main(["review", "import", str(plan_path), str(sheet), "--out", str(decisions)])
    assert code == 0
    assert f"{len(approve)} approved, {len(reject)} rejected" in capsys.readouterr().out

    assert main(["apply", str(plan_path), "--db", str(db), "--decisions", str(decisions)]) == 0

    state = merged_into(db, sorted(approve | reject))
    target = {m.archived_id: m.synced_id for m in plan.merges}
    assert {a: state[a] for a in approve} == {a: target[a] for a in approve}
    assert {a: state[a] for a in reject} == dict.fromkeys(reject)


def test_rejected_pair_is_not_proposed_again(
    district: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """plan --decisions leaves a rejected pair out and says so in its warnings and stats."""
    folders = ["--archived", str(district / "archived"), "--synced", str(district / "synced")]
    plan_path = tmp_path / "plan.json"
    settings = ["--settings", str(district / "fast.toml")]
    assert main(["plan", *folders, "--out", str(plan_path), *settings]) == 0
    sheet = tmp_path / "review.csv"
    assert main(["review", "export", str(plan_path), *folders, "--out", str(sheet)]) == 0
    rows = read_sheet(sheet)
    row = next(r for r in rows if r["kind"] == "student")
    row["decision"] = "reject"
    write_sheet(sheet, rows)
    decisions = tmp_path / "decisions.json"
    assert main(["review", "import", str(plan_path), str(sheet), "--out", str(decisions)]) == 0
    pair = (row["left_id"], row["right_id"])
    before = MergePlan.read(plan_path)
    assert pair in {(m.archived_id, m.synced_id) for m in before.merges}

    again = tmp_path / "again.json"
    assert main(["plan", *folders, "--out", str(again), *settings,
                 "--decisions", str(decisions)]) == 0  # fmt: skip
    structlog.reset_defaults()

    plan = MergePlan.read(again)
    assert pair not in {(m.archived_id, m.synced_id) for m in plan.merges}
    # Left out before the assignment: the record is free to go to its next best candidate
    # (a competitor the first plan named), or it stays unmatched.
    rivals = {c.synced_id for m in before.merges if m.archived_id == pair[0] for c in m.competitors}
    now = {m.synced_id for m in plan.merges if m.archived_id == pair[0]}
    assert now <= rivals - {pair[1]} and (now or pair[0] in plan.unmatched_archived)
    assert plan.stats["rejected_by_review"]["student_pairs"] == 1
    notes = [w["message"] for w in plan.warnings]
    assert f"rejected by a reviewer, not proposed: {pair[0]} -> {pair[1]}" in notes
    capsys.readouterr()
    assert main(["show", str(again), "--warnings"]) == 0
    assert f"{pair[0]} -> {pair[1]}" in capsys.readouterr().out


# --- a hand-made plan: every refusal, with its line ---------------------------------------

EVIDENCE = [FieldEvidence("first_name", "exact", 5.0), FieldEvidence("dob", "exact", 9.0)]


def _student(sid: str, first: str, last: str, **kw: object) -> Student:
    return Student(id=sid, first_name=first, last_name=last, dob=dt.date(2014, 3, 1), grade=3,
                   school_id="sch1", **kw)  # type: ignore[arg-type]  # fmt: skip


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Roster, Roster]:
    """Two review merges onto one synced student that the plan does not call one child,
    ids that a spreadsheet would take for formulas, and low-confidence pairs for rules."""
    archived = [
        _student("-a1", '=HYPERLINK("x")', "Okafor"),
        _student("a2", "Amara", "Okafor"),
        _student("a3", "@Bea", "Lind"),
        _student("a4", "Cato", "Berg"),
        _student("a5", "Dina", "Berg"),
    ]
    synced = [
        _student("s1", "Amara", "Okafor", contacts=[Contact("g1", "Ada", "Okafor")]),
        _student("s3", "Bea", "Lind"),
        _student("s4", "Cato", "Berg"),
        _student("s5", "Dina", "Berg"),
    ]
    by_id = {s.id: s for s in [*archived, *synced]}

    def merge(a: str, s: str, confidence: float, *reasons: str, **kw: object) -> Merge:
        return Merge(a, s, confidence, "review", 10.0, 1.0, EVIDENCE, reasons,
                     **record_hashes(by_id[a], by_id[s]), **kw)  # type: ignore[arg-type]  # fmt: skip

    merges = [
        merge("-a1", "s1", 0.97, LOW),
        merge(
            "a2",
            "s1",
            0.98,
            "a competing candidate is within 0.2 bits",
            competitors=[Competitor("-a1", "s1", 0.97)],
        ),
        merge("a3", "s3", 0.95, LOW),
        merge("a4", "s4", 0.985, LOW),
        merge("a5", "s5", 0.99, LOW, "surnames differ"),
    ]
    plan = MergePlan(merges, [], [], [], {}, {}, {}, {"archived": "x", "synced": "y"})
    path = tmp_path / "plan.json"
    plan.write(path)
    a_roster, s_roster = Roster(archived), Roster(synced)
    write_roster(a_roster, tmp_path / "archived")
    write_roster(s_roster, tmp_path / "synced")
    return path, a_roster, s_roster


def _export(plan: Path, out: Path) -> list[dict[str, str]]:
    folders = ["--archived", str(plan.parent / "archived"), "--synced", str(plan.parent / "synced")]
    assert main(["review", "export", str(plan), *folders, "--out", str(out)]) == 0
    return read_sheet(out)


def test_every_refusal_names_its_line_and_no_name(
    small: tuple[Path, Roster, Roster], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown ids, unknown words, changed records and two children onto one synced student
    are each refused with the line they are on (exit 2); nothing is written."""
    plan, archived, _ = small
    sheet = tmp_path / "review.csv"
    rows = {unescape_cell(r["approval_id"]): r for r in _export(plan, sheet)}
    rows["-a1"]["decision"] = "approve"
    rows["a2"]["decision"] = "approve"  # a second child onto s1
    rows["a3"]["decision"] = "maybe"
    rows["a4"]["decision"] = "approve"
    rows["a4"]["record_hash"] = "0" * 16 + ":" + "0" * 16  # the records changed since
    rows["a5"]["decision"] = "reject"
    unknown = dict(rows["a5"], approval_id="a9", left_id="a9", decision="approve")
    ordered = [rows["-a1"], rows["a2"], rows["a3"], rows["a4"], rows["a5"], unknown]
    write_sheet(sheet, ordered)
    capsys.readouterr()
    out = tmp_path / "decisions.json"

    code = main(["review", "import", str(plan), str(sheet), "--out", str(out)])

    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert str(sheet) in err
    assert "line 2: synced student s1 would receive two different children (-a1, a2)" in err
    assert "line 3: synced student s1 would receive two different children" in err
    assert "line 4: unknown decision for a3" in err
    assert "line 5: a4: the records changed since the sheet was made" in err
    assert "line 7: a9 is not a review item of this plan" in err
    assert "line 6" not in err  # a rejection of a known, unchanged pair is fine
    names = {s.first_name for s in archived.students} | {s.last_name for s in archived.students}
    assert not [n for n in names if n in err]


def test_one_refusal_names_file_and_line(
    small: tuple[Path, Roster, Roster], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, _, _ = small
    sheet = tmp_path / "review.csv"
    rows = _export(plan, sheet)
    rows[2]["decision"] = "yes please"
    write_sheet(sheet, rows)
    capsys.readouterr()
    code = main(["review", "import", str(plan), str(sheet), "--out", str(tmp_path / "d.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(
        f"error: {sheet}, line 4: unknown decision for {unescape_cell(rows[2]['approval_id'])};"
    )


def test_escaped_cells_import_back(
    small: tuple[Path, Roster, Roster], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name or id that starts like a formula is quoted in the sheet and read back as it was."""
    plan, _, _ = small
    sheet = tmp_path / "review.csv"
    _export(plan, sheet)
    with open(sheet, encoding="utf-8-sig", newline="") as handle:
        cells = [c for row in list(csv.reader(handle))[1:] for c in row]
    assert "'-a1" in cells and '\'=HYPERLINK("x") Okafor' in cells and "'@Bea Lind" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    rows = read_sheet(sheet)
    for r in rows:
        r["decision"] = "approve" if unescape_cell(r["approval_id"]) == "-a1" else ""
    write_sheet(sheet, rows)
    out = tmp_path / "decisions.json"
    assert main(["review", "import", str(plan), str(sheet), "--out", str(out)]) == 0
    assert [d.approval_id for d in Decisions.read(out).approved] == ["-a1"]


def test_xlsx_sheet_round_trips(small: tuple[Path, Roster, Roster], tmp_path: Path) -> None:
    """The xlsx sheet holds the same cells as text (no formulas) and imports like the CSV."""
    import openpyxl  # noqa: PLC0415

    plan, _, _ = small
    sheet = tmp_path / "review.xlsx"
    _export_xlsx = ["review", "export", str(plan), "--archived", str(plan.parent / "archived"),
                    "--synced", str(plan.parent / "synced"), "--out", str(sheet)]  # fmt: skip
    assert main(_export_xlsx) == 0
    book = openpyxl.load_workbook(sheet)
    ws = book["review"]
    header = [c.value for c in ws[1]]
    assert tuple(header) == COLUMNS
    assert all(c.data_type == "s" for row in ws.iter_rows(min_row=2) for c in row if c.value)
    ids = [ws.cell(row=r, column=header.index("approval_id") + 1).value for r in range(2, 7)]
    assert "'-a1" in ids
    for r in range(2, ws.max_row + 1):
        if ws.cell(row=r, column=3).value == "a3":
            ws.cell(row=r, column=1).value = "approve"
        if ws.cell(row=r, column=3).value == "'-a1":
            ws.cell(row=r, column=1).value = "reject"
    book.save(sheet)
    out = tmp_path / "decisions.json"
    assert main(["review", "import", str(plan), str(sheet), "--out", str(out)]) == 0
    decisions = Decisions.read(out)
    assert [d.approval_id for d in decisions.approved] == ["a3"]
    assert [d.approval_id for d in decisions.rejected] == ["-a1"]


@given(st.text())
def test_formula_escaping_round_trips(value: str) -> None:
    """Escaping never leaves a formula start, and unescaping gives the value back."""
    escaped = escape_cell(value)
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert unescape_cell(escaped) == value


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_formula_escaping_round_trips_through_csv(values: list[str]) -> None:
    import io  # noqa: PLC0415

    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerow([escape_cell(v) for v in values])
    buffer.seek(0)
    back = next(csv.reader(buffer))
    assert [unescape_cell(v) for v in back] == values


def test_approve_rule_counts_before_writing_and_refuses_unsafe_reasons(
    small: tuple[Path, Roster, Roster], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only items whose only reason is the safe one, at or above the confidence, are approved;
    a reason that can hide another child is refused with why."""
    plan, _, _ = small
    out = tmp_path / "rule.json"
    rule = ["review", "approve-rule", str(plan), "--reason", LOW, "--out", str(out)]
    capsys.readouterr()
    assert main([*rule, "--min-confidence", "0.96", "--dry-run"]) == 0
    assert "2 items whose only reason" in capsys.readouterr().out and not out.exists()

    assert main([*rule, "--min-confidence", "0.96"]) == 0
    assert [d.approval_id for d in Decisions.read(out).approved] == ["-a1", "a4"]
    assert "2 items" in capsys.readouterr().out

    competing = "a competing candidate is within 0.2 bits"
    unsafe = ["review", "approve-rule", str(plan), "--min-confidence", "0.5",
              "--out", str(tmp_path / "x.json"), "--reason", competing]  # fmt: skip
    assert main(unsafe) == 2
    err = capsys.readouterr().err
    assert "twin, a sibling, a namesake or a competing candidate" in err
    assert not (tmp_path / "x.json").exists()


def test_apply_refuses_two_children_and_stale_decisions(
    small: tuple[Path, Roster, Roster], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The safety net holds at apply too: two children onto one synced student by --approve,
    or decisions whose records no longer match the plan, stop it before anything is read."""
    plan, _, _ = small
    approve = tmp_path / "approved.txt"
    approve.write_text("-a1\na2\n", encoding="utf-8")
    db = tmp_path / "empty.db"
    capsys.readouterr()
    assert main(["apply", str(plan), "--db", str(db), "--approve", str(approve)]) == 2
    assert "two children onto one synced student (-a1, a2)" in capsys.readouterr().err

    decisions = tmp_path / "d.json"
    assert main(["review", "approve-rule", str(plan), "--reason", LOW,
                 "--min-confidence", "0.9", "--out", str(decisions)]) == 0  # fmt: skip
    data = json.loads(decisions.read_text(encoding="utf-8"))
    data["approved"][0]["record_hash"] = "changed"
    decisions.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    assert main(["apply", str(plan), "--db", str(db), "--decisions", str(decisions)]) == 2
    err = capsys.readouterr().err
    assert f"the records of {data['approved'][0]['approval_id']} changed" in err


def test_show_names_the_records_the_competitor_and_what_differs(
    small: tuple[Path, Roster, Roster], capsys: pytest.CaptureFixture[str]
) -> None:
    plan, _, _ = small
    folders = ["--archived", str(plan.parent / "archived"), "--synced", str(plan.parent / "synced")]
    capsys.readouterr()
    assert main(["show", str(plan), "--review", "--limit", "0", *folders]) == 0
    out = capsys.readouterr().out
    assert out.count(" -> s") == 5  # --limit 0: all of them
    assert "archived a2: Amara Okafor" in out and "synced   s1: Amara Okafor" in out
    assert 'competitor: archived -a1 (=HYPERLINK("x") Okafor), confidence 0.970' in out
    assert "differs: nothing" in out
    assert main(["show", str(plan), "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "... 3 more" in out and "ids only" in out


def test_show_with_a_limit_names_its_merges_as_show_of_all_does(
    small: tuple[Path, Roster, Roster], capsys: pytest.CaptureFixture[str]
) -> None:
    """show --limit keeps only the shown merges' people (memory at 150k): the same lines,
    the competitor and the duplicates named though they are not among the merges shown."""
    plan, _, _ = small
    folders = ["--archived", str(plan.parent / "archived"), "--synced", str(plan.parent / "synced")]
    capsys.readouterr()
    assert main(["show", str(plan), "--review", "--limit", "0", *folders]) == 0
    every = capsys.readouterr().out.split("\n")
    assert main(["show", str(plan), "--review", "--limit", "1", *folders]) == 0
    some = capsys.readouterr().out.split("\n")
    assert some[-2] == "... 4 more (use --limit, or --limit 0 for all)"
    assert some[:-2] == every[: len(some) - 2]
    assert main(["show", str(plan), "--id", "a2", *folders]) == 0
    out = capsys.readouterr().out
    assert "a2 -> s1" in out and "-a1 ->" not in out
    assert 'competitor: archived -a1 (=HYPERLINK("x") Okafor), confidence 0.970' in out


def test_sheet_named_from_only_its_people_equals_the_sheet_from_everyone(
    district: Path, db_plan: tuple[Path, Path]
) -> None:
    """The export keeps only the people its rows name (memory at 150k); same rows."""
    plan = MergePlan.read(db_plan[1])
    archived = read_roster(district / "archived")
    synced = read_roster(district / "synced")
    ids = named_ids(plan)
    everyone = Directory.of(archived, synced)
    few = Directory.of(archived, only=ids) | Directory.of(synced, only=ids)
    kinds = {item.kind for item in review_items(plan)}
    assert {"student", "guardian_merge"} <= kinds, kinds
    assert len(few.students) < len(everyone.students) / 2
    assert review_rows(plan, few) == review_rows(plan, everyone)
    assert any(row["left_name"] for row in review_rows(plan, few))


def test_sheet_from_a_database_read_in_part_equals_the_sheet_from_its_whole_rosters(
    district: Path, db_plan: tuple[Path, Path], tmp_path: Path
) -> None:
    """From a database the export reads only the people named (read_roster_of): same bytes."""
    db, plan_path = db_plan
    plan = MergePlan.read(plan_path)
    storage = open_storage(str(db))
    try:
        ids = named_ids(plan)
        lookup = cast(RosterLookup, storage)
        part = [lookup.read_roster_of(side, ids) for side in ("archived", "synced")]
        whole = [storage.read_roster(side) for side in ("archived", "synced")]
    finally:
        storage.close()
    sheet = tmp_path / "review.csv"

    assert main(["review", "export", str(plan_path), "--db", str(db), "--out", str(sheet)]) == 0
    rows = review_rows(plan, Directory.of(*whole))
    assert rows == [{k: unescape_cell(v) for k, v in row.items()} for row in read_sheet(sheet)]
    assert sum(len(r.students) for r in part) < sum(len(r.students) for r in whole) / 2
    assert review_rows(plan, Directory.of(*part, only=ids)) == rows
