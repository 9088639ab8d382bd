"""Planning many independent districts at once, on any executor (a process pool, a Dask cluster).

Districts share nothing, so each is a task of its own: the executor does the
scheduling (and, on Dask, moves a district whose worker died to another
worker); this module only says what one task is and turns each task's
failure into a result that names its district, so one bad district never
stops the others. A task that writes its plan publishes it with one rename
of a file it wrote alone, so a killed worker leaves no half plan and two runs
of the same district (a retry) leave one whole plan of the same bytes.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from .._log import get_logger
from ..exceptions import InputError, MergeEngineError
from ..model import Roster
from ..plan import MergePlan
from ..readers import read_roster
from ..settings import Settings
from ._planner import build_plan

__all__ = [
    "PLAN_FILE",
    "District",
    "DistrictResult",
    "distinct_names",
    "districts_in",
    "failure_reason",
    "plan_district",
    "plan_many",
    "process_pool",
    "resolve_executor",
    "run_each",
]

log = get_logger(__name__)

Task = TypeVar("Task")
Result = TypeVar("Result")

#: The file a district's plan is written to, in its own folder of the output folder.
PLAN_FILE = "plan.json"


def _name(value: str) -> str:
    if not value or value in {".", ".."} or "/" in value or "\\" in value or "\0" in value:
        raise InputError(
            f"district name {value!r} cannot name a folder; use a name without slashes"
        )
    return value


def _side(value: str | os.PathLike[str] | Roster) -> Path | Roster:
    return value if isinstance(value, Roster) else Path(value)


@attrs.frozen
class District:
    """One district to plan: its name, its two rosters, and where its plan goes.

    ``archived`` and ``synced`` are roster folders (read where the task runs,
    so on a cluster every worker must see them) or rosters already in memory
    (sent to the worker). With ``out`` (a folder), the plan is written to
    ``out/<name>/plan.json`` and only its counts travel back; without it, the
    plan itself comes back in the result.
    """

    name: str = attrs.field(converter=_name)
    archived: Path | Roster = attrs.field(converter=_side)
    synced: Path | Roster = attrs.field(converter=_side)
    out: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))

    @property
    def plan_path(self) -> Path | None:
        return None if self.out is None else self.out / self.name / PLAN_FILE


@attrs.frozen
class DistrictResult:
    """What planning one district gave: its plan (or where it was written), or why not.

    ``error`` is the one-line reason a district has no plan (the messages of
    merge-engine's errors name files, lines and ids, never a student); the
    counts are those of the plan, so a summary needs no plan file read back.
    """

    name: str
    plan: MergePlan | None = None
    plan_path: Path | None = None
    error: str | None = None
    seconds: float = 0.0
    merges: int = 0
    auto: int = 0
    review: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "district": self.name,
            "plan": None if self.plan_path is None else str(self.plan_path),
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "merges": self.merges,
            "auto": self.auto,
            "review": self.review,
        }


def districts_in(root: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> list[
    District
]:  # fmt: skip
    """The districts of ``root``: each sub-folder with an ``archived`` and a ``synced`` folder.

    Sub-folders without them are named in the error, so that a typo is not a
    district silently left out; hidden folders (``.cache``) are skipped.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise InputError("districts folder not found; check the path", path=str(root))
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    bad = [p.name for p in subs if not ((p / "archived").is_dir() and (p / "synced").is_dir())]
    if bad:
        listed = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise InputError(
            f"these folders have no archived/ and synced/ roster folders: {listed}; give each "
            "district a folder holding both, and move anything else out",
            path=str(root),
        )
    if not subs:
        raise InputError(
            "no district folders found; expected one folder per district, each holding "
            "archived/ and synced/",
            path=str(root),
        )
    return [District(p.name, p / "archived", p / "synced", out) for p in subs]


def _roster(side: Path | Roster) -> Roster:
    return side if isinstance(side, Roster) else read_roster(side)


def _publish(plan: MergePlan, target: Path) -> None:
    """Write ``plan`` to ``target`` through a temporary folder of this task's own.

    The plan is complete on disk before one rename makes it visible; a
    task run twice (a retry after a lost worker) renames a whole plan of the
    same bytes over the first one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        plan.write(scratch / target.name)
        os.replace(scratch / target.name, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def failure_reason(exc: BaseException) -> str:
    """A one-line reason without PII: our errors' messages, or where an unexpected one arose."""
    if isinstance(exc, MergeEngineError | OSError):
        return str(exc)
    where = traceback.extract_tb(exc.__traceback__)
    at = f" at {os.path.basename(where[-1].filename)}:{where[-1].lineno}" if where else ""
    # A third-party message may quote a roster's cell: name the type and place only.
    return f"unexpected {type(exc).__name__}{at} (a bug: please report it)"


def plan_district(district: District, settings: Settings | None = None) -> DistrictResult:
    """Plan one district; never raises for the district's own failure (it is the result).

    This is the task each worker runs: importable by name, so any executor
    can send it.
    """
    started = time.perf_counter()
    try:
        plan = build_plan(_roster(district.archived), _roster(district.synced), settings)
        target = district.plan_path
        if target is not None:
            _publish(plan, target)
    except Exception as exc:
        log.warning("district_failed", district=district.name, error=type(exc).__name__)
        return DistrictResult(
            district.name, error=failure_reason(exc), seconds=time.perf_counter() - started
        )
    seconds = time.perf_counter() - started
    log.info("district_planned", district=district.name, merges=len(plan.merges))
    return DistrictResult(
        district.name,
        plan=plan if target is None else None,
        plan_path=target,
        seconds=seconds,
        merges=len(plan.merges),
        auto=len(plan.auto),
        review=len(plan.review),
    )


def process_pool(workers: int | None = None) -> cf.ProcessPoolExecutor:
    """A pool of ``workers`` processes (default: one per core) started by a fork server.

    A fork server starts each worker from a clean process rather than a copy of
    the caller, which may hold threads (a progress bar, a Dask client) or a
    large roster.
    """
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=context)


