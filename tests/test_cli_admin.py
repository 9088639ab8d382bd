"""The command line as admins expect it: --version, output options anywhere, --json shapes,
progress bars only on a terminal, exit codes, and no traceback ever."""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST, contact, make_student, roster

import merge_engine
from merge_engine import MergePlan, build_plan, write_roster
from merge_engine.cli import _parser, main
from merge_engine.cli._progress import PLAN_STAGES
from merge_engine.testing.synthetic import generate_district

Shape = dict[str, type | tuple[type, ...]]
OPT_STR = (str, type(None))
OPT_INT = (int, type(None))


def assert_shape(value: dict[str, Any], shape: Shape) -> None:
    """``value`` has exactly the keys of ``shape``, each of its type."""
    assert sorted(shape) == sorted(value)
    wrong = {k: type(value[k]).__name__ for k, t in shape.items() if not isinstance(value[k], t)}
    assert {} == wrong


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 0) -> Any:
    capsys.readouterr()
    assert main(argv) == code
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("district")
    district = generate_district(80, seed=11)
    write_roster(district.archived, root / "archived")
    write_roster(district.synced, root / "synced")
    return root / "archived", root / "synced"


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("settings") / "fast.toml"
    path.write_text("random_pairs = 30000\n", encoding="utf-8")
    return path


@pytest.fixture
def db(folders: tuple[Path, Path], tmp_path: Path) -> Path:
    path = tmp_path / "district.db"
    archived, synced = folders
    assert main(["load", "--db", str(path), "--archived", str(archived),
                 "--synced", str(synced), "--no-progress"]) == 0  # fmt: skip
    return path


@pytest.fixture
def plan_path(db: Path, fast: Path, tmp_path: Path) -> Path:
    out = tmp_path / "plan.json"
    assert main(["plan", "--db", str(db), "--out", str(out), "--settings", str(fast)]) == 0
    return out


# --- options and help -------------------------------------------------------------


def test_version_comes_from_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])

    assert stop.value.code == 0
    assert f"merge-engine {merge_engine.__version__}\n" == capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "verbose", "quiet", "no_progress"),
    [
        (["settings"], 0, False, False),
        (["-v", "settings"], 1, False, False),
        (["settings", "-v"], 1, False, False),
        (["-v", "settings", "-vv"], 2, False, False),
        (["--quiet", "settings"], 0, True, False),
        (["settings", "-q", "--no-progress"], 0, True, True),
        (["--no-progress", "review", "import", "p.json", "s.csv", "--out", "d.json", "-v"],
         1, False, True),
    ],
)  # fmt: skip
def test_output_options_before_and_after_the_command(
    argv: list[str], verbose: int, quiet: bool, no_progress: bool
) -> None:
    args = _parser().parse_args(argv)

    assert (verbose, quiet, no_progress) == (args.verbose, args.quiet, args.no_progress)


def _walk(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.Action]]:
    out = []
    for action in parser._actions:
        out.append((path, action))
        if isinstance(action, argparse._SubParsersAction):
            out += [(f"{path} {c.dest}", c) for c in action._choices_actions]
            for name, sub in action.choices.items():
                out += _walk(sub, f"{path} {name}")
    return out


def test_every_command_and_option_has_help() -> None:
    actions = _walk(_parser(), "merge-engine")
    missing = [f"{path}: {a.option_strings or a.dest}" for path, a in actions
               if not (a.help and a.help.strip())]  # fmt: skip

    assert len(actions) > 100  # the walk reached every command's options
    assert [] == missing


