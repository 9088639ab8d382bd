"""No names, birth dates or contact details in logs, errors, warnings, CLI output or plans.

Canary values are seeded into rosters and searched for, in every form they
could leak in, everywhere the engine writes text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from conftest import FAST, contact, make_student
from structlog.testing import capture_logs

from merge_engine import InputError, Roster, Student, build_plan, read_roster, write_roster
from merge_engine.cli import main
from merge_engine.testing.synthetic import SyntheticDistrict

FIRST, TWIN, LAST, MIDDLE = "Zyxwvut", "Wuvtrexa", "Qorblax", "Vexmira"
GUARDIAN = "Plimsoll"
EMAIL = "zyxwvut.family@example.org"
PHONE = "(646) 555-0199"
STREET = "42 Qorblax Court"
DOB = dt.date(2013, 7, 19)
CANARIES = (
    FIRST,
    TWIN,
    LAST,
    MIDDLE,
    GUARDIAN,
    "zyxwvut",
    "qorblax",
    "wuvtrexa",
    "6465550199",
    "646) 555",
    "555-0199",
    "2013-07-19",
    "07/19/2013",
    "7/19/2013",
    "19/07/2013",
    "20130719",
    "2013, 7, 19",
)


def assert_no_canary(text: str) -> None:
    lowered = text.lower()
    for canary in CANARIES:
        assert canary.lower() not in lowered, f"leaked {canary!r}"


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def canary_children(synced: bool) -> list[Student]:
    """Twins and their one-off typed duplicate, all wearing canary values."""
    guardian = contact(
        "gz-s" if synced else "gz-a",
        PHONE,
        EMAIL,
        first_name=GUARDIAN,
        last_name=LAST,
        relationship="mother",
    )
    common = {
        "middle_name": MIDDLE,
        "dob": DOB,
        "grade": 5 if synced else 4,
        "school_id": "schZ",
        "street": STREET,
        "city": "Qorblax Falls",
        "zip": "10027",
        "contacts": [guardian],
    }
    prefix = "zs" if synced else "za"
    children = [
        make_student(f"{prefix}1", FIRST, LAST, **common),
        make_student(f"{prefix}2", TWIN, LAST, **common),
    ]
    if not synced:
        children.append(make_student("za3", FIRST.upper(), LAST, **common))  # typed twice
    return children


@pytest.fixture(scope="module")
def rosters(background: SyntheticDistrict) -> tuple[Roster, Roster]:
    archived = Roster(background.archived.students + tuple(canary_children(synced=False)))
    synced = Roster(background.synced.students + tuple(canary_children(synced=True)))
    return archived, synced


def test_the_canaries_are_matched(rosters: tuple[Roster, Roster]) -> None:
    """The canary children really go through matching (so the checks below mean something)."""
    plan = build_plan(*rosters, FAST)
    merged = {(m.archived_id, m.synced_id) for m in plan.merges}
    assert {("za1", "zs1"), ("za2", "zs2"), ("za3", "zs1")} <= merged


def test_library_logs_and_plan_hold_no_pii(rosters: tuple[Roster, Roster]) -> None:
    """build_plan's log events and the plan JSON contain ids and levels only."""
    with capture_logs() as logs:
        plan = build_plan(*rosters, FAST)
    assert logs  # the planner does log
    assert_no_canary(repr(logs))
    assert_no_canary(plan.to_json())
    assert_no_canary(repr(plan))
    assert_no_canary("\n".join(m.explain() for m in plan.merges))
    assert_no_canary(repr(plan.to_records()))


def test_reprs_hold_no_pii(rosters: tuple[Roster, Roster]) -> None:
    """Student and Roster reprs (what ends up in tracebacks and logs) show no PII."""
    archived, _ = rosters
    assert_no_canary(repr(archived))
    assert_no_canary(repr([s for s in archived.students if s.id.startswith("za")]))


