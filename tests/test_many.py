"""Many districts at once: plan_many on an executor; plan-many and apply-many on the CLI."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
from pathlib import Path

import pytest
import structlog
from conftest import FAST

from merge_engine import (
    District,
    DistrictApply,
    DistrictResult,
    InputError,
    MergePlan,
    Roster,
    apply_many,
    build_plan,
    plan_many,
    read_roster,
    write_roster,
)
from merge_engine.applying._many import plans_in
from merge_engine.cli import main
from merge_engine.planning import _many as many
from merge_engine.planning._many import districts_in, process_pool
from merge_engine.testing.synthetic import generate_district

FAST_TOML = "random_pairs = 30000\n"
#: A first name in the bad district's file: no error message may quote it.
SECRET = "Zephyrine"


def _write_district(root: Path, name: str, seed: int, size: int = 120) -> None:
    district = generate_district(size, seed=seed)
    write_roster(district.archived, root / name / "archived")
    write_roster(district.synced, root / name / "synced")


def _write_bad_district(root: Path, name: str) -> None:
    """A district whose archived file lacks the last_name column (and names a student)."""
    (root / name / "archived").mkdir(parents=True)
    (root / name / "synced").mkdir()
    (root / name / "archived" / "students.csv").write_text(
        f"id,first_name\na1,{SECRET}\n", encoding="utf-8"
    )
    (root / name / "synced" / "students.csv").write_text(
        f"id,first_name,last_name\ns1,{SECRET},Quill\n", encoding="utf-8"
    )


@pytest.fixture(scope="module")
def districts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("many") / "districts"
    _write_district(root, "north", seed=1)
    _write_district(root, "south", seed=2)
    _write_bad_district(root, "broken")
    return root


def _alone(root: Path, name: str) -> str:
    """The plan of one district, planned on its own in this process."""
    archived = read_roster(root / name / "archived")
    synced = read_roster(root / name / "synced")
    return build_plan(archived, synced, FAST).to_json()


def test_each_plan_is_the_plan_of_its_district_alone_and_a_bad_one_is_reported(
    districts: Path,
) -> None:
    seen: list[str] = []
    results = plan_many(
        districts_in(districts), settings=FAST, on_result=lambda r: seen.append(r.name)
    )

    assert ["broken", "north", "south"] == [r.name for r in results]
    assert sorted(seen) == ["broken", "north", "south"]
    broken, north, south = results
    assert not broken.ok and broken.plan is None
    assert "last_name" in str(broken.error) and "broken" in str(broken.error)
    assert SECRET not in str(broken.error)
    for result in (north, south):
        assert result.ok and result.plan is not None and result.plan_path is None
        assert result.plan.to_json() == _alone(districts, result.name)
        assert result.merges == len(result.plan.merges) > 0
        assert result.auto + result.review == result.merges


def test_rosters_in_memory_and_a_thread_pool_give_the_same_plans() -> None:
    district = generate_district(100, seed=5)
    alone = build_plan(district.archived, district.synced, FAST).to_json()
    with cf.ThreadPoolExecutor(2) as pool:
        results = plan_many(
            [District(n, district.archived, district.synced) for n in ("a", "b")], pool, FAST
        )

    assert [alone, alone] == [r.plan.to_json() for r in results if r.plan is not None]


def test_an_unexpected_error_names_its_type_and_place_but_not_its_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def leaky(*_: object, **__: object) -> MergePlan:
        raise ValueError(f"cannot compare {SECRET}")

    monkeypatch.setattr(many, "build_plan", leaky)
    district = generate_district(20, seed=1)
    with cf.ThreadPoolExecutor(1) as pool:
        (result,) = plan_many([District("x", district.archived, district.synced)], pool)

    assert result.error is not None
    assert result.error.startswith("unexpected ValueError at test_many.py:")
    assert SECRET not in result.error


class _KillsItsWorker(Roster):
    """A roster that ends the process unpickling it, as an out-of-memory kill would."""

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return (os._exit, (9,))


def test_a_district_whose_worker_dies_is_reported_and_the_call_returns() -> None:
    district = generate_district(20, seed=1)
    doomed = District("doomed", _KillsItsWorker(district.archived.students), district.synced)
    with process_pool(1) as pool:
        results = plan_many([doomed], pool, FAST)

    assert ["doomed"] == [r.name for r in results]
    assert results[0].error is not None and "worker process died" in results[0].error


def test_districts_must_have_distinct_names_that_can_name_a_folder() -> None:
    empty = Roster(students=())
    with pytest.raises(InputError, match="two districts are named 'a'"):
        plan_many(
            [District("a", empty, empty), District("a", empty, empty)], cf.ThreadPoolExecutor()
        )
    for bad in ("", "..", "a/b"):
        with pytest.raises(InputError, match="cannot name a folder"):
            District(bad, empty, empty)


def test_a_folder_that_is_no_district_is_named(tmp_path: Path) -> None:
    _write_district(tmp_path, "east", seed=3, size=10)
    (tmp_path / "notes").mkdir()
    (tmp_path / ".cache").mkdir()

    with pytest.raises(InputError, match=r"no archived/ and synced/ roster folders: notes;"):
        districts_in(tmp_path)
    (tmp_path / "notes").rmdir()
    assert ["east"] == [d.name for d in districts_in(tmp_path)]


def test_a_result_is_written_as_json_without_the_plan() -> None:
    result = DistrictResult("d", plan_path=Path("out/d/plan.json"), seconds=1.23456, merges=3)

    assert {
        "district": "d",
        "plan": "out/d/plan.json",
        "error": None,
        "seconds": 1.235,
        "merges": 3,
        "auto": 0,
        "review": 0,
    } == result.to_dict()


@pytest.fixture
def fast(tmp_path: Path) -> Path:
    path = tmp_path / "fast.toml"
    path.write_text(FAST_TOML, encoding="utf-8")
    return path


def _plan_many(districts: Path, out: Path, fast: Path, *extra: str) -> int:
    argv = ["plan-many", "--districts", str(districts), "--out", str(out), "--settings", str(fast)]
    code = main([*argv, *extra])
    structlog.reset_defaults()
    return code


def test_plan_many_writes_each_plan_as_plan_would_and_summarises(
    districts: Path, fast: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plans"
    alone = tmp_path / "north.json"
    north = districts / "north"
    args = ["--archived", str(north / "archived"), "--synced", str(north / "synced")]
    assert 0 == main(["plan", *args, "--out", str(alone), "--settings", str(fast), "-q"])
    capsys.readouterr()

    code = _plan_many(districts, out, fast, "--workers", "2")
    table = capsys.readouterr().out

    assert 1 == code  # the broken district
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "north/plan.json",
        "south/plan.json",
    ]
    assert alone.read_bytes() == (out / "north" / "plan.json").read_bytes()
    assert "2 of 3 districts planned" in table
    assert "broken" in table and "error:" in table and SECRET not in table


def test_plan_many_leaves_existing_plans_unless_told(
    districts: Path, fast: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plans"
    (out / "north").mkdir(parents=True)
    (out / "north" / "plan.json").write_text("applied last week", encoding="utf-8")

    code = _plan_many(districts, out, fast, "--workers", "1", "--json")
    rows = {r["district"]: r for r in json.loads(capsys.readouterr().out)}

    assert 1 == code
    assert "already exists" in rows["north"]["error"] and rows["north"]["plan"] is None
    assert (out / "north" / "plan.json").read_text(encoding="utf-8") == "applied last week"
    assert rows["south"]["error"] is None
    assert rows["south"]["plan"] == str(out / "south" / "plan.json")
    assert rows["south"]["merges"] == len(MergePlan.read(out / "south" / "plan.json").merges)

    _plan_many(districts, out, fast, "--workers", "1", "--overwrite", "--json")
    rows = {r["district"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["north"]["error"] is None
    assert (out / "north" / "plan.json").read_text(encoding="utf-8") == _alone(districts, "north")


def test_apply_many_applies_each_plan_to_its_own_database(
    tmp_path: Path, fast: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    districts, plans, dbs = tmp_path / "districts", tmp_path / "plans", tmp_path / "dbs"
    for seed, name in enumerate(("east", "west")):
        _write_district(districts, name, seed=seed + 3, size=60)
    assert 0 == _plan_many(districts, plans, fast, "--workers", "1")
    dbs.mkdir()
    for name in ("east", "west"):
        rosters = ["--archived", str(districts / name / "archived")]
        rosters += ["--synced", str(districts / name / "synced")]
        assert 0 == main(["load", "--db", str(dbs / f"{name}.db"), *rosters, "-q"])
    capsys.readouterr()
    template = f"sqlite:///{dbs}/{{district}}.db"
    apply_many = ["apply-many", "--districts", str(districts), "--plans", str(plans)]

    code = main([*apply_many, "--db-template", template, "--json", "--workers", "2"])
    first = {r["district"]: r for r in json.loads(capsys.readouterr().out)}
    again = main([*apply_many, "--db-template", template, "--json", "--workers", "1"])
    second = {r["district"]: r for r in json.loads(capsys.readouterr().out)}
    structlog.reset_defaults()

    assert 0 == code == again
    assert {"district", "db", "error", "counts", "refused", "seconds"} == set(first["east"])
    for name in ("east", "west"):
        auto = len(MergePlan.read(plans / name / "plan.json").auto)
        assert first[name]["error"] is None and first[name]["db"] == template.format(district=name)
        assert first[name]["counts"]["applied"] == auto > 0
        assert second[name]["counts"] == {"already_applied": auto, **_review(first[name])}


def _review(row: dict[str, object]) -> dict[str, int]:
    counts = row["counts"]
    assert isinstance(counts, dict)
    return {k: v for k, v in counts.items() if k == "skipped_review"}


def test_apply_many_reports_a_district_without_a_plan_and_needs_the_placeholder(
    districts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_many = ["apply-many", "--districts", str(districts), "--plans", str(tmp_path)]

    assert 2 == main([*apply_many, "--db-template", f"sqlite:///{tmp_path}/one.db"])
    assert "must contain {district}" in capsys.readouterr().err
    code = main([*apply_many, "--db-template", f"sqlite:///{tmp_path}/{{district}}.db"])
    table = capsys.readouterr().out
    structlog.reset_defaults()

    assert 1 == code
    assert "0 of 3 districts applied in full" in table
    assert table.count("cannot read plan") == 3
    assert not list(tmp_path.glob("*.db"))  # no database is created for a missing plan


def _loaded(root: Path, names: tuple[str, ...], fast: Path) -> tuple[Path, Path]:
    """Districts planned by plan-many, each loaded into its own SQLite database."""
    districts, plans, dbs = root / "districts", root / "plans", root / "dbs"
    for seed, name in enumerate(names):
        _write_district(districts, name, seed=seed + 7, size=50)
    assert 0 == _plan_many(districts, plans, fast, "--workers", "1")
    dbs.mkdir()
    for name in names:
        rosters = ["--archived", str(districts / name / "archived")]
        rosters += ["--synced", str(districts / name / "synced")]
        assert 0 == main(["load", "--db", str(dbs / f"{name}.db"), *rosters, "-q"])
    structlog.reset_defaults()
    return plans, dbs


def test_apply_many_on_an_executor_applies_each_district_and_reports_a_missing_one(
    tmp_path: Path, fast: Path
) -> None:
    plans, dbs = _loaded(tmp_path, ("oak", "pine"), fast)
    todo = plans_in(["oak", "pine", "gone"], plans, f"sqlite:///{dbs}/{{district}}.db")
    seen: list[str] = []
    with cf.ThreadPoolExecutor(2) as pool:
        results = apply_many(todo, pool, on_result=lambda r: seen.append(r.name))

    assert ["oak", "pine", "gone"] == [r.name for r in results] and sorted(seen) == sorted(
        ["oak", "pine", "gone"]
    )
    oak, pine, gone = results
    for result in (oak, pine):
        auto = len(MergePlan.read(plans / result.name / "plan.json").auto)
        assert result.ok and result.counts["applied"] == auto > 0
    assert not gone.ok and gone.error is not None and "cannot read plan" in gone.error
    assert not (dbs / "gone.db").exists()


class _LostWorkers(cf.Executor):
    """An executor whose every task is lost, as when its worker process is killed."""

    def submit(self, fn: object, /, *args: object, **kwargs: object) -> cf.Future[object]:
        future: cf.Future[object] = cf.Future()
        future.set_exception(cf.process.BrokenProcessPool("a worker died"))
        return future


def test_apply_many_reports_a_lost_worker_and_refuses_shared_names_or_databases(
    tmp_path: Path,
) -> None:
    (result,) = apply_many(
        [DistrictApply("oak", tmp_path / "plan.json", "sqlite:///oak.db")], _LostWorkers()
    )
    assert not result.ok and result.error is not None
    assert "worker process died" in result.error and "already applied" in result.error

    with pytest.raises(InputError, match="two districts are named 'a'"):
        apply_many([DistrictApply("a", tmp_path, "x"), DistrictApply("a", tmp_path, "y")])
    with pytest.raises(InputError, match="the same database"):
        apply_many([DistrictApply("a", tmp_path, "x"), DistrictApply("b", tmp_path, "x")])
    with pytest.raises(InputError, match=r"must contain \{district\}"):
        plans_in(["a"], tmp_path, "sqlite:///one.db")
