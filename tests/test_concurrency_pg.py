"""Two connections applying overlapping plans on the real PostgreSQL.

Each merge must be applied exactly once: the loser sees ``already_applied``
(or ``conflict`` after retries), no row is moved twice, and history is
conserved. Needs the server at MERGE_ENGINE_PG_URL; skipped when it is
unreachable unless MERGE_ENGINE_REQUIRE_PG=1.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from apply_support import (
    assert_each_applied_once,
    district,
    make_storage,
    pg_storage,
    plan_of,
    require_pg,
    run_both,
    signature,
)

from merge_engine.applying._apply import ApplyReport, apply_plan, audit_history
from merge_engine.storage import Capability, capabilities_of
from merge_engine.storage._base import StorageAdapter

pytestmark = pytest.mark.postgres


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[StorageAdapter]:
    """The district loaded afresh into PostgreSQL (one connection for checks)."""
    require_pg()
    storage = make_storage("postgres", district(), tmp_path)
    yield storage
    storage.close()


class Unlocked:
    """A storage without the per-plan lock (like an adapter without ``plan_lock``).

    The tests here run one plan on two connections at once, which the plan's
    lock now refuses (tests/test_plan_lock_pg.py): without it, the row locks
    alone must still apply each merge exactly once.
    """

    def __init__(self, inner: StorageAdapter) -> None:
        self.inner = inner
        self.capabilities = capabilities_of(inner) - {Capability.PLAN_LOCK}

    def __getattr__(self, name: str) -> Any:
        if name == "plan_lock":
            raise AttributeError(name)
        return getattr(self.inner, name)


def connection(like: Any, isolation: str | None = None) -> Any:
    """Another connection to the schema of ``like`` (each test has a schema of its own),
    without the per-plan lock (see :class:`Unlocked`)."""
    return Unlocked(pg_storage(like.mapping.schema, isolation=isolation))


@pytest.mark.parametrize("isolation", [None, "SERIALIZABLE"])
def test_two_connections_applying_the_same_plan(
    loaded: StorageAdapter, isolation: str | None
) -> None:
    """Both apply the whole plan at once: every merge is applied by exactly one of them."""
    plan = plan_of()
    sig = signature(loaded, plan)
    one, two = connection(loaded, isolation), connection(loaded, isolation)
    try:
        reports = run_both(
            lambda: apply_plan(plan, one, batch_size=4, max_retries=50),
            lambda: apply_plan(plan, two, batch_size=4, max_retries=50),
        )
    finally:
        one.close()
        two.close()

    for m in plan.auto:
        statuses = sorted(
            next(o.status for o in r.outcomes if o.archived_id == m.archived_id) for r in reports
        )
        assert statuses in (["already_applied", "applied"], ["applied", "conflict"]), statuses
    assert_each_applied_once(loaded, plan, sig)


def test_overlapping_plans_in_opposite_orders(loaded: StorageAdapter) -> None:
    """Two different plans sharing a third of their merges, applied in opposite orders
    (inviting deadlocks, which are retried): the shared merges are applied once."""
    plan = plan_of()
    auto = list(plan.auto)
    third = len(auto) // 3
    first = attrs.evolve(plan, merges=auto[: 2 * third],
                         fingerprint={**plan.fingerprint, "synced": "first"})  # fmt: skip
    second = attrs.evolve(plan, merges=list(reversed(auto[third:])),
                          fingerprint={**plan.fingerprint, "synced": "second"})  # fmt: skip
    sig = signature(loaded, plan)
    one, two = connection(loaded), connection(loaded)
    try:
        r1, r2 = run_both(
            lambda: apply_plan(first, one, batch_size=3, force=True, max_retries=50),
            lambda: apply_plan(second, two, batch_size=3, force=True, max_retries=50),
        )
    finally:
        one.close()
        two.close()

    shared = {m.archived_id for m in auto[third : 2 * third]}
    for a in shared:
        outcomes = [o for r in (r1, r2) for o in r.outcomes if o.archived_id == a]
        statuses = sorted(o.status for o in outcomes)
        assert statuses in (["already_applied", "applied"], ["applied", "conflict"]), outcomes
    assert_each_applied_once(loaded, plan, sig, first, second)


class _Paused:
    """A storage whose first journal write waits until released (holding its row locks)."""

    def __init__(self, inner: StorageAdapter) -> None:
        self.inner = inner
        self.inside = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.inner.transaction() as tx:
            yield _PausedTx(tx, self)


class _PausedTx:
    def __init__(self, tx: Any, owner: _Paused) -> None:
        self._tx = tx
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    def write_journal(self, entry: Any) -> None:
        if not self._owner.inside.is_set():
            self._owner.inside.set()
            assert self._owner.release.wait(30)
        self._tx.write_journal(entry)


def test_the_second_applier_waits_for_the_first_then_skips(loaded: StorageAdapter) -> None:
    """Isolation-tester style: session 1 stops mid-merge holding its locks; session 2 applying
    the same merge blocks until session 1 commits, then reports already_applied."""
    plan = plan_of()
    single = attrs.evolve(plan, merges=[plan.auto[0]])
    one, two = connection(loaded), connection(loaded)
    paused = _Paused(one)
    results: dict[str, ApplyReport] = {}
    try:
        t1 = threading.Thread(
            target=lambda: results.update(one=apply_plan(single, paused, force=True))
        )
        t1.start()
        assert paused.inside.wait(30)
        t2 = threading.Thread(
            target=lambda: results.update(two=apply_plan(single, two, force=True))
        )
        t2.start()
        t2.join(timeout=1.0)
        assert t2.is_alive(), "session 2 must wait for session 1's row locks"
        paused.release.set()
        t1.join(timeout=30)
        t2.join(timeout=30)
    finally:
        paused.release.set()
        one.close()
        two.close()

    assert results["one"].counts == {"applied": 1}
    assert results["two"].counts == {"already_applied": 1}


@pytest.mark.parametrize("isolation", [None, "SERIALIZABLE"])
def test_two_connections_applying_the_same_account_steps(
    loaded: StorageAdapter, isolation: str | None
) -> None:
    """Guardian merges and detaches too: each is applied by exactly one connection."""
    plan = plan_of(accounts=True)
    assert sum(g.decision == "auto" for g in plan.guardian_merges) >= 20
    one, two = connection(loaded, isolation), connection(loaded, isolation)
    try:
        reports = run_both(
            lambda: apply_plan(plan, one, batch_size=4, max_retries=50),
            lambda: apply_plan(plan, two, batch_size=4, max_retries=50),
        )
    finally:
        one.close()
        two.close()
    assert all(r.ok for r in reports)
    applies = Counter(
        r.archived_id
        for r in audit_history(loaded)
        if r.action == "apply" and r.archived_id.startswith("guardian:")
    )
    assert applies and set(applies.values()) == {1}
    statuses: dict[str, list[str]] = {}
    for report in reports:
        for o in report.account_outcomes:
            statuses.setdefault(o.archived_id, []).append(o.status)
    applied = {k for k, v in statuses.items() if "applied" in v}
    assert len(applied) >= 20
    assert {k for k in applies} == {k for k in applied if k.startswith("guardian:")}
    for key in applied:  # the other connection found it done (or, for a detach, journaled)
        assert sorted(statuses[key]) == ["already_applied", "applied"], (key, statuses[key])
    with loaded.transaction() as tx:
        for gm in plan.guardian_merges:
            if f"guardian:{gm.synced_guardian_id}" not in applied:
                continue
            merged = tx.guardians([gm.synced_guardian_id])[gm.synced_guardian_id]  # type: ignore[attr-defined]
            assert merged.merged_into == gm.archived_guardian_id
            assert tx.links_of_guardian(gm.synced_guardian_id) == []  # type: ignore[attr-defined]
