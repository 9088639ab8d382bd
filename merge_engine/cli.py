"""The ``merge-engine`` command: a thin layer over the public Python API.

Each command parses its arguments, calls one library function and maps
:class:`MergeEngineError` to exit code 2 with a one-line message. Logs go
to stderr (this is an application, so it configures structlog; the
library never does).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from ._cli_common import print_summary, storage_at
from ._cli_db import cmd_apply, cmd_demo, cmd_history, cmd_sample, cmd_undo
from ._cli_report import add_report_parser
from ._cli_review import add_decisions_arg, read_decision_files, register_review, register_show
from .applying._applying import plan_fingerprint
from .applying.journal import plan_summaries
from .exceptions import MergeEngineError, OutputExistsError, PlanError
from .model import Roster
from .plan import MergePlan
from .planning.planner import build_plan
from .planning.replan import plan_from_storage
from .readers import read_roster
from .review.decisions import without_rejected
from .settings import Settings

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
    decisions = read_decision_files(args.decisions)  # a bad file stops before planning
    if args.db:
        if args.archived or args.synced:
            raise PlanError("give either --db or --archived and --synced, not both")
        with storage_at(args.db) as storage:
            if not args.overwrite:
                _keep_applied_plan(Path(args.out), storage, args.db)
            plan = plan_from_storage(storage, settings)
    elif Path(args.out).exists() and not args.overwrite:
        raise OutputExistsError(
            f"{args.out} already exists; if it is a plan that was applied, it is the handle "
            "for undoing it. Write the new plan to another file, or pass --overwrite "
            "(`merge-engine history --db URL --plans` lists the plans applied to a database; "
            "`undo --plan-id` undoes one without its file)"
        )
    else:
        archived, synced = _read_both(args)
        plan = build_plan(archived, synced, settings)
    plan = without_rejected(plan, decisions)
    plan.write(args.out)
    print_summary(plan, args.out)
    return 0


def _keep_applied_plan(out: Path, storage: Any, db: str) -> None:
    """Refuse to overwrite ``out`` when it is a plan still applied to ``storage`` (or no plan)."""
    if not out.exists():
        return
    try:
        fp = plan_fingerprint(MergePlan.read(out))
    except (MergeEngineError, OSError, ValueError):
        raise OutputExistsError(
            f"{out} already exists and is not a plan file; write the plan to another file, "
            "or pass --overwrite"
        ) from None
    applied = [
        p for p in plan_summaries(storage.audit_records())
        if p.plan_id == fp and p.still_applied + p.steps_still_applied
    ]  # fmt: skip
    if applied:
        raise OutputExistsError(
            f"{out} holds plan {fp}, whose {applied[0].still_applied} merges are applied to "
            f"this database; it is the handle for undoing them. Write the new plan to another "
            f"file, or pass --overwrite (then undo with: merge-engine undo --plan-id {fp} "
            f"--db {db})"
        )


def _read_both(args: argparse.Namespace) -> tuple[Roster, Roster]:
    if not (args.archived and args.synced):
        raise PlanError("give both --archived and --synced folders (or --db URL)")
    archived = read_roster(
        args.archived,
        format=args.archived_format,
        fallback_encoding=args.encoding_fallback,
        strict=args.strict,
    )
    synced = read_roster(
        args.synced,
        format=args.synced_format,
        fallback_encoding=args.encoding_fallback,
        strict=args.strict,
    )
    return archived, synced


def _cmd_audit(args: argparse.Namespace) -> int:
    from .accounts.contact_audit import audit_contacts  # noqa: PLC0415

    archived = plan = stranded = None
    if args.db:
        if args.synced or args.archived:
            raise PlanError("give either --db or roster folders, not both")
        from .applying.sweep import stranded_history  # noqa: PLC0415

        with storage_at(args.db) as storage:
            synced = storage.read_roster("synced")
            archived = storage.read_roster("archived")
            stranded = stranded_history(storage)
    else:
        if not args.synced:
            raise PlanError("give --synced DIR (and optionally --archived DIR), or --db URL")
        synced = read_roster(
            args.synced,
            format=args.synced_format,
            fallback_encoding=args.encoding_fallback,
            strict=args.strict,
        )
        if args.archived:
            archived = read_roster(
                args.archived,
                format=args.archived_format,
                fallback_encoding=args.encoding_fallback,
                strict=args.strict,
            )
    if archived is not None and archived.students:
        plan = build_plan(archived, synced, _settings(args.settings))
    report = audit_contacts(synced, archived, plan, stranded)
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


def _cmd_settings(args: argparse.Namespace) -> int:
    print(json.dumps(_settings(args.settings).to_dict(), indent=2, sort_keys=True))
    return 0


_EXIT_CODES = """exit codes (also with --dry-run):
  0  done: every merge and account step applied (or undone), skipped or already done
  1  done, but some were refused: stale (changed since planning), conflict or failed;
     the summary lists them (a rerun skips what is done)
  2  stopped with an error: bad input, the safety valve tripped (see --force), or
     another apply or undo of the same plan is running (in these cases nothing was
     written), or the database failed"""

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
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first input warning (an empty name, an unreadable date) instead of "
        "keeping the row and recording the warning",
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
    plan.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out even if it exists (without it: refused when --out holds a plan "
        "still applied to --db, or, without --db, whenever --out exists)",
    )
    plan.add_argument("--settings", help="settings file (.toml or .json)")
    add_decisions_arg(
        plan, "a reviewer's decisions (review import): rejected pairs are not proposed "
        "again and are listed in the plan's warnings (repeatable)"
    )  # fmt: skip
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
        epilog="Example: merge-engine apply plan.json --db district.db --approve approved.csv\n\n"
        + _EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    add_decisions_arg(
        apply, "a reviewer's decisions (review import, review approve-rule): apply the "
        "approved items, checked against this plan (repeatable)"
    )  # fmt: skip
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
    apply.set_defaults(func=cmd_apply)

    undo = sub.add_parser(
        "undo",
        help="undo the merges a plan applied (all, or --only some)",
        description="Undo applied merges from their journal: rows go back, rows set aside are "
        "restored, added guardian links are removed. Rows written since stay and are counted.",
        epilog="Example: merge-engine undo plan.json --db district.db --only a000123\n"
        "         merge-engine undo --plan-id 889112f7d4073cd3 --db district.db\n\n" + _EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    undo.add_argument("plan", nargs="?", help="the plan JSON that was applied")
    undo.add_argument(
        "--plan-id",
        metavar="ID",
        help="undo the plan with this id (see `history --plans`) from the database's journal, "
        "without the plan file",
    )
    undo.add_argument("--db", metavar="URL", required=True, help=_DB_HELP)
    undo.add_argument("--only", metavar="ID", nargs="+", help="archived ids of the merges to undo")
    undo.add_argument("--dry-run", action="store_true", help="show what would change, roll back")
    _run_args(undo)
    undo.set_defaults(func=cmd_undo)

    history = sub.add_parser(
        "history",
        help="list the plans applied to a database and the audit log of their merges",
        description="List the plans applied to the database (plan id, merges applied, undone "
        "and still applied, first and last time), then every apply and undo recorded.",
        epilog="Example: merge-engine history --db district.db --id a000123\n"
        "         merge-engine history --db district.db --plans",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    history.add_argument("--db", metavar="URL", required=True, help=_DB_HELP)
    history.add_argument("--plan", metavar="ID", help="only this plan's records")
    history.add_argument(
        "--plans", action="store_true", help="only the applied plans (a JSON list with --json)"
    )
    history.add_argument("--id", help="only records of this archived or synced id")
    history.add_argument("--limit", type=int, default=0, help="only the newest N records")
    history.add_argument("--notes", action="store_true", help="show each record's note")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    history.set_defaults(func=cmd_history)

    register_show(sub)
    register_review(sub)

    add_report_parser(sub, _roster_args, _DB_HELP)

    sample = sub.add_parser(
        "sample",
        help="write the bundled sample district (archived and synced folders)",
        epilog="Example: merge-engine sample --out sample/",
    )
    sample.add_argument("--out", required=True)
    sample.set_defaults(func=cmd_sample)

    demo = sub.add_parser(
        "demo",
        help="build a sample district in SQLite, plan it, apply it and explain the result",
        epilog="Example: merge-engine demo --dir merge-engine-demo",
    )
    demo.add_argument(
        "--dir",
        default=None,
        help="working folder (created); default: a new temporary folder, printed at the end",
    )
    demo.add_argument("--students", type=int, default=300, help="archived students to generate")
    demo.add_argument("--seed", type=int, default=1, help="random seed of the sample district")
    demo.add_argument(
        "--overwrite",
        action="store_true",
        help="replace district.db and plan.json in --dir if they exist (their undo is lost)",
    )
    demo.set_defaults(func=cmd_demo)

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
