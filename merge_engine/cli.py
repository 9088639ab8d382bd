"""The ``merge-engine`` command: a thin layer over the public Python API.

Each command parses its arguments, calls one library function and maps
:class:`MergeEngineError` to exit code 2 with a one-line message. Logs go
to stderr (this is an application, so it configures structlog; the
library never does).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import random
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import structlog

from .accounts import approval_ids, explain_account_steps
from .apply import ApplyReport, apply_plan, audit_history
from .approvals import read_approvals
from .exceptions import MergeEngineError, PlanError
from .model import Roster
from .plan import MergePlan
from .planner import build_plan
from .readers import read_roster
from .settings import Settings
from .undo import undo_plan

__all__ = ["main"]

EXIT_INPUT = 2


def _stderr_logger(*_: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(file=sys.stderr)


def _configure_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Look sys.stderr up at each call: a stream bound once goes stale when a
        # caller (a test runner, a notebook) swaps or closes it.
        logger_factory=_stderr_logger,
    )


def _settings(path: str | None) -> Settings:
    return Settings.from_file(path) if path else Settings()


def _cmd_plan(args: argparse.Namespace) -> int:
    settings = _settings(args.settings)
    if args.db:
        if args.archived or args.synced:
            raise PlanError("give either --db or --archived and --synced, not both")
        with _storage(args.db) as storage:
            archived, synced = storage.read_roster("archived"), storage.read_roster("synced")
    else:
        archived, synced = _read_both(args)
    plan = build_plan(archived, synced, settings)
    plan.write(args.out)
    _print_summary(plan, args.out)
    return 0


def _read_both(args: argparse.Namespace) -> tuple[Roster, Roster]:
    if not (args.archived and args.synced):
        raise PlanError("give both --archived and --synced folders (or --db URL)")
    archived = read_roster(
        args.archived, format=args.archived_format, fallback_encoding=args.encoding_fallback
    )
    synced = read_roster(
        args.synced, format=args.synced_format, fallback_encoding=args.encoding_fallback
    )
    return archived, synced


@contextmanager
def _storage(url: str, *, create: bool = False) -> Iterator[Any]:
    from .storage import open_storage  # noqa: PLC0415  (keeps `plan` free of storage imports)

    storage = open_storage(url, create=create)
    try:
        yield storage
    finally:
        storage.close()


def _cmd_audit(args: argparse.Namespace) -> int:
    from .contact_audit import audit_contacts  # noqa: PLC0415

    archived = plan = None
    if args.db:
        if args.synced or args.archived:
            raise PlanError("give either --db or roster folders, not both")
        with _storage(args.db) as storage:
            synced = storage.read_roster("synced")
            archived = storage.read_roster("archived")
    else:
        if not args.synced:
            raise PlanError("give --synced DIR (and optionally --archived DIR), or --db URL")
        synced = read_roster(
            args.synced, format=args.synced_format, fallback_encoding=args.encoding_fallback
        )
        if args.archived:
            archived = read_roster(
                args.archived,
                format=args.archived_format,
                fallback_encoding=args.encoding_fallback,
            )
    if archived is not None and archived.students:
        plan = build_plan(archived, synced, _settings(args.settings))
    report = audit_contacts(synced, archived, plan)
    print(report.summary())
    if args.json:
        Path(args.json).write_text(
            json.dumps(report.to_dict(), indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        print(f"JSON report written to {args.json}")
    if args.csv:
        Path(args.csv).write_text(report.to_csv(), encoding="utf-8", newline="")
        print(f"CSV report written to {args.csv}")
    return 0


def _cmd_load(args: argparse.Namespace) -> int:
    from .storage import load_rosters  # noqa: PLC0415

    archived, synced = _read_both(args)
    report = load_rosters(args.db, archived, synced, replace=args.replace)
    print(
        f"loaded {report.archived_students} archived and {report.synced_students} synced "
        f"students, {report.guardians} guardians ({report.links} links), {report.staff} staff "
        f"into {args.db} in {report.seconds:.1f}s"
    )
    print(f"next: merge-engine plan --db {args.db} --out plan.json")
    return 0


class _Progress:
    """Progress on stderr: a tqdm bar when tqdm is installed, else a plain counter on a TTY."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        try:
            tqdm = importlib.import_module("tqdm").tqdm  # optional, untyped
        except ImportError:
            if self.tty:
                end = "\n" if done >= total else ""
                print(f"\r{self.label} {done:,}/{total:,}", end=end, file=sys.stderr, flush=True)
            return
        if self.bar is None:
            self.bar = tqdm(
                total=total,
                desc=self.label,
                unit="merge",
                file=sys.stderr,
                disable=None,
                leave=False,
            )
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.bar.close()


