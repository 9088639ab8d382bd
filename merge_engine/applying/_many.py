"""Applying the plans of many districts, each to its own database, on any executor.

The districts share nothing, so each apply is a task of its own, as planning
is (:mod:`merge_engine.planning._many`): a process pool, a Dask cluster or the
calling process runs them, each district in its own transactions, and a
district that fails (no plan, a database it cannot open, a lost worker) is a
result that says why while the others go on. Apply is idempotent per merge:
running a district again after a lost worker reports the merges the first
run committed as ``already_applied`` and applies the rest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from .._log import get_logger
from ..exceptions import InputError, MergeEngineError
from ..plan_file import PlanFile
from ..planning._many import PLAN_FILE, distinct_names, failure_reason, run_each
from ..storage import open_storage
from ._apply import apply_plan
from ._applying import Progress

__all__ = ["DistrictApplied", "DistrictApply", "apply_district", "apply_many", "plans_in"]

log = get_logger(__name__)

#: Outcomes of a merge or account step that the database refused: the district is not done.
REFUSED = ("stale", "conflict", "failed")


@attrs.frozen
class DistrictApply:
    """One district to apply: its name, its plan file and its database URL.

    Both are opened where the task runs, so on a cluster every worker must
    see the plan file and reach the database.
    """

    name: str
    plan: Path = attrs.field(converter=Path)
    db: str


@attrs.frozen
class DistrictApplied:
    """What applying one district's plan did, or why it could not.

    ``counts`` are the merges per status (as :attr:`ApplyReport.counts`);
    ``refused`` counts the merges and account steps the database refused
    (stale, conflict, failed). ``error`` is a one-line reason without student
    data.
    """

    name: str
    db: str
    error: str | None = None
    counts: dict[str, int] = attrs.field(factory=dict)
    refused: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Applied in full: no error and nothing refused."""
        return self.error is None and not self.refused

    def to_dict(self) -> dict[str, Any]:
        return {
            "district": self.name,
            "db": self.db,
            "error": self.error,
            "counts": dict(self.counts),
            "refused": self.refused,
            "seconds": round(self.seconds, 3),
        }


def apply_district(
    district: DistrictApply,
    *,
    dry_run: bool = False,
    force: bool = False,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> DistrictApplied:
    """Apply one district's ``auto`` merges and account steps; never raises for its failure.

    This is the task each worker runs: importable by name, so any executor can
    send it. The plan is read a batch at a time, so memory does not grow with
    the district.
    """
    started = time.perf_counter()
    try:
        plan = PlanFile.open(district.plan)
        storage = open_storage(district.db)
        try:
            report = apply_plan(
                plan,
                storage,
                dry_run=dry_run,
                force=force,
                progress=progress,
                batch_size=batch_size,
            )
        finally:
            storage.close()
    except (MergeEngineError, OSError) as exc:
        log.warning("district_not_applied", district=district.name, error=type(exc).__name__)
        return DistrictApplied(
            district.name,
            district.db,
            error=failure_reason(exc),
            seconds=time.perf_counter() - started,
        )
    refused = sum(report.counts.get(s, 0) for s in REFUSED) + sum(
        o.status in REFUSED for o in report.account_outcomes
    )
    log.info("district_applied", district=district.name, refused=refused)
    return DistrictApplied(
        district.name,
        district.db,
        counts=dict(report.counts),
        refused=refused,
        seconds=time.perf_counter() - started,
    )


def _lost(district: DistrictApply, exc: BaseException) -> DistrictApplied:
    return DistrictApplied(
        district.name,
        district.db,
        error=f"its task did not finish: {type(exc).__name__} (a worker process died: killed, or "
        "out of memory?); run it again: merges already applied are recognised and kept",
    )


def apply_many(
    districts: Iterable[DistrictApply],
    executor: Any = None,
    *,
    dry_run: bool = False,
    force: bool = False,
    batch_size: int = 500,
    on_result: Callable[[DistrictApplied], None] | None = None,
) -> list[DistrictApplied]:
    """Apply each district's plan to its own database in parallel; results in the order given.

    Args:
        districts: the districts; names and databases must differ (two tasks
            writing one database would refuse each other's merges).
        executor: a ``concurrent.futures.Executor``, a ``dask.distributed.Client``,
            or None for a process pool of one worker per core (shut down at the end).
        dry_run: as for :func:`~merge_engine.apply_plan`.
        force: as for :func:`~merge_engine.apply_plan`.
        batch_size: as for :func:`~merge_engine.apply_plan`.
        on_result: called in this process with each result as it arrives (progress).
    """
    todo = list(districts)
    distinct_names([d.name for d in todo])
    if len({d.db for d in todo}) < len(todo):  # the URL may hold a password: not shown
        raise InputError("two districts have the same database; give each its own")
    return run_each(
        todo,
        executor,
        lambda pool, d: pool.submit(
            apply_district, d, dry_run=dry_run, force=force, batch_size=batch_size
        ),
        _lost,
        on_result,
    )


def plans_in(
    names: Iterable[str], plans: str | os.PathLike[str], db_template: str
) -> list[DistrictApply]:
    """The districts of ``names``, with their plan ``plans/<name>/plan.json`` and database."""
    if "{district}" not in db_template:
        raise InputError(
            "the database template must contain {district}, so that each district has its own "
            "database (e.g. 'sqlite:///dbs/{district}.db')"
        )
    return [
        DistrictApply(n, Path(plans) / n / PLAN_FILE, db_template.format(district=n)) for n in names
    ]
