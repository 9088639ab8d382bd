"""The merge-engine command line: plan, show, settings, and clean errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

from merge_engine import MergePlan, Settings, build_plan, read_roster, write_roster
from merge_engine.cli import main
from merge_engine.testing.synthetic import generate_district


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("district")
    district = generate_district(150, seed=6)
    write_roster(district.archived, root / "archived")
    write_roster(district.synced, root / "synced")
    return root / "archived", root / "synced"


@pytest.fixture(scope="module")
def fast_settings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("settings") / "fast.toml"
    path.write_text("random_pairs = 30000\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def plan_file(
    folders: tuple[Path, Path], fast_settings: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    archived, synced = folders
    code = main(
        [
            "plan",
            "--archived",
            str(archived),
            "--synced",
            str(synced),
            "--out",
            str(out),
            "--settings",
            str(fast_settings),
        ]
    )
    assert code == 0
    structlog.reset_defaults()
    return out


def _plan_args(archived: Path, synced: Path, out: Path, *extra: str) -> list[str]:
    return ["plan", "--archived", str(archived), "--synced", str(synced), "--out", str(out), *extra]


def test_plan_writes_a_plan_and_prints_a_summary(
    folders: tuple[Path, Path],
    fast_settings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`plan` writes a readable plan and prints its counts and where it went."""
    out = tmp_path / "plan.json"
    code = main(_plan_args(*folders, out, "--settings", str(fast_settings)))
    captured = capsys.readouterr()
    assert code == 0
    plan = MergePlan.read(out)
    assert repr(plan) in captured.out
    assert f"plan written to {out}" in captured.out
    assert f"of {plan.stats['pairs_possible']:,} possible pairs" in captured.out
    assert Settings(random_pairs=30000).to_dict() == plan.settings
    assert captured.err == ""  # quiet unless -v
    if plan.review:
        assert f"merge-engine show {out} --review" in captured.out


