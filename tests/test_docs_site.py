"""The documentation site: the generated CLI reference, the plan's JSON Schema, the tutorial.

The site itself is built with ``mkdocs build --strict`` in .ci/run.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import importlib.util
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from plan_support import OLD_PLANS, cell, col, read_json, set_cell

import merge_engine as me
from merge_engine.cli import _parser, main
from merge_engine.plan import RoleLink
from merge_engine.testing.synthetic import generate_district

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLI_REFERENCE = _load(DOCS / "hooks" / "cli_reference.py")


# --- the CLI reference -----------------------------------------------------------------


def _help(words: tuple[str, ...]) -> str:
    """What ``merge-engine WORDS --help`` prints, at the reference's width."""
    out = io.StringIO()
    with (
        CLI_REFERENCE.columns(),
        contextlib.redirect_stdout(out),
        pytest.raises(SystemExit) as exit_,
    ):
        main([*words, "--help"])
    assert 0 == exit_.value.code
    return out.getvalue().rstrip()


def test_the_cli_reference_is_every_commands_help() -> None:
    """Each section of the generated page is exactly that command's --help."""
    page = CLI_REFERENCE.render(_parser())
    sections = CLI_REFERENCE.sections(page)
    words = [w for w, _, _ in CLI_REFERENCE.commands(_parser())]

    assert [" ".join(("merge-engine", *w)) for w in words] == list(sections)
    for w in words:
        assert _help(w) == sections[" ".join(("merge-engine", *w))], w


def test_the_cli_reference_lists_nested_commands_with_their_help_line() -> None:
    page = CLI_REFERENCE.render(_parser())

    assert "| [`merge-engine review import`](#cmd-review-import) | check a decided review" in page
    assert "## merge-engine review approve-rule { #cmd-review-approve-rule }" in page


def test_the_installed_command_prints_the_referenced_help() -> None:
    """The real entry point (a fresh interpreter) prints what the page shows."""
    page = CLI_REFERENCE.render(_parser())
    env = {**os.environ, "COLUMNS": str(CLI_REFERENCE.COLUMNS)}

    done = subprocess.run(
        [sys.executable, "-m", "merge_engine", "apply", "--help"],
        capture_output=True, text=True, env=env, check=True, cwd=ROOT,
    )  # fmt: skip

    assert CLI_REFERENCE.sections(page)["merge-engine apply"] == done.stdout.rstrip()


# --- the plan's JSON Schema --------------------------------------------------------------