def test_cli_verbose_output_holds_no_pii(
    rosters: tuple[Roster, Roster], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`plan -vv` and `show` print no PII on stdout or stderr, and the plan file has none."""
    archived, synced = rosters
    write_roster(archived, tmp_path / "archived")
    write_roster(synced, tmp_path / "synced")
    settings = tmp_path / "fast.toml"
    settings.write_text("random_pairs = 30000\n", encoding="utf-8")
    out = tmp_path / "plan.json"
    argv = ["-vv", "plan", "--archived", str(tmp_path / "archived")]
    argv += ["--synced", str(tmp_path / "synced"), "--out", str(out), "--settings", str(settings)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "plan_built" in captured.err  # logging was on
    assert_no_canary(captured.out + captured.err)
    assert_no_canary(out.read_text(encoding="utf-8"))
    assert main(["-vv", "show", str(out), "--id", "za1"]) == 0
    captured = capsys.readouterr()
    assert "za1 -> zs1" in captured.out
    assert_no_canary(captured.out + captured.err)


# --- bad input: errors and warnings name places, never values ------------------------------

HEADER = "id,first_name,middle_name,last_name,dob,grade\n"
ROW = f"c1,{FIRST},{MIDDLE},{LAST},2013-07-19,4\n"


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "roster"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "files",
    [
        {"students.csv": HEADER + ROW + f"c1,{TWIN},,{LAST},07/19/2013,4\n"},  # duplicate id
        {"students.csv": HEADER + f"c1,{FIRST},{MIDDLE},{LAST},2013-07-19,4,{GUARDIAN}\n"},
        {"students.csv": HEADER + f"c1,{FIRST},{LAST},07/19/2013\n"},  # missing fields
        {"students.csv": HEADER + f'c1,"{FIRST},{LAST},07/19/2013,4\n'},  # unclosed quote
        {"students.csv": f"id,first,last_name\nc1,{TWIN},{LAST}\n"},  # no first_name column
        {
            "students.csv": HEADER + ROW,
            "contacts.csv": f"student_id,id,name,phone\nc9,g1,{GUARDIAN} {LAST},{PHONE}\n",
        },
        {
            "students.csv": "Student_id,First_name,Last_name,DOB\n"
            f"c1,{FIRST},{LAST},2013-07-19\nc1,{FIRST},{LAST},07/19/2014\n"
        },
    ],
    ids=[
        "duplicate id",
        "extra field",
        "missing field",
        "unclosed quote",
        "missing column",
        "unknown contact student",
        "clever conflicting dob",
    ],
)
def test_input_errors_hold_no_pii(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """Reader errors, and the CLI's one-line error, show file, line and column only."""
    folder = _folder(tmp_path, files)
    with pytest.raises(InputError) as info:
        read_roster(folder)
    assert_no_canary(str(info.value))
    assert_no_canary(repr(info.value))
    assert str(folder) in str(info.value)

    argv = ["-vv", "plan", "--archived", str(folder), "--synced", str(folder)]
    assert main([*argv, "--out", str(tmp_path / "p.json")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert_no_canary(captured.out + captured.err)


def test_dropped_values_warn_without_the_value(tmp_path: Path) -> None:
    """An unparseable date or grade on a canary row becomes a warning that omits the value."""
    bad = f"c1,{FIRST},{MIDDLE},{LAST},2013-19-07,{TWIN}\nc2,{TWIN},,{LAST},19.07.2013x,4\n"
    folder = _folder(tmp_path, {"students.csv": HEADER + bad})
    roster = read_roster(folder)
    assert {"dob", "grade"} <= {w.column for w in roster.warnings}
    text = repr(roster.warnings) + repr([w.to_dict() for w in roster.warnings])
    assert_no_canary(text)
    assert "2013-19-07" not in text
    assert "19.07.2013x" not in text
    other = Roster([make_student("s1", "Ann", "Lee")])
    plan = build_plan(roster, other, FAST)
    assert len(roster.warnings) == len(plan.warnings)
    assert_no_canary(plan.to_json())
    assert "2013-19-07" not in plan.to_json()


def test_stdlib_logging_at_info_shows_events_without_pii(
    rosters: tuple[Roster, Roster], caplog: pytest.LogCaptureFixture
) -> None:
    """With structlog left alone, the events go to `logging` (when asked for) and hold no PII."""
    import logging  # noqa: PLC0415

    assert not structlog.is_configured()
    with caplog.at_level(logging.INFO, logger="merge_engine"):
        build_plan(*rosters, FAST)
    built = [r for r in caplog.records if r.getMessage().startswith("plan_built ")]
    assert built and built[0].name == "merge_engine.planning._planner"
    assert "merges=" in built[0].getMessage()
    assert_no_canary("\n".join(r.getMessage() for r in caplog.records))
