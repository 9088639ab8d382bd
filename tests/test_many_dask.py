"""plan_many and plan-many on a Dask cluster of two worker processes, loopback only.

A worker is killed mid-run (while planning, and while writing its plan): the
run completes, every district gets exactly one plan file, and each is the plan
of that district alone, to the byte.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from conftest import FAST

from merge_engine import (
    MergePlan,
    build_plan,
    load_rosters,
    plan_many,
    read_roster,
    write_roster,
)
from merge_engine.cli import main
from merge_engine.planning._many import districts_in
from merge_engine.testing.synthetic import generate_district

distributed = pytest.importorskip(
    "distributed", reason="the dask extra is not installed: pip install -e '.[test]'"
)

NAMES = ("ash", "birch", "cedar", "elm")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        processes=True,
        n_workers=2,
        threads_per_worker=1,
        dashboard_address=None,
        host="127.0.0.1",
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def districts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dask") / "districts"
    for seed, name in enumerate(NAMES):
        district = generate_district(120, seed=seed + 11)
        write_roster(district.archived, root / name / "archived")
        write_roster(district.synced, root / name / "synced")
    return root


@pytest.fixture(scope="module")
def alone(districts: Path) -> dict[str, str]:
    """Each district's plan, planned on its own in this process."""
    return {
        name: build_plan(
            read_roster(districts / name / "archived"),
            read_roster(districts / name / "synced"),
            FAST,
        ).to_json()
        for name in NAMES
    }


def _plan_files(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("plan.json"))


def test_plans_on_the_cluster_are_the_plans_of_each_district_alone(
    client: Any, districts: Path, alone: dict[str, str]
) -> None:
    results = plan_many(districts_in(districts), client, FAST)

    assert list(NAMES) == [r.name for r in results]
    assert alone == {r.name: r.plan.to_json() for r in results if r.plan is not None}


def _kill_once_in(marker: str, where: str) -> Callable[[], None]:
    """A function for ``client.run``: the worker running it dies at ``where`` in the
    ``cedar`` district, once across the cluster (the marker file says it happened)."""

    def patch() -> None:
        from merge_engine.plan import MergePlan  # noqa: PLC0415
        from merge_engine.planning import _many as many  # noqa: PLC0415

        def first() -> bool:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return False
            return True

        if where == "planning":
            real_plan = many.build_plan

            def dying_plan(archived: Any, synced: Any, settings: Any = None) -> Any:
                if "cedar" in archived.source and first():
                    os.kill(os.getpid(), signal.SIGKILL)
                return real_plan(archived, synced, settings)

            many.build_plan = dying_plan
        else:
            real_write = MergePlan.write

            def dying_write(self: MergePlan, path: Any) -> None:
                if "cedar" in str(path) and first():
                    body = self.to_json().encode()
                    with open(f"{path}.tmp", "wb") as half:  # as write does, half-way through
                        half.write(body[: len(body) // 2])
                    os.kill(os.getpid(), signal.SIGKILL)
                real_write(self, path)

            MergePlan.write = dying_write  # type: ignore[method-assign]

    return patch


@pytest.mark.parametrize("where", ["planning", "writing"])
def test_a_worker_killed_mid_run_leaves_one_whole_plan_per_district(
    client: Any,
    districts: Path,
    alone: dict[str, str],
    tmp_path: Path,
    where: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    marker = tmp_path / "killed"
    # After an earlier test's restart, every worker must be up before it is patched:
    # a district run on a worker that missed the patch would not die.
    client.wait_for_workers(2)
    pids = set(client.run(os.getpid).values())
    assert 2 == len(pids)
    patched = client.run(_kill_once_in(str(marker), where))
    assert 2 == len(patched)
    out = tmp_path / "plans"
    scheduler = client.scheduler.address
    try:
        args = ["--districts", str(districts), "--out", str(out), "--scheduler", scheduler]
        code = main(["plan-many", *args, "--settings", str(_fast_toml(tmp_path)), "--json"])
        structlog.reset_defaults()
        rows = json.loads(capsys.readouterr().out)
        assert marker.exists()  # a worker did die
        assert pids != set(client.run(os.getpid).values())
    finally:
        # No patched worker outlives the test. Not waiting here: on a loaded machine a
        # restarted worker may take minutes to return; the next test waits for both.
        client.restart(wait_for_workers=False)
    assert 0 == code
    assert [None] * len(NAMES) == [r["error"] for r in rows]
    assert [f"{n}/plan.json" for n in NAMES] == _plan_files(out)
    for name in NAMES:
        assert alone[name] == (out / name / "plan.json").read_text(encoding="utf-8")
        MergePlan.read(out / name / "plan.json")  # whole: its digest checks


def _fast_toml(folder: Path) -> Path:
    path = folder / "fast.toml"
    path.write_text("random_pairs = 30000\n", encoding="utf-8")
    return path


def _kill_once_applying(marker: str) -> Callable[[], None]:
    """For ``client.run``: the worker applying ``cedar`` dies once two batches of its
    merges are committed, once across the cluster (the marker file says it happened)."""

    def patch() -> None:
        from merge_engine.applying import _many as many  # noqa: PLC0415

        real_apply = many.apply_district

        def dying_apply(district: Any, **kwargs: Any) -> Any:
            def progress(done: int, _: int) -> None:
                if done >= 10 and district.name == "cedar":
                    try:
                        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                    except FileExistsError:
                        return
                    os.kill(os.getpid(), signal.SIGKILL)

            return real_apply(district, progress=progress, **kwargs)

        many.apply_district = dying_apply

    return patch


def test_apply_many_on_the_cluster_survives_a_worker_killed_mid_apply(
    client: Any, districts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plans, dbs, marker = tmp_path / "plans", tmp_path / "dbs", tmp_path / "killed"
    assert all(r.ok for r in plan_many(districts_in(districts, plans), client, FAST))
    dbs.mkdir()
    for name in NAMES:
        archived = read_roster(districts / name / "archived")
        load_rosters(
            f"sqlite:///{dbs}/{name}.db", archived, read_roster(districts / name / "synced")
        )
    client.wait_for_workers(2)
    assert 2 == len(client.run(_kill_once_applying(str(marker))))
    try:
        args = ["--districts", str(districts), "--plans", str(plans), "--batch-size", "5"]
        template = f"sqlite:///{dbs}/{{district}}.db"
        code = main(["apply-many", *args, "--db-template", template, "--scheduler",
                     client.scheduler.address, "--json"])  # fmt: skip
        structlog.reset_defaults()
        rows = {r["district"]: r for r in json.loads(capsys.readouterr().out)}
    finally:
        client.restart(wait_for_workers=False)

    assert marker.exists()  # the worker applying cedar did die
    assert 0 == code
    for name in NAMES:
        auto = len(MergePlan.read(plans / name / "plan.json").auto)
        counts = rows[name]["counts"]
        assert rows[name]["error"] is None and rows[name]["refused"] == 0
        # The rerun recognises what the killed worker committed and applies the rest.
        assert counts.get("applied", 0) + counts.get("already_applied", 0) == auto > 0
    assert rows["cedar"]["counts"].get("already_applied", 0) >= 10