def resolve_executor(executor: Any) -> tuple[cf.Executor, bool]:
    """The executor to submit to, and whether it is ours to shut down.

    A ``dask.distributed.Client`` is used through its own
    ``concurrent.futures`` face, with ``pure=False``: two districts given the
    same rosters are still two tasks.
    """
    if executor is None:
        return process_pool(), True
    if isinstance(executor, cf.Executor):
        return executor, False
    if callable(getattr(executor, "get_executor", None)):
        return executor.get_executor(pure=False), False
    raise TypeError(
        f"executor must be a concurrent.futures.Executor or a dask.distributed.Client, "
        f"not {type(executor).__name__}"
    )


def _lost(name: str, exc: BaseException) -> DistrictResult:
    """A district whose task did not come back (its worker died, the pool broke)."""
    return DistrictResult(
        name,
        error=f"its task did not finish: {type(exc).__name__} (a worker process died: killed, or "
        "out of memory?); run it again, alone or with fewer workers",
    )


def plan_many(
    districts: Iterable[District],
    executor: Any = None,
    settings: Settings | None = None,
    *,
    on_result: Callable[[DistrictResult], None] | None = None,
) -> list[DistrictResult]:
    """Plan independent districts in parallel; one result per district, in the order given.

    Args:
        districts: the districts; their names must differ (each is a folder of the output).
        executor: a ``concurrent.futures.Executor``, a ``dask.distributed.Client``, or
            None for a process pool of one worker per core (shut down at the end).
        settings: the same settings for every district.
        on_result: called in this process with each result as it arrives (progress).

    Each plan is the one :func:`build_plan` gives for that district alone, to
    the byte. A district that fails (bad input, a lost worker) gets a result
    with ``error`` set and the others go on.
    """
    todo: Sequence[District] = list(districts)
    distinct_names([d.name for d in todo])
    return run_each(
        todo,
        executor,
        lambda pool, d: pool.submit(plan_district, d, settings),
        lambda d, exc: _lost(d.name, exc),
        on_result,
    )


def distinct_names(names: Sequence[str]) -> None:
    """Refuse two districts of one name: each is a folder of the output (and a result)."""
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"two districts are named {twice[0]!r}; give each district its own name")


def run_each(
    tasks: Sequence[Task],
    executor: Any,
    submit: Callable[[cf.Executor, Task], cf.Future[Result]],
    lost: Callable[[Task, BaseException], Result],
    on_result: Callable[[Result], None] | None,
) -> list[Result]:
    """Run one task per district on ``executor``; the results in the order of ``tasks``.

    A task that never returns (its worker died, the pool broke) becomes
    ``lost(task, error)``, so one district never stops the others; a pool made
    here is shut down here.
    """
    pool, owned = resolve_executor(executor)
    results: dict[int, Result] = {}
    try:
        futures = {submit(pool, task): i for i, task in enumerate(tasks)}
        for future in cf.as_completed(futures):
            i = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the task never returned: its worker or pool is gone
                result = lost(tasks[i], exc)
            results[i] = result
            if on_result is not None:
                on_result(result)
    finally:
        if owned:
            pool.shutdown(wait=True, cancel_futures=True)
    return [results[i] for i in range(len(tasks))]