SCHEMA = json.loads((DOCS / "plan.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _errors(document: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(document)]


def test_the_plan_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert "https://json-schema.org/draft/2020-12/schema" == SCHEMA["$schema"]
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.fixture(scope="module")
def rosters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic district as CSV folders, one archived birth date unreadable (a warning)."""
    district = generate_district(300, seed=4, synced_dob=False)
    folder = tmp_path_factory.mktemp("rosters")
    me.write_roster(district.archived, folder / "archived")
    me.write_roster(district.synced, folder / "synced")
    _spoil_a_birth_date(folder / "archived" / "students.csv")
    return folder


@pytest.fixture(scope="module")
def plans(rosters: Path) -> dict[str, dict[str, Any]]:
    """Real plans, as written to disk, covering every list of the format."""
    archived = me.read_roster(rosters / "archived")
    synced = me.read_roster(rosters / "synced")
    out: dict[str, dict[str, Any]] = {}
    for name, settings in {
        "keep_old": me.Settings(),
        "review_old_link": me.Settings(
            unmatched_old_guardians="review", multiple_role_policy="link"
        ),
        "remove_old_merge": me.Settings(guardian_policy="remove_old", multiple_role_policy="merge"),
    }.items():
        path = rosters / f"{name}.json"
        me.build_plan(archived, synced, settings).write(path)
        out[name] = json.loads(path.read_text(encoding="utf-8"))
    return out


def _spoil_a_birth_date(path: Path) -> None:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    next(r for r in rows if r["dob"])["dob"] = "31/31/2015"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_real_plans_validate_against_the_schema(plans: dict[str, dict[str, Any]]) -> None:
    for name, plan in plans.items():
        assert [] == _errors(plan), name


def test_a_plan_of_the_previous_version_validates_against_its_schema() -> None:
    """plan-v2.schema.json describes the plans written before version 3 (still applied)."""
    old = json.loads((DOCS / "plan-v2.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(old)
    plan = read_json(OLD_PLANS / "plan-v2.json")

    assert [] == [e.message for e in validator.iter_errors(plan)]
    assert _errors(plan)  # and it is not a version-3 document


def test_the_validated_plans_cover_every_part_of_the_format(
    plans: dict[str, dict[str, Any]],
) -> None:
    """Review and auto merges, guardian merges and actions, role links, warnings all occur."""
    every = list(plans.values())
    merges = [m for p in every for m in p["merges"]]
    actions = {cell(a, "action", "guardian_actions") for p in every for a in p["guardian_actions"]}
    roles = {r[RoleLink.COLUMNS.index("action")] for p in every for r in p["multiple_role_users"]}
    guardian_merges = plans["keep_old"]["guardian_merges"]

    assert {"auto", "review"} == {cell(m, "decision") for m in merges}
    assert any(cell(m, "competitors") for m in merges)
    assert any(cell(m, "duplicates") for m in merges)
    assert all(p["shared_targets"] and p["evidence"] for p in every)
    assert {"auto", "review"} == {cell(g, "decision", "guardian_merges") for g in guardian_merges}
    assert {"flag", "detach", "review"} <= actions
    assert {"keep_apart", "link", "merge"} <= roles
    warnings = plans["keep_old"]["warnings"]
    assert any(w["line"] for w in warnings) and any(w["line"] is None for w in warnings)


def test_a_plan_made_with_a_reviewers_rejection_validates(rosters: Path, tmp_path: Path) -> None:
    """``plan --decisions`` adds a rejection note and the ``rejected_by_review`` stats."""
    folders = ["--archived", str(rosters / "archived"), "--synced", str(rosters / "synced")]
    plan, sheet, decisions = tmp_path / "plan.json", tmp_path / "r.csv", tmp_path / "d.json"
    assert 0 == main(["plan", *folders, "--out", str(plan)])
    assert 0 == main(["review", "export", str(plan), *folders, "--out", str(sheet)])
    with sheet.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    next(r for r in rows if r["kind"] == "student")["decision"] = "reject"
    with sheet.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert 0 == main(["review", "import", str(plan), str(sheet), "--out", str(decisions)])

    code = main(["plan", *folders, "--out", str(tmp_path / "p2.json"), "--decisions",
                 str(decisions)])  # fmt: skip

    second = json.loads((tmp_path / "p2.json").read_text(encoding="utf-8"))
    assert 0 == code
    assert {"student_pairs": 1, "account_steps": 0} == second["stats"]["rejected_by_review"]
    assert any("rejected by a reviewer" in w["message"] for w in second["warnings"])
    assert [] == _errors(second)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: set_cell(p["merges"][0], "decision", "maybe"), "'maybe' is not one of"),
        (lambda p: p["merges"][0].pop(col("archived_hash")), "is too short"),
        (lambda p: set_cell(p["merges"][0], "confidence", 1.5), "1.5 is greater than the maximum"),
        (lambda p: set_cell(p["merges"][0], "evidence", [-1]), "-1 is less than the minimum"),
        (lambda p: p["columns"]["merges"].reverse(), "was expected"),
        (lambda p: p.update(schema_version=4), "3 was expected"),
        (lambda p: p.update(note="hand edit"), "Additional properties are not allowed"),
        (lambda p: p["guardian_actions"][0].__setitem__(0, "delete"), "'delete' is not one of"),
        (lambda p: p.update(digest="sha256:xyz"), "does not match"),
    ],
)
def test_the_schema_refuses_what_the_reader_refuses(
    plans: dict[str, dict[str, Any]], change: Any, expected: str
) -> None:
    plan = copy.deepcopy(plans["keep_old"])
    change(plan)

    assert any(expected in e for e in _errors(plan)), _errors(plan)


def test_an_auto_merge_with_reasons_or_a_review_merge_without_is_refused(
    plans: dict[str, dict[str, Any]],
) -> None:
    plan = copy.deepcopy(plans["keep_old"])
    auto = next(m for m in plan["merges"] if cell(m, "decision") == "auto")
    review = next(m for m in plan["merges"] if cell(m, "decision") == "review")
    set_cell(auto, "reasons", ["hand-approved"])
    set_cell(review, "reasons", [])

    assert 2 <= len(_errors(plan))


# --- the tutorial notebook ----------------------------------------------------------------

TUTORIAL = DOCS / "tutorial.py"
TUTORIAL_OUTPUTS = ("plan.json", "review.csv", "review-decided.csv", "decisions.json",
                    "tutorial.db", "plan-2.json")  # fmt: skip


def _check_tutorial_outputs(folder: Path) -> None:
    for name in TUTORIAL_OUTPUTS:
        assert (folder / name).stat().st_size > 0, name
    decisions = json.loads((folder / "decisions.json").read_text(encoding="utf-8"))
    assert decisions  # the reviewer's approvals and rejections were recorded
    second = json.loads((folder / "plan-2.json").read_text(encoding="utf-8"))
    assert [] == _errors(second)
    assert any("rejected by a reviewer" in w["message"] for w in second["warnings"])


def test_the_tutorial_runs_as_a_script(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(TUTORIAL)], check=False, cwd=tmp_path, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip

    assert 0 == done.returncode, done.stderr[-3000:]
    assert "still applied after undo: 0" in done.stdout
    _check_tutorial_outputs(tmp_path)


@contextlib.contextmanager
def _notebook_tools() -> Iterator[tuple[Any, Any]]:
    """jupytext and nbclient (the ``docs`` extra): skip without them, fail in CI."""
    try:
        import jupytext  # noqa: PLC0415
        import nbclient  # noqa: PLC0415
    except ImportError as exc:
        message = f"the docs extra is not installed ({exc}); pip install -e '.[docs]'"
        if os.environ.get("MERGE_ENGINE_REQUIRE_DOCS") == "1":
            pytest.fail(message + " and MERGE_ENGINE_REQUIRE_DOCS=1 makes this a fail")
        pytest.skip(message)
    yield jupytext, nbclient


def test_the_tutorial_runs_as_a_notebook(tmp_path: Path) -> None:
    """Converted by jupytext and executed by a Jupyter kernel, it shows HTML views."""
    with _notebook_tools() as (jupytext, nbclient):
        notebook = jupytext.read(TUTORIAL)
        client = nbclient.NotebookClient(
            notebook, timeout=600, kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path)}},
        )  # fmt: skip
        client.execute()

    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("<table" in h for h in html)  # the plan, the roster, the DataFrames
    assert any("<svg" in h for h in html)  # the merge's waterfall
    _check_tutorial_outputs(tmp_path)


# --- the figure in matching.md --------------------------------------------------------------


def test_the_match_weight_figure_is_drawn_from_a_plan(tmp_path: Path) -> None:
    """The script draws every merge of a real plan, and both thresholds where they fall."""
    script = _load(DOCS / "scripts" / "match_weights.py")
    out = tmp_path / "weights.svg"

    script.main(["--students", "300", "--seed", "4", "--out", str(out)])

    text = out.read_text(encoding="utf-8")
    titles = [t.split("</title>")[0] for t in text.split("<title>")[2:]]
    drawn = sum(int(t.split()[0]) for t in titles)
    plan = me.build_plan(*_district_300())
    assert len(plan.merges) == drawn
    assert 2 == text.count('class="threshold"')
    assert "p = 0.99 (+6.6 bits)" in text and "p = 0.3 (-1.2 bits)" in text


def _district_300() -> tuple[me.Roster, me.Roster]:
    district = generate_district(300, seed=4, synced_dob=False)
    return district.archived, district.synced


def test_the_committed_figure_is_shown_in_matching_md() -> None:
    figure = DOCS / "img" / "match-weights.svg"

    assert figure.read_text(encoding="utf-8").startswith("<svg")
    assert "](img/match-weights.svg)" in (DOCS / "matching.md").read_text(encoding="utf-8")
