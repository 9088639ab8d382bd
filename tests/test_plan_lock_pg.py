"""One plan, two admins, on the real PostgreSQL, with the command line's defaults.

Two ``merge-engine apply`` (or an apply and an undo) of one plan started at
once: the plan's advisory lock lets one run and refuses the other at once
(exit 2, "another apply or undo of this plan is running"), or they run one
after the other. Never a deadlock error, never an interleaving: each merge
is applied exactly once, or the database is back as it was. The commands run
as separate processes with the batch size and retries the CLI uses.
Needs the server at MERGE_ENGINE_PG_URL (see tests/apply_support.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from apply_support import (
    PG_URL,
    db_snapshot,
    district,
    make_storage,
    pg_storage,
    plan_of,
    require_pg,
    signature,
    start_lock_holder,
)

from merge_engine.applying._account_steps import approval_ids
from merge_engine.applying._apply import apply_plan, audit_history, plan_fingerprint
from merge_engine.applying._undo import undo_plan, undo_plan_id
from merge_engine.exceptions import PlanLockedError

pytestmark = pytest.mark.postgres

LOCKED = "another apply or undo of this plan is running"

#: Runs `merge-engine ARGS` once the file GO exists, so both commands start together.
_RUNNER = textwrap.dedent(
    """
    import sys, time, pathlib
    from merge_engine.cli import main
    go = pathlib.Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.002)
    sys.exit(main(sys.argv[2:]))
    """
)

#: Holds the plan's lock until stdin closes or the process is killed.
_HOLDER = textwrap.dedent(
    """
    import sys
    from merge_engine.storage._mapping import StorageMapping
    from merge_engine.storage._sqla import SQLAlchemyStorage
    storage = SQLAlchemyStorage(sys.argv[1], mapping=StorageMapping(schema=sys.argv[2]))
    with storage.plan_lock(sys.argv[3]):
        print("locked", flush=True)
        sys.stdin.readline()
    """
)


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[Any]:
    require_pg()
    storage = make_storage("postgres", district(), tmp_path)
    yield storage
    storage.close()


def cli_url(storage: Any) -> str:
    """A URL the CLI can take that names the test's schema (through the search path)."""
    return f"{PG_URL}?options=-csearch_path%3D{storage.mapping.schema}"


def run_together(tmp_path: Path, *commands: list[str]) -> list[tuple[int, str, str]]:
    """Start the CLI commands as processes, release them at once, return (code, out, err)."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RUNNER, str(go), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in commands
    ]
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        results.append((p.returncode, out, err))
    return results


def report_of(out: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(out)
    return data


def check_finished_or_locked(code: int, out: str, err: str) -> dict[str, Any] | None:
    """The JSON report of a command that ran, or None when the plan's lock refused it."""
    assert "40P01" not in err and "40001" not in err, err
    if code == 2:
        assert LOCKED in err, err
        return None
    assert code == 0, err
    return report_of(out)


@pytest.mark.parametrize("run", range(3))
def test_two_cli_applies_of_one_plan_at_once(
    loaded: Any, tmp_path: Path, run: int
) -> None:  # fmt: skip
    """Every merge and account step is applied exactly once; the other apply is refused by
    the lock or finds everything already applied. No deadlock escapes."""
    plan = plan_of(accounts=True)
    plan_file = tmp_path / "plan.json"
    plan.write(plan_file)
    sig = signature(loaded, plan)
    argv = ["apply", str(plan_file), "--db", cli_url(loaded), "--json"]

    results = run_together(tmp_path, argv, argv)

    reports = [check_finished_or_locked(*r) for r in results]
    ran = [r for r in reports if r is not None]
    assert ran, "at least one apply runs"
    applied = Counter(o["archived_id"] for r in ran for o in r["outcomes"]
                      if o["status"] == "applied")  # fmt: skip
    assert dict(applied) == {m.archived_id: 1 for m in plan.auto}
    records = [r for r in audit_history(loaded) if r.action == "apply"]
    assert len(records) == len({r.archived_id for r in records})  # each key applied once
    assert {m.archived_id for m in plan.auto} <= {r.archived_id for r in records}
    assert sig == signature(loaded, plan)