def _leaves(parser: argparse.ArgumentParser, path: str) -> dict[str, argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {path: parser}
    out: dict[str, argparse.ArgumentParser] = {}
    for name, sub in subs[0].choices.items():
        out |= _leaves(sub, f"{path} {name}".strip())
    return out


def test_every_command_takes_json() -> None:
    leaves = _leaves(_parser(), "")
    without = [name for name, p in leaves.items()
               if not any("--json" in a.option_strings for a in p._actions)]  # fmt: skip

    assert len(leaves) == 16  # plan-many and apply-many included
    assert [] == without


# --- --json shapes (docs/cli.md) ------------------------------------------------------

PLAN_SHAPE: Shape = {
    "plan": str, "plan_id": str, "archived_students": int, "synced_students": int,
    "pairs_compared": int, "pairs_possible": int, "merges": int, "auto": int, "review": int,
    "unmatched_archived": int, "unmatched_synced": int, "guardian_merges": int,
    "guardian_folds": int, "guardian_actions": int, "multiple_role_users": int,
    "account_steps_to_review": int, "warnings": int,
}  # fmt: skip
REPORT_SHAPE: Shape = {
    "action": str, "plan_fingerprint": str, "dry_run": bool, "seconds": float, "counts": dict,
    "rows": dict, "set_aside": dict, "links": int, "kept": dict, "warnings": list,
    "outcomes": list, "account_counts": dict, "account_outcomes": list,
}  # fmt: skip
OUTCOME_SHAPE: Shape = {
    "kind": str, "archived_id": str, "synced_id": str, "status": str, "reason": str,
    "rows": dict, "set_aside": dict, "links": int, "kept": dict,
}  # fmt: skip
SHOW_SHAPE: Shape = {"plan_id": str, "view": str, "total": int, "shown": int, "items": list}
PERSON_SHAPE: Shape = {"id": str, "name": OPT_STR, "dob": OPT_STR, "grade": OPT_INT,
                       "school_id": OPT_STR}  # fmt: skip
SHOW_MERGE_SHAPE: Shape = {
    "archived_id": str, "synced_id": str, "confidence": float, "decision": str,
    "match_weight": float, "margin_bits": (float, type(None)), "evidence": list, "reasons": list,
    "competitors": list, "duplicates": list, "archived_hash": str, "synced_hash": str,
    "synced_guardians": list, "archived": dict, "synced": dict, "differs": OPT_STR,
    "competitors_named": list,
}  # fmt: skip


def test_plan_json(folders: tuple[Path, Path], fast: Path, tmp_path: Path,
                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    archived, synced = folders
    out = tmp_path / "plan.json"

    value = run_json(["plan", "--archived", str(archived), "--synced", str(synced),
                      "--out", str(out), "--settings", str(fast), "--json"], capsys)  # fmt: skip

    assert_shape(value, PLAN_SHAPE)
    plan = MergePlan.read(out)
    assert (value["auto"], value["review"]) == (len(plan.auto), len(plan.review))


def test_show_json_views(folders: tuple[Path, Path], plan_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    archived, synced = folders
    names = ["--archived", str(archived), "--synced", str(synced)]
    plan = MergePlan.read(plan_path)

    merges = run_json(["show", str(plan_path), "--json", "--limit", "0", *names], capsys)
    review = run_json(["show", str(plan_path), "--json", "--review", "--limit", "2"], capsys)
    warnings = run_json(["show", str(plan_path), "--json", "--warnings"], capsys)
    accounts = run_json(["show", str(plan_path), "--json", "--accounts"], capsys)

    for value, view in ((merges, "merges"), (review, "review"), (warnings, "warnings"),
                        (accounts, "accounts")):  # fmt: skip
        assert_shape(value, SHOW_SHAPE)
        assert view == value["view"]
    assert (len(plan.merges), len(plan.merges)) == (merges["total"], merges["shown"])
    assert (len(plan.review), min(2, len(plan.review))) == (review["total"], review["shown"])
    first = merges["items"][0]
    assert_shape(first, SHOW_MERGE_SHAPE)
    assert_shape(first["archived"], PERSON_SHAPE)
    assert first["archived"]["name"]  # names come from the rosters
    assert {"comparison", "level", "bits", "label"} == set(first["evidence"][0])
    assert (
        len(plan.guardian_merges)
        + len(plan.guardian_folds)
        + len(plan.guardian_actions)
        + len(plan.role_links)
        == (accounts["total"])
    )
    assert all(isinstance(s["step"], str) for s in accounts["items"])


def test_database_commands_json(db: Path, plan_path: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    dry = run_json(["apply", str(plan_path), "--db", str(db), "--dry-run", "--json"], capsys)
    done = run_json(["apply", str(plan_path), "--db", str(db), "--json"], capsys)
    plans = run_json(["history", "--db", str(db), "--plans", "--json"], capsys)
    records = run_json(["history", "--db", str(db), "--json"], capsys)
    undone = run_json(["undo", str(plan_path), "--db", str(db), "--json"], capsys)

    for value, action, is_dry in ((dry, "apply", True), (done, "apply", False),
                                  (undone, "undo", False)):  # fmt: skip
        assert_shape(value, REPORT_SHAPE)
        assert (action, is_dry) == (value["action"], value["dry_run"])
        assert_shape(value["outcomes"][0], OUTCOME_SHAPE)
    assert done["counts"]["applied"] == len(MergePlan.read(plan_path).auto)
    assert isinstance(plans, list) and len(plans) == 1
    assert_shape(plans[0], {"plan_id": str, "applied": int, "undone": int, "still_applied": int,
                            "steps_applied": int, "steps_undone": int, "steps_still_applied": int,
                            "first_at": str, "last_at": str})  # fmt: skip
    assert isinstance(records, list) and records
    assert_shape(records[0], {"at": str, "action": str, "plan_fingerprint": str,
                              "archived_id": str, "synced_id": str, "rows": dict,
                              "note": str})  # fmt: skip


def test_load_audit_settings_sample_json(folders: tuple[Path, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    archived, synced = folders
    rosters = ["--archived", str(archived), "--synced", str(synced)]

    load = run_json(["load", "--db", str(tmp_path / "x.db"), *rosters, "--json"], capsys)
    audit = run_json(["audit", "--synced", str(synced), "--json"], capsys)
    settings = run_json(["settings", "--json"], capsys)
    sample = run_json(["sample", "--out", str(tmp_path / "s"), "--json"], capsys)

    assert_shape(load, {"db": str, "archived_students": int, "synced_students": int,
                        "guardians": int, "links": int, "staff": int, "replaced": bool,
                        "seconds": float})  # fmt: skip
    assert load["archived_students"] == len(list(csv_rows(archived / "students.csv")))
    assert {"students", "guardians", "staff", "counts", "guardians_without_sis_id_by_school",
            "findings"} == set(audit)  # fmt: skip
    assert settings["grade_progression"] == 1
    assert_shape(sample, {"archived": str, "synced": str})
    assert Path(sample["synced"], "students.csv").exists()


def csv_rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[1:]


def test_review_and_report_json(folders: tuple[Path, Path], plan_path: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    archived, synced = folders
    names = ["--archived", str(archived), "--synced", str(synced)]
    sheet, decisions = tmp_path / "review.csv", tmp_path / "decisions.json"

    export = run_json(["review", "export", str(plan_path), "--out", str(sheet), *names,
                       "--json"], capsys)  # fmt: skip
    imported = run_json(["review", "import", str(plan_path), str(sheet), "--out",
                         str(decisions), "--json"], capsys)  # fmt: skip
    rule = run_json(
        [
            "review",
            "approve-rule",
            str(plan_path),
            "--reason",
            "confidence below the auto-merge threshold",
            "--min-confidence",
            "0.5",
            "--out",
            str(tmp_path / "rule.json"),
            "--dry-run",
            "--json",
        ],
        capsys,
    )
    report = run_json(["report", str(plan_path), "--out", str(tmp_path / "r.html"), *names,
                       "--json"], capsys)  # fmt: skip

    assert_shape(export, {"out": str, "format": str, "decisions": int, "kinds": dict})
    with sheet.open(encoding="utf-8", newline="") as f:
        assert export["decisions"] == len(list(csv.DictReader(f))) > 0
    assert_shape(imported, {"out": str, "approved": int, "rejected": int, "undecided": int})
    assert (0, 0, export["decisions"]) == (
        imported["approved"],
        imported["rejected"],
        imported["undecided"],
    )
    assert_shape(rule, {"approved": int, "approval_ids": list, "out": OPT_STR})
    assert rule["out"] is None and rule["approved"] == len(rule["approval_ids"])
    assert_shape(report, {"out": str, "plan_id": str, "merges": int, "review": int,
                          "names": bool})  # fmt: skip
    assert report["names"] is True


def test_demo_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    value = run_json(["demo", "--dir", str(tmp_path / "d"), "--students", "40", "--json"], capsys)

    assert_shape(value, {"dir": str, "db": str, "history_rows": int, "plan": dict,
                         "apply": dict})  # fmt: skip
    assert_shape(value["plan"], PLAN_SHAPE)
    assert value["apply"]["counts"]["applied"] == value["plan"]["auto"]


# --- progress bars ------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _stderr_of(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO,
               run: Callable[[], int]) -> str:  # fmt: skip
    monkeypatch.setattr(sys, "stderr", stream)
    assert run() == 0
    monkeypatch.undo()
    return stream.getvalue()


def test_progress_bars_only_on_a_terminal(
    folders: tuple[Path, Path], fast: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archived, synced = folders
    db = tmp_path / "p.db"
    rosters = ["--archived", str(archived), "--synced", str(synced)]

    def plan(out: str, *extra: str) -> Callable[[], int]:
        return lambda: main(["plan", *rosters, "--out", str(tmp_path / out),
                             "--settings", str(fast), *extra])  # fmt: skip

    on_tty = _stderr_of(monkeypatch, FakeTerminal(), plan("a.json"))
    piped = _stderr_of(monkeypatch, io.StringIO(), plan("b.json"))
    switched_off = _stderr_of(monkeypatch, FakeTerminal(), plan("c.json", "--no-progress"))
    quiet = _stderr_of(monkeypatch, FakeTerminal(), plan("d.json", "-q"))
    load = _stderr_of(monkeypatch, FakeTerminal(), lambda: main(["load", "--db", str(db),
                                                                 *rosters]))  # fmt: skip
    apply = _stderr_of(
        monkeypatch,
        FakeTerminal(),
        lambda: main(["apply", str(tmp_path / "a.json"), "--db", str(db)]),
    )
    undo = _stderr_of(
        monkeypatch,
        FakeTerminal(),
        lambda: main(["undo", str(tmp_path / "a.json"), "--db", str(db)]),
    )

    assert "planning" in on_tty and "\r" in on_tty and "step" in on_tty
    assert "loading" in load and "applying" in apply and "undoing" in undo
    assert ("", "", "") == (piped, switched_off, quiet)


def test_the_cli_knows_every_planner_stage() -> None:
    stages: list[str] = []

    build_plan(
        roster([make_student("a1", "Ana", "Diaz")]),
        roster([make_student("s1", "Ana", "Diaz")]),
        FAST,
        progress=stages.append,
    )

    assert list(PLAN_STAGES) == stages


# --- errors and exit codes ------------------------------------------------------------


def test_a_closed_pipe_ends_quietly_with_141(plan_path: Path) -> None:
    """`merge-engine show plan.json | head -1`: the reader goes away; no traceback."""
    child = subprocess.Popen(
        [sys.executable, "-m", "merge_engine", "show", str(plan_path), "--limit", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    # Closed before the child can have written (it is still importing): every write then
    # meets the closed pipe, whatever the pipe's buffer size; `head -1` after its line alike.
    child.stdout.close()
    err = child.stderr.read().decode()
    code = child.wait(timeout=60)

    assert (141, "") == (code, err)


def test_an_unexpected_error_is_one_line_without_personal_data(
    plan_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*_: object, **__: object) -> MergePlan:
        raise RuntimeError("Linh Wong")  # a third-party message quoting a roster cell

    monkeypatch.setattr("merge_engine.cli._show.PlanFile.open", boom)
    capsys.readouterr()

    code = main(["show", str(plan_path)])
    err = capsys.readouterr().err
    verbose_code = main(["show", str(plan_path), "-v"])
    verbose_err = capsys.readouterr().err

    assert 2 == code == verbose_code
    assert 1 == len(err.splitlines())
    assert err.startswith("error: unexpected RuntimeError") and "run with -v for details" in err
    assert "Linh" not in err and "Traceback" not in err
    assert "Traceback" in verbose_err


def test_a_malformed_plan_names_the_merge_and_the_key(
    plan_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(plan_path.read_text(encoding="utf-8"))
    del data["digest"]
    del data["merges"][1][1]  # the synced id
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()

    code = main(["show", str(bad)])
    err = capsys.readouterr().err

    assert 2 == code
    assert "merges[1]" in err and "synced_id" in err and "Traceback" not in err


def test_exit_codes_of_apply_including_dry_run(
    folders: tuple[Path, Path], db: Path, plan_path: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """0 done, 1 some refused (stale), 2 bad input or the safety valve; --dry-run alike."""
    archived, _ = folders
    empty = tmp_path / "empty-synced"
    empty.mkdir()
    (empty / "students.csv").write_text("id,first_name,last_name\n", encoding="utf-8")
    shrunk = tmp_path / "shrunk.db"
    assert main(["load", "--db", str(shrunk), "--archived", str(archived),
                 "--synced", str(empty)]) == 0  # fmt: skip
    plan, missing = str(plan_path), str(tmp_path / "missing.json")

    codes = {
        "dry run, done": main(["apply", plan, "--db", str(db), "--dry-run"]),
        "done": main(["apply", plan, "--db", str(db)]),
        "bad input": main(["apply", missing, "--db", str(db)]),
        "bad input, dry run": main(["apply", missing, "--db", str(db), "--dry-run"]),
        "safety valve": main(["apply", plan, "--db", str(shrunk)]),
        "safety valve, dry run": main(["apply", plan, "--db", str(shrunk), "--dry-run"]),
        "stale, dry run": main(["apply", plan, "--db", str(shrunk), "--force", "--dry-run"]),
        "stale": main(["apply", plan, "--db", str(shrunk), "--force"]),
        "undo done": main(["undo", plan, "--db", str(db)]),
    }

    assert {
        "dry run, done": 0, "done": 0, "bad input": 2, "bad input, dry run": 2,
        "safety valve": 2, "safety valve, dry run": 2, "stale, dry run": 1, "stale": 1,
        "undo done": 0,
    } == codes  # fmt: skip


def test_an_unreadable_output_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    capsys.readouterr()

    code = main(["sample", "--out", str(blocker / "sub")])
    err = capsys.readouterr().err

    assert 2 == code
    assert err.startswith("error: ") and 1 == len(err.splitlines())


# --- grade levels in the same school year ---------------------------------------------


def test_same_school_year_grades_read_as_same_not_adjacent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from merge_engine import Settings  # noqa: PLC0415

    settings = Settings(random_pairs=30_000, grade_progression=0)
    # Each pair shares a guardian phone: names alone under the auto threshold are not proposed.
    ana = (contact("g1", "212-555-0101"),)
    bo = (contact("g2", "212-555-0102"),)
    archived = roster([make_student("a1", "Ana", "Diaz", grade=3, contacts=ana),
                       make_student("a2", "Bo", "Lee", grade=4, contacts=bo)])  # fmt: skip
    synced = roster([make_student("s1", "Ana", "Diaz", grade=3, contacts=ana),
                     make_student("s2", "Bo", "Lee", grade=5, contacts=bo)])  # fmt: skip
    plan = build_plan(archived, synced, settings)
    out = tmp_path / "plan.json"
    plan.write(out)
    levels = {m.archived_id: next(e.level for e in m.evidence if e.comparison == "grade")
              for m in plan.merges}  # fmt: skip
    capsys.readouterr()

    assert main(["show", str(out)]) == 0
    text = capsys.readouterr().out

    assert {"a1": "expected", "a2": "adjacent"} == levels  # identical grade is not "adjacent"
    assert "same grade" in text and "one grade apart" in text
    assert "adjacent" not in text
