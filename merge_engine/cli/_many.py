"""The commands for many districts at once: plan-many and apply-many."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import MissingDependencyError
from ..planning._many import PLAN_FILE, DistrictResult, districts_in, plan_many, process_pool
from ._common import emit_json, settings_at
from ._progress import Counter, steps

if TYPE_CHECKING:
    from ..applying._many import DistrictApplied
    from ..planning._many import DistrictResult

__all__ = ["register"]

#: Every district done; done, but some districts failed or had merges refused (the
#: summary names them; the others are done); stopped with an error before any district.
EXIT_DONE, EXIT_SOME_FAILED = 0, 1

EXIT_CODES = """exit codes:
  0  every district done
  1  done, but some districts failed (or, for apply-many, had merges refused):
     the summary says which and why; the other districts are done
  2  stopped with an error before any district (bad folder, bad option)"""


@contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Any]:
    """A Dask client on --scheduler, or a process pool of --workers (default: one per core)."""
    if args.scheduler:
        try:  # the optional extra `dask`; imported by name: its Client is untyped
            client_class: Any = import_module("distributed").Client
        except ImportError:
            raise MissingDependencyError(
                "--scheduler needs dask.distributed: pip install 'merge-engine[dask]'"
            ) from None
        with client_class(args.scheduler) as client:
            yield client
        return

    with process_pool(args.workers) as pool:
        yield pool


def _existing(results: list[DistrictResult], out: Path, names: list[str]) -> list[str]:
    """Districts whose plan file exists: refused (a plan may be the handle of applied work)."""
    from ..planning._many import DistrictResult  # noqa: PLC0415

    kept = [n for n in names if (out / n / PLAN_FILE).exists()]
    results.extend(
        DistrictResult(
            n,
            error=f"{out / n / PLAN_FILE} already exists (it may be the handle for undoing an "
            "applied plan); pass --overwrite, or write to another --out",
        )
        for n in kept
    )
    return kept


def cmd_plan_many(args: argparse.Namespace) -> int:
    # The planner (numpy, scipy) loads only for the commands that plan: others start at once.

    settings = settings_at(args.settings)
    out = Path(args.out)
    districts = districts_in(args.districts, out)
    order = {d.name: i for i, d in enumerate(districts)}
    refused: list[DistrictResult] = []
    if not args.overwrite:
        kept = set(_existing(refused, out, [d.name for d in districts]))
        districts = [d for d in districts if d.name not in kept]
    names = [d.name for d in districts]
    with steps(args, "planning districts", names) as bar, _executor(args) as executor:
        done = plan_many(districts, executor, settings, on_result=lambda r: bar.done(r.name))
    results = sorted([*done, *refused], key=lambda r: order[r.name])
    if args.json:
        emit_json([r.to_dict() for r in results])
    else:
        _print_plans(results)
    return EXIT_DONE if all(r.ok for r in results) else EXIT_SOME_FAILED


def _print_plans(results: list[DistrictResult]) -> None:
    width = max([8, *(len(r.name) for r in results)])
    print(f"{'district':<{width}} {'merges':>7} {'auto':>7} {'review':>7} {'seconds':>8}  plan")
    for r in results:
        if r.ok:
            print(
                f"{r.name:<{width}} {r.merges:>7} {r.auto:>7} {r.review:>7} "
                f"{r.seconds:>8.1f}  {r.plan_path}"
            )
        else:
            print(
                f"{r.name:<{width}} {'-':>7} {'-':>7} {'-':>7} {r.seconds:>8.1f}  error: {r.error}"
            )
    failed = sum(not r.ok for r in results)
    print(f"{len(results) - failed} of {len(results)} districts planned")


def cmd_apply_many(args: argparse.Namespace) -> int:
    from ..applying._many import apply_district, apply_many, plans_in  # noqa: PLC0415

    names = [d.name for d in districts_in(args.districts)]
    todo = plans_in(names, args.plans, args.db_template)
    options = {"dry_run": args.dry_run, "force": args.force, "batch_size": args.batch_size}
    if args.workers == 1 and not args.scheduler:  # in this process, a bar per district's merges
        results = []
        for district in todo:
            with Counter(args, f"applying {district.name}") as counter:
                results.append(apply_district(district, progress=counter, **options))
    else:
        with steps(args, "applying districts", names) as bar, _executor(args) as executor:
            results = apply_many(todo, executor, on_result=lambda r: bar.done(r.name), **options)
    if args.json:
        emit_json([r.to_dict() for r in results])
    else:
        _print_applied(results, dry_run=args.dry_run)
    return EXIT_DONE if all(r.ok for r in results) else EXIT_SOME_FAILED


def _print_applied(results: list[DistrictApplied], *, dry_run: bool) -> None:
    width = max([8, *(len(r.name) for r in results)])
    print(f"{'district':<{width}} {'applied':>8} {'refused':>8} {'seconds':>8}  result")
    for r in results:
        if r.error is None:
            counts = ", ".join(f"{n} {s}" for s, n in r.counts.items()) or "nothing to do"
            applied = r.counts.get("applied", 0)
            print(f"{r.name:<{width}} {applied:>8} {r.refused:>8} {r.seconds:>8.1f}  {counts}")
        else:
            print(f"{r.name:<{width}} {'-':>8} {'-':>8} {r.seconds:>8.1f}  error: {r.error}")
    bad = sum(not r.ok for r in results)
    dry = " (dry run)" if dry_run else ""
    print(f"{len(results) - bad} of {len(results)} districts applied in full{dry}")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _where(parser: argparse.ArgumentParser, verb: str, needs: str) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        metavar="N",
        type=_positive,
        help="worker processes on this machine (default: one per core"
        + (
            "; 1 applies in this process, with a bar per district's merges)"
            if verb == "apply"
            else ")"
        ),
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=f"{verb} on this Dask cluster (tcp://host:8786) instead; needs the extra "
        f"`dask`, and every worker must {needs}",
    )


def register(sub: Any) -> None:
    plan = sub.add_parser(
        "plan-many",
        help="plan many districts in parallel (process pool or Dask cluster)",
        description="Plan every district of a folder, each in a task of its own: DIR holds one "
        "folder per district, each with its archived/ and synced/ roster folders. Each plan is "
        "written to OUT/<district>/plan.json (whole or not at all), the same bytes as "
        "`merge-engine plan` gives for that district alone; a district that fails is "
        "reported and the others go on. See docs/many-districts.md.",
        epilog="Example: merge-engine plan-many --districts districts/ --out plans/ --workers 2\n"
        "         merge-engine plan-many --districts /shared/districts --out /shared/plans "
        "--scheduler tcp://scheduler:8786\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("--districts", metavar="DIR", required=True, help="one folder per district")
    plan.add_argument(
        "--out", metavar="DIR", required=True, help="where to write OUT/<district>/plan.json"
    )
    _where(plan, "plan", "see the folders")
    plan.add_argument("--settings", help="settings file for every district (.toml or .json)")
    plan.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing plan files (without it, a district whose plan file exists is "
        "reported and left as it is)",
    )
    plan.add_argument(
        "--json",
        action="store_true",
        help="print one object per district as JSON on stdout instead of the table "
        "(keys: docs/cli.md)",
    )
    plan.set_defaults(func=cmd_plan_many)

    apply = sub.add_parser(
        "apply-many",
        help="apply each district's plan to its own database",
        description="Apply OUT/<district>/plan.json (from plan-many) to each district's "
        "database, districts in parallel (process pool or Dask cluster), each in its own "
        "transactions: the auto merges and account steps, as `merge-engine apply` without "
        "approvals does. A district that fails is reported and the others go on; run it "
        "again: merges already applied are recognised.",
        epilog="Example: merge-engine apply-many --districts districts/ --plans plans/ "
        "--db-template 'sqlite:///dbs/{district}.db'\n"
        "         merge-engine apply-many --districts districts/ --plans plans/ "
        "--db-template 'postgresql+psycopg://app@db/{district}'\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    apply.add_argument("--districts", metavar="DIR", required=True, help="one folder per district")
    apply.add_argument(
        "--plans", metavar="DIR", required=True, help="the --out folder of plan-many"
    )
    apply.add_argument(
        "--db-template",
        metavar="URL",
        required=True,
        help="each district's database, with {district} for its name",
    )
    _where(apply, "apply", "reach every database and see the plan files")
    apply.add_argument(
        "--dry-run", action="store_true", help="show what would change, then roll back"
    )
    apply.add_argument(
        "--force",
        action="store_true",
        help="apply even when a district's safety valve trips (see `apply --force`)",
    )
    apply.add_argument("--batch-size", type=_positive, default=500, help="merges per transaction")
    apply.add_argument(
        "--json",
        action="store_true",
        help="print one object per district as JSON on stdout instead of the table "
        "(keys: docs/cli.md)",
    )
    apply.set_defaults(func=cmd_apply_many)