@pytest.mark.parametrize("run", range(3))
def test_a_cli_apply_and_undo_of_one_plan_at_once(
    loaded: Any, tmp_path: Path, run: int
) -> None:  # fmt: skip
    """Apply and undo never interleave: either the undo ran after the whole apply (the
    database is as before), or before it or refused (the plan stays wholly applied)."""
    plan = plan_of(accounts=True)
    plan_file = tmp_path / "plan.json"
    plan.write(plan_file)
    url = cli_url(loaded)
    before = db_snapshot(loaded)

    applied, undone = (
        check_finished_or_locked(*r)
        for r in run_together(
            tmp_path,
            ["apply", str(plan_file), "--db", url, "--json"],
            ["undo", str(plan_file), "--db", url, "--json"],
        )
    )

    assert applied is not None or undone is not None
    undid = undone is not None and undone["counts"].get("undone", 0) > 0
    if undid:
        assert undone is not None
        assert undone["counts"]["undone"] == len(plan.auto)
        assert db_snapshot(loaded) == before
    else:
        if undone is not None:  # it ran first, on a database the apply had not touched
            assert set(undone["counts"]) == {"not_applied"}
        history = audit_history(loaded)
        assert not [r for r in history if r.action == "undo"]
        if applied is not None:
            assert applied["counts"]["applied"] == len(plan.auto)
        else:  # the apply was refused: the undo found nothing to undo
            assert db_snapshot(loaded) == before


def test_the_advisory_lock_refuses_a_second_connection(loaded: Any) -> None:
    """While one connection holds the plan's lock, apply and undo on another raise
    PlanLockedError before any write; a dry run and other plans are not blocked."""
    plan = plan_of()
    fp = plan_fingerprint(plan)
    other = pg_storage(loaded.mapping.schema)
    before = db_snapshot(loaded, bookkeeping=True)
    try:
        with loaded.plan_lock(fp):
            with pytest.raises(PlanLockedError, match=LOCKED):
                apply_plan(plan, other)
            with pytest.raises(PlanLockedError, match=LOCKED):
                undo_plan(plan, other)
            assert db_snapshot(loaded, bookkeeping=True) == before
            assert apply_plan(plan, other, dry_run=True).counts["applied"] == len(plan.auto)
            with other.plan_lock("another-plan"):
                pass
        assert apply_plan(plan, other).counts["applied"] == len(plan.auto)
    finally:
        other.close()


def test_the_lock_of_a_killed_apply_goes_with_its_session(loaded: Any) -> None:
    """A process killed while holding the lock leaves nothing behind."""
    plan = plan_of()
    fp = plan_fingerprint(plan)
    holder = start_lock_holder(_HOLDER, PG_URL, loaded.mapping.schema, fp)
    try:
        with pytest.raises(PlanLockedError):
            apply_plan(plan, loaded)
    finally:
        holder.kill()
        holder.wait()
    # The server ends the killed session's backend; the lock goes with it.
    for _ in range(500):
        try:
            with loaded.plan_lock(fp):
                break
        except PlanLockedError:
            time.sleep(0.01)
    assert apply_plan(plan, loaded).counts["applied"] == len(plan.auto)


def test_undo_by_plan_id_on_postgres(loaded: Any) -> None:
    """The plan rebuilt from the journal on PostgreSQL: everything undone, as before."""
    plan = plan_of(accounts=True)
    before = db_snapshot(loaded)
    report = apply_plan(
        plan, loaded, approved=approval_ids(plan) | {m.archived_id for m in plan.review}
    )
    assert report.ok and report.account_counts

    undone = undo_plan_id(plan_fingerprint(plan), loaded)

    assert undone.counts == {"undone": len(plan.merges)}
    assert {o.status for o in undone.account_outcomes} == {"undone"}
    assert db_snapshot(loaded) == before


@pytest.mark.parametrize("run", range(3))
def test_overlapping_plans_at_once_with_the_cli_defaults(loaded: Any, run: int) -> None:
    """Two different plans sharing a third of their merges, in opposite orders (their locks
    differ, so both run): with the CLI's batch size and retries, no deadlock escapes and
    each shared merge is applied once."""
    from apply_support import assert_each_applied_once, run_both  # noqa: PLC0415

    plan = plan_of()
    auto = list(plan.auto)
    third = len(auto) // 3
    first = attrs.evolve(
        plan, merges=auto[: 2 * third], fingerprint={**plan.fingerprint, "synced": "first"}
    )
    second = attrs.evolve(
        plan,
        merges=list(reversed(auto[third:])),
        fingerprint={**plan.fingerprint, "synced": "second"},
    )
    sig = signature(loaded, plan)
    one, two = pg_storage(loaded.mapping.schema), pg_storage(loaded.mapping.schema)
    try:
        r1, r2 = run_both(
            lambda: apply_plan(first, one, force=True),
            lambda: apply_plan(second, two, force=True),
        )
    finally:
        one.close()
        two.close()
    assert r1.ok and r2.ok
    assert_each_applied_once(loaded, plan, sig, first, second)