def _approved(args: argparse.Namespace, plan: MergePlan) -> set[str]:
    approved: set[str] = set()
    if args.approve_all_review:
        approved = {m.archived_id for m in plan.review} | set(approval_ids(plan))
    for path in args.approve or ():
        approved |= read_approvals(path)
    return approved


def _finish(report: ApplyReport, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(report.to_dict(), indent=1, sort_keys=True))
    else:
        print(report.summary(limit=args.limit))
    if not report.ok:
        print(
            "some merges failed or met concurrent changes; run the same command again "
            "(merges already done are skipped)",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_apply(args: argparse.Namespace) -> int:
    plan = MergePlan.read(args.plan)
    approved = _approved(args, plan)
    with _storage(args.db) as storage:
        report = apply_plan(
            plan,
            storage,
            approved=approved,
            dry_run=args.dry_run,
            force=args.force,
            accounts=not args.students_only,
            progress=_Progress("dry run" if args.dry_run else "applying"),
            batch_size=args.batch_size,
        )
    code = _finish(report, args)
    if not args.json and report.counts.get("skipped_review"):
        print(
            f"{report.counts['skipped_review']} review merges were not approved; see "
            f"merge-engine show {args.plan} --review"
        )
    return code


def _cmd_undo(args: argparse.Namespace) -> int:
    plan = MergePlan.read(args.plan)
    with _storage(args.db) as storage:
        report = undo_plan(
            plan,
            storage,
            archived_ids=args.only,
            dry_run=args.dry_run,
            progress=_Progress("undoing"),
            batch_size=args.batch_size,
        )
    return _finish(report, args)


def _cmd_history(args: argparse.Namespace) -> int:
    with _storage(args.db) as storage:
        records = audit_history(storage)
    if args.plan:
        records = [r for r in records if r.plan_fingerprint == args.plan]
    if args.id:
        records = [r for r in records if args.id in (r.archived_id, r.synced_id)]
    records = records[-args.limit :] if args.limit else records
    if args.json:
        print(json.dumps([attrs.asdict(r) for r in records], indent=1, sort_keys=True))
        return 0
    if not records:
        print("no merges applied or undone yet")
        return 0
    print(f"{'at':<29} {'action':<6} {'plan':<16} {'archived':<12} {'synced':<12} rows")
    for r in records:
        rows = ", ".join(f"{t} {n}" for t, n in sorted(r.rows.items())) or "-"
        note = f"  [{r.note}]" if args.notes and r.note else ""
        print(
            f"{r.at:<29} {r.action:<6} {r.plan_fingerprint:<16} {r.archived_id:<12} "
            f"{r.synced_id:<12} {rows}{note}"
        )
    return 0


def _print_summary(plan: MergePlan, out: str | Path) -> None:
    s = plan.stats
    print(f"{plan!r}")
    print(
        f"compared {s.get('pairs_compared', 0):,} of {s.get('pairs_possible', 0):,} "
        "possible pairs; "
        f"plan written to {out}"
    )
    if plan.warnings:
        print(f"{len(plan.warnings)} input warnings are listed in the plan under 'warnings'.")
    if plan.review:
        print(
            f"Review the {len(plan.review)} merges marked 'review' before applying: "
            f"merge-engine show {out} --review"
        )
    account_reviews = len(approval_ids(plan))
    if account_reviews:
        print(
            f"{account_reviews} account steps (guardian merges, old guardians, multiple-role "
            f"users) need review too: merge-engine show {out} --accounts --review"
        )


def _cmd_show(args: argparse.Namespace) -> int:
    plan = MergePlan.read(args.plan)
    merges = plan.review if args.review else plan.merges
    if args.id:
        merges = tuple(m for m in merges if args.id in (m.archived_id, m.synced_id))
    print(repr(plan))
    if args.accounts:
        lines = explain_account_steps(plan, review_only=args.review)
        if args.id:
            lines = [line for line in lines if args.id in line]
        shown = [line for line in lines if not line.startswith("  ")]
        for line in lines[: _cut(lines, args.limit)]:
            print(line)
        if len(shown) > args.limit:
            print(f"... {len(shown) - args.limit} more (use --limit)")
        return 0
    for merge in merges[: args.limit]:
        print(merge.explain())
    if len(merges) > args.limit:
        print(f"... {len(merges) - args.limit} more (use --limit)")
    return 0


def _cut(lines: list[str], limit: int) -> int:
    """How many lines hold the first ``limit`` entries (an entry and its indented lines)."""
    heads = [i for i, line in enumerate(lines) if not line.startswith("  ")]
    return heads[limit] if len(heads) > limit else len(lines)


def _cmd_sample(args: argparse.Namespace) -> int:
    source = resources.files("merge_engine") / "data" / "sample"
    target = Path(args.out)
    for side in ("archived", "synced"):
        with resources.as_file(source / side) as folder:
            shutil.copytree(folder, target / side, dirs_exist_ok=True)
    print(f"sample district written to {target}/archived and {target}/synced")
    print(
        f"next: merge-engine plan --archived {target}/archived "
        f"--synced {target}/synced --out plan.json"
    )
    return 0


def _demo_history(archived: Roster, synced: Roster, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Messages, notes and attendance for the demo; a few synced students share a school day."""
    rng = random.Random(seed)
    days = [f"2024-09-{d:02d}" for d in range(3, 8)]
    rows: dict[str, list[dict[str, Any]]] = {"messages": [], "notes": [], "attendance": []}
    ids = iter(range(1, 10**9))
    for s in archived.students:
        for k in range(rng.randint(1, 3)):
            sent = f"2024-0{k + 1}-15T08:00:00"
            rows["messages"].append(
                {"id": next(ids), "student_id": s.id, "sent_at": sent, "body": "newsletter"}
            )
        rows["notes"].append(
            {
                "id": next(ids),
                "student_id": s.id,
                "created_at": "2024-03-01",
                "body": "reading level checked",
            }
        )
        for day in rng.sample(days, 2):
            rows["attendance"].append(
                {"id": next(ids), "student_id": s.id, "day": day, "status": "present"}
            )
    for s in synced.students[:: max(1, len(synced.students) // 12)]:
        rows["attendance"].append(
            {"id": next(ids), "student_id": s.id, "day": days[0], "status": "absent"}
        )
    return rows


def _cmd_demo(args: argparse.Namespace) -> int:
    from .storage import load_history, load_rosters  # noqa: PLC0415
    from .synthetic import generate_district  # noqa: PLC0415

    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    db = work / "district.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    district = generate_district(args.students, seed=args.seed)
    load_rosters(url, district.archived, district.synced)
    with _storage(url) as storage:
        rows = load_history(storage, _demo_history(district.archived, district.synced, args.seed))
        print(
            f"sample district in {db}: {len(district.archived)} archived and "
            f"{len(district.synced)} synced students, {rows} history rows"
        )
        plan = build_plan(
            storage.read_roster("archived"),
            storage.read_roster("synced"),
            Settings(random_pairs=50_000),
        )
        out = work / "plan.json"
        plan.write(out)
        _print_summary(plan, out)
        report = apply_plan(plan, storage)
    print()
    print(report.summary(limit=3))
    collided = next((o for o in report.outcomes if o.set_aside), None)
    for merge in [
        *plan.auto[:2],
        *(m for m in plan.merges if collided and m.archived_id == collided.archived_id),
    ][:3]:
        print()
        print(merge.explain())
    if collided:
        print(
            f"  {collided.archived_id}: a same-day attendance row met the synced student's "
            "own; the synced row stayed and the archived one is kept in the journal"
        )
    print()
    print(f"{len(plan.review)} merges wait for review (not applied). Try next:")
    print(f"  merge-engine show {out} --review")
    print(f"  merge-engine history --db {url}")
    print(
        f"  merge-engine undo {out} --db {url} --only {plan.auto[0].archived_id}"
        if plan.auto
        else f"  merge-engine undo {out} --db {url}"
    )
    print(f"  merge-engine apply {out} --db {url} --approve-all-review --dry-run")
    return 0


def _cmd_settings(args: argparse.Namespace) -> int:
    print(json.dumps(_settings(args.settings).to_dict(), indent=2, sort_keys=True))
    return 0


_DB_HELP = "database: sqlite:///path.db, a bare path, or a SQLAlchemy URL"


def _roster_args(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--archived", required=required, help="folder of the archived roster")
    parser.add_argument("--synced", required=required, help="folder of the synced roster")
    formats = ["auto", "native", "clever", "oneroster"]
    parser.add_argument("--archived-format", choices=formats, default="auto")
    parser.add_argument("--synced-format", choices=formats, default="auto")
    parser.add_argument(
        "--encoding-fallback",
        metavar="ENCODING",
        help="decode files that are not valid UTF-8 with this encoding (e.g. cp1252); "
        "each use is recorded as a warning",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=_positive, default=500, help="merges per transaction")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument(
        "--limit", type=int, default=10, help="refused or failed merges listed in the summary"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="merge-engine",
        description="Merge archived students into the students a roster sync created.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser(
        "plan",
        help="match archived to synced students and write a merge plan",
        description="Match archived to synced students and write a reviewable merge plan.",
        epilog="Example: merge-engine plan --archived old/ --synced clever/ --out plan.json\n"
        "         merge-engine plan --db district.db --out plan.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("--db", metavar="URL", help=_DB_HELP + " (instead of the folders)")
    _roster_args(plan, required=False)
    plan.add_argument("--out", required=True, help="where to write the plan JSON")
    plan.add_argument("--settings", help="settings file (.toml or .json)")
    plan.set_defaults(func=_cmd_plan)

    audit = sub.add_parser(
        "audit",
        help="report contact data quality problems (before or after a sync)",
        description="Report guardians without a SIS id, conflicting or unreachable contacts, "
        "students without guardians, staff who are also guardians, and (with the archived "
        "roster) archived students with no plausible synced counterpart. Ids only, no names.",
        epilog="Example: merge-engine audit --synced clever/ --archived old/ --csv audit.csv\n"
        "         merge-engine audit --db district.db --json audit.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument("--db", metavar="URL", help=_DB_HELP + " (instead of the folders)")
    _roster_args(audit, required=False)
    audit.add_argument("--settings", help="settings file for the archived match (.toml or .json)")
    audit.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    audit.add_argument("--csv", metavar="FILE", help="also write the findings as CSV")
    audit.set_defaults(func=_cmd_audit)

    load = sub.add_parser(
        "load",
        help="load an archived and a synced roster into a database (reference schema)",
        description="Load both rosters into a database, creating the reference schema if needed.",
        epilog="Example: merge-engine load --db district.db --archived old/ --synced clever/",
    )
    load.add_argument("--db", metavar="URL", required=True, help=_DB_HELP)
    _roster_args(load, required=True)
    load.add_argument(
        "--replace",
        action="store_true",
        help="empty the reference tables first (history, journal, audit too)",
    )
    load.set_defaults(func=_cmd_load)

    apply = sub.add_parser(
        "apply",
        help="apply a plan's auto merges (and approved review merges) to a database",
        description="Apply a plan: each merge all-or-nothing, journaled and audited. Merges whose "
        "students changed since planning are refused; re-running skips merges already applied.",
        epilog="Example: merge-engine apply plan.json --db district.db --approve approved.csv",
    )
    apply.add_argument("plan", help="the plan JSON written by `merge-engine plan`")
    apply.add_argument("--db", metavar="URL", required=True, help=_DB_HELP)
    apply.add_argument(
        "--dry-run", action="store_true", help="show what would change, then roll everything back"
    )
    apply.add_argument(
        "--force",
        action="store_true",
        help="apply even when the safety valve trips (empty or shrunken sync, "
        "mass change since planning)",
    )
    apply.add_argument(
        "--approve",
        metavar="FILE",
        action="append",
        help="approved review merges: one archived id per line, or a CSV with an "
        "archived_id column (repeatable); review account steps by their approval id "
        "(guardian:<synced guardian id>, detach:<archived id>:<guardian id>, role:<id>:<id>)",
    )
    apply.add_argument(
        "--approve-all-review",
        action="store_true",
        help="apply every review merge and review account step too (after reviewing them all)",
    )
    apply.add_argument(
        "--students-only",
        action="store_true",
        help="apply the student merges but not the plan's guardian merges, detaches and "
        "multiple-role links",
    )
    _run_args(apply)
    apply.set_defaults(func=_cmd_apply)

    undo = sub.add_parser(
        "undo",
        help="undo the merges a plan applied (all, or --only some)",
        description="Undo applied merges from their journal: rows go back, rows set aside are "
        "restored, added guardian links are removed. Rows written since stay and are counted.",
        epilog="Example: merge-engine undo plan.json --db district.db --only a000123",
    )
    undo.add_argument("plan", help="the plan JSON that was applied")
    undo.add_argument("--db", metavar="URL", required=True, help=_DB_HELP)
    undo.add_argument("--only", metavar="ID", nargs="+", help="archived ids of the merges to undo")
    undo.add_argument("--dry-run", action="store_true", help="show what would change, roll back")
    _run_args(undo)
    undo.set_defaults(func=_cmd_undo)

    history = sub.add_parser(
        "history",
        help="list the audit log of applied and undone merges",
        epilog="Example: merge-engine history --db district.db --id a000123",
    )
    history.add_argument("--db", metavar="URL", required=True, help=_DB_HELP)
    history.add_argument("--plan", metavar="FINGERPRINT", help="only this plan's records")
    history.add_argument("--id", help="only records of this archived or synced id")
    history.add_argument("--limit", type=int, default=0, help="only the newest N records")
    history.add_argument("--notes", action="store_true", help="show each record's note")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    history.set_defaults(func=_cmd_history)

    show = sub.add_parser(
        "show",
        help="print a plan's merges with their evidence",
        epilog="Example: merge-engine show plan.json --review --limit 20",
    )
    show.add_argument("plan")
    show.add_argument("--review", action="store_true", help="only merges that need review")
    show.add_argument(
        "--accounts",
        action="store_true",
        help="the account steps instead: guardian merges, old-guardian actions and "
        "multiple-role users, with the approval id of each review step",
    )
    show.add_argument("--id", help="only merges involving this archived or synced id")
    show.add_argument("--limit", type=int, default=50)
    show.set_defaults(func=_cmd_show)

    sample = sub.add_parser(
        "sample",
        help="write the bundled sample district (archived and synced folders)",
        epilog="Example: merge-engine sample --out sample/",
    )
    sample.add_argument("--out", required=True)
    sample.set_defaults(func=_cmd_sample)

    demo = sub.add_parser(
        "demo",
        help="build a sample district in SQLite, plan it, apply it and explain the result",
        epilog="Example: merge-engine demo --dir merge-engine-demo",
    )
    demo.add_argument("--dir", default="merge-engine-demo", help="working folder (created)")
    demo.add_argument("--students", type=int, default=300, help="archived students to generate")
    demo.add_argument("--seed", type=int, default=1, help="random seed of the sample district")
    demo.set_defaults(func=_cmd_demo)

    settings = sub.add_parser(
        "settings",
        help="print the effective settings as JSON",
        epilog="Example: merge-engine settings --settings district.toml",
    )
    settings.add_argument("--settings", help="settings file (.toml or .json)")
    settings.set_defaults(func=_cmd_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        code: int = args.func(args)
    except MergeEngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return code