def test_plan_verbose_logs_to_stderr(
    folders: tuple[Path, Path],
    fast_settings: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """-v logs the pipeline's progress to stderr, not stdout."""
    code = main(
        ["-v", *_plan_args(*folders, tmp_path / "p.json", "--settings", str(fast_settings))]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "plan_built" in captured.err
    assert "plan_built" not in captured.out


def test_show_prints_merges(plan_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`show` prints the plan summary and each merge's explanation, up to --limit."""
    plan = MergePlan.read(plan_file)
    assert main(["show", str(plan_file), "--limit", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert repr(plan) == lines[0]
    for merge in plan.merges[:2]:
        assert merge.explain() in out
    assert plan.merges[2].explain() not in out
    assert f"... {len(plan.merges) - 2} more (use --limit, or --limit 0 for all)" == lines[-1]


def test_show_review_only(plan_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`show --review` prints only the merges that need review."""
    plan = MergePlan.read(plan_file)
    assert plan.review and plan.auto
    assert main(["show", str(plan_file), "--review"]) == 0
    out = capsys.readouterr().out
    heads = [line for line in out.splitlines() if " -> " in line]
    assert [f"{m.archived_id} -> {m.synced_id}" for m in plan.review] == [
        h.split(":")[0] for h in heads
    ]
    assert all(": review (" in h for h in heads)


def test_show_by_id(plan_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`show --id` prints only the merges of that archived or synced id."""
    plan = MergePlan.read(plan_file)
    merge = plan.merges[3]
    assert main(["show", str(plan_file), "--id", merge.synced_id]) == 0
    out = capsys.readouterr().out
    heads = [line for line in out.splitlines() if " -> " in line]
    assert all(merge.synced_id in h for h in heads)
    assert merge.explain() in out


def test_settings_prints_effective_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`settings` prints the defaults, or a file's settings, as JSON."""
    assert main(["settings"]) == 0
    assert Settings().to_dict() == json.loads(capsys.readouterr().out)
    path = tmp_path / "s.toml"
    path.write_text("[settings]\nmargin_bits = 3.5\n", encoding="utf-8")
    assert main(["settings", "--settings", str(path)]) == 0
    assert Settings(margin_bits=3.5).to_dict() == json.loads(capsys.readouterr().out)


def test_sample_writes_readable_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`sample --out` writes archived and synced folders that read and plan."""
    assert main(["sample", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path}/archived" in out
    assert f"--archived {tmp_path}/archived" in out
    archived = read_roster(tmp_path / "archived")
    synced = read_roster(tmp_path / "synced")
    assert len(archived) > 100
    assert len(synced) > 100
    plan = build_plan(archived, synced, Settings(random_pairs=30000))
    assert len(plan.auto) > len(archived) // 2


def test_sample_is_idempotent(tmp_path: Path) -> None:
    """Writing the sample twice into one folder gives the same files."""
    assert main(["sample", "--out", str(tmp_path)]) == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "archived").iterdir()}
    assert main(["sample", "--out", str(tmp_path)]) == 0
    assert first == {p.name: p.read_bytes() for p in (tmp_path / "archived").iterdir()}


def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`demo` plans a small district, writes the plan and says what to try next."""
    work = tmp_path / "demo"
    assert main(["demo", "--dir", str(work), "--students", "120"]) == 0
    out = capsys.readouterr().out
    plan = MergePlan.read(work / "plan.json")
    assert repr(plan) in out
    assert plan.auto
    assert f"merge-engine show {work / 'plan.json'} --review" in out


# --- bad input: exit code 2 and a one-line error naming the file ---------------------------


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def _assert_clean_error(capsys: pytest.CaptureFixture[str], code: int, *names: str) -> str:
    captured = capsys.readouterr()
    assert code == 2
    err = captured.err
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    for name in names:
        assert name in err
    return err


def test_missing_students_file(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder without students.csv is refused, naming the file it needs."""
    bad = _write(tmp_path / "arch", "contacts.csv", "student_id,id\n")
    code = main(_plan_args(bad, folders[1], tmp_path / "p.json", "--archived-format", "native"))
    _assert_clean_error(capsys, code, str(bad / "students.csv"))
    assert not (tmp_path / "p.json").exists()


def test_missing_folder(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A roster folder that does not exist is refused, naming it."""
    code = main(_plan_args(folders[0], tmp_path / "nope", tmp_path / "p.json"))
    _assert_clean_error(capsys, code, str(tmp_path / "nope"), "not found")


def test_missing_required_column(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A students.csv without first_name is refused, naming the file and the column."""
    bad = _write(tmp_path / "arch", "students.csv", "id,first,last_name\n1,Ann,Lee\n")
    code = main(_plan_args(bad, folders[1], tmp_path / "p.json"))
    err = _assert_clean_error(capsys, code, str(bad / "students.csv"), "first_name")
    assert "Ann" not in err


def test_duplicate_id(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two students with one id are refused, naming the file and the line."""
    bad = _write(tmp_path / "sync", "students.csv", "id,first_name,last_name\n1,A,B\n1,C,D\n")
    code = main(_plan_args(folders[0], bad, tmp_path / "p.json"))
    _assert_clean_error(capsys, code, str(bad / "students.csv"), "line 3", "duplicate")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("bad.toml", "auto_threshold = = 1\n"),
        ("bad.json", "{"),
        ("unknown.toml", "auto_treshold = 0.9\n"),
        ("range.toml", "auto_threshold = 2\n"),
    ],
)
def test_bad_settings_file(
    folders: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str,
) -> None:
    """Unparseable or invalid settings stop `plan` and `settings` with a clean error."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code = main(_plan_args(*folders, tmp_path / "p.json", "--settings", str(path)))
    err = _assert_clean_error(capsys, code)
    assert not (tmp_path / "p.json").exists()
    code = main(["settings", "--settings", str(path)])
    assert err == _assert_clean_error(capsys, code)


def test_unparseable_settings_name_the_file(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A settings file that does not parse is named in the error."""
    path = tmp_path / "bad.toml"
    path.write_text("auto_threshold = = 1\n", encoding="utf-8")
    code = main(_plan_args(*folders, tmp_path / "p.json", "--settings", str(path)))
    _assert_clean_error(capsys, code, str(path))


def test_show_bad_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`show` on a missing or broken plan exits 2 with the file named."""
    code = main(["show", str(tmp_path / "missing.json")])
    _assert_clean_error(capsys, code, str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    code = main(["show", str(broken)])
    _assert_clean_error(capsys, code, str(broken))


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Missing arguments are a usage error (exit 2) from argparse."""
    with pytest.raises(SystemExit) as info:
        main(["plan", "--archived", "a"])
    assert info.value.code == 2
    assert "--synced" in capsys.readouterr().err


def test_module_help() -> None:
    """`python -m merge_engine --help` works and lists the commands."""
    result = subprocess.run(
        [sys.executable, "-m", "merge_engine", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0
    for command in ("plan", "show", "settings"):
        assert command in result.stdout
    assert result.stderr == ""


def test_an_empty_name_is_kept_for_review_unless_strict(
    tmp_path: Path, fast_settings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One blank cell does not reject a whole export: the row is planned (review at best) and
    the warning recorded; --strict stops at it with the file, line and column."""
    district = generate_district(150, seed=6)
    archived, synced = tmp_path / "archived", tmp_path / "synced"
    write_roster(district.archived, archived)
    write_roster(district.synced, synced)
    path = archived / "students.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\r\n").split(",")
    cells = lines[1].rstrip("\r\n").split(",")
    blanked = cells[0]
    cells[header.index("first_name")] = ""
    lines[1] = ",".join(cells) + "\r\n"
    path.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "plan.json"

    assert 0 == main(_plan_args(archived, synced, out, "--settings", str(fast_settings)))

    plan = MergePlan.read(out)
    assert any("name is empty" in w["message"] and w["line"] == 2 for w in plan.warnings)
    assert all(m.decision == "review" for m in plan.merges if m.archived_id == blanked)
    assert blanked in {m.archived_id for m in plan.merges} | set(plan.unmatched_archived)
    capsys.readouterr()

    code = main(_plan_args(archived, synced, tmp_path / "strict.json", "--strict"))

    err = capsys.readouterr().err
    assert 2 == code
    assert f"{path}:2" in err or ("line 2" in err and "first_name" in err)
    assert not (tmp_path / "strict.json").exists()
