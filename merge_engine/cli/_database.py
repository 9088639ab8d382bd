"""The commands that change or read a database's merges: apply, undo, history."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import attrs

from ..applying._account_steps import approval_ids
from ..applying._apply import ApplyReport, apply_plan, audit_history
from ..applying._approvals import read_approvals
from ..applying._journal import PlanSummary, plan_summaries
from ..applying._undo import undo_plan, undo_plan_id
from ..exceptions import PlanError
from ..plan import MergePlan
from ..plan_file import PlanFile
from ..review._decisions import approvals_for, check_one_child_per_record
from ._common import DB_HELP, storage_at
from ._progress import Counter
from ._review import add_decisions_arg, read_decision_files
from ._spool import OutcomeSpool

__all__ = ["EXIT_CODES", "register"]


def _approved(args: argparse.Namespace, plan: MergePlan) -> set[str]:
    """The ids approved by the options (``plan``: the review part of the plan suffices)."""
    approved: set[str] = set()
    if args.approve_all_review:
        approved = {m.archived_id for m in plan.review} | set(approval_ids(plan))
    for path in args.approve or ():
        approved |= read_approvals(path)
    decisions = read_decision_files(getattr(args, "decisions", None))
    if decisions:
        approved |= approvals_for(plan, decisions)
    twice = check_one_child_per_record(plan, approved)
    if twice:
        more = f", and {len(twice) - 1} more such groups" if len(twice) > 1 else ""
        raise PlanError(
            f"the approvals put two children onto one synced student ({', '.join(twice[0])}"
            f"{more}); approve at most one of them"
        )
    return approved


#: Exit codes of apply and undo (also with --dry-run): everything done; done but some
#: merges or account steps refused (stale, conflict, failed); bad input, the safety
#: valve, or the plan locked by another apply or undo (EXIT_INPUT, nothing written).
EXIT_DONE, EXIT_REFUSED, EXIT_INPUT = 0, 1, 2


def _finish(report: ApplyReport, args: argparse.Namespace, spool: OutcomeSpool | None) -> int:
    if args.json:
        if spool is None:
            print(json.dumps(report.to_dict(), indent=1, sort_keys=True))
        else:
            spool.print_report(report)
    else:
        print(report.summary(limit=args.limit))
    code = EXIT_DONE
    stale = len(report.by_status("stale"))
    if stale:
        advice = (
            "re-plan to handle them"
            if report.action == "apply"
            else "the reasons say what to undo first or to restore by hand"
        )
        print(
            f"{stale} merges or account steps were refused as stale (their records changed "
            f"since; reasons in the summary); {advice}",
            file=sys.stderr,
        )
        code = EXIT_REFUSED
    if not report.ok:
        print(
            "some merges failed or met concurrent changes; run the same command again "
            "(merges already done are skipped)",
            file=sys.stderr,
        )
        code = EXIT_REFUSED
    return code


def cmd_apply(args: argparse.Namespace) -> int:
    plan = PlanFile.open(args.plan)  # merges are read a batch at a time
    approved = _approved(args, plan.for_review())
    counter = Counter(args, "dry run" if args.dry_run else "applying")
    checking = Counter(args, "checking")  # the safety valve reads every merge's students first
    with (
        storage_at(args.db) as storage,
        checking,
        counter,
        OutcomeSpool.when(args.json) as spool,
    ):
        report = apply_plan(
            plan,
            storage,
            approved=approved,
            dry_run=args.dry_run,
            force=args.force,
            accounts=not args.students_only,
            progress=counter,
            batch_size=args.batch_size,
            on_outcome=spool.add if spool else None,
            keep_outcomes=False,
            check_progress=checking,
        )
        code = _finish(report, args, spool)
    if args.dry_run and not args.force and report.warnings:
        # An apply report's warnings are the safety valve's trips: the dry run went on to
        # show what would change, but the real apply would be refused, so exit as it would.
        print(
            f"error: the safety valve would refuse this apply ({'; '.join(report.warnings)}); "
            "if this is expected, pass --force",
            file=sys.stderr,
        )
        code = EXIT_INPUT
    if not args.json and report.counts.get("skipped_review"):
        print(
            f"{report.counts['skipped_review']} review merges were not approved; see "
            f"merge-engine show {args.plan} --review"
        )
    return code


def cmd_undo(args: argparse.Namespace) -> int:
    if (args.plan is None) == (args.plan_id is None):
        raise PlanError(
            "give the plan file or --plan-id ID (`merge-engine history --db URL --plans` "
            "lists the plans applied), not both"
        )
    counter = Counter(args, "undoing")
    with storage_at(args.db) as storage, counter, OutcomeSpool.when(args.json) as spool:
        on_outcome = spool.add if spool else None
        if args.plan_id is not None:
            report = undo_plan_id(
                args.plan_id,
                storage,
                archived_ids=args.only,
                dry_run=args.dry_run,
                progress=counter,
                batch_size=args.batch_size,
                on_outcome=on_outcome,
                keep_outcomes=False,
            )
        else:
            report = undo_plan(
                PlanFile.open(args.plan),
                storage,
                archived_ids=args.only,
                dry_run=args.dry_run,
                progress=counter,
                batch_size=args.batch_size,
                on_outcome=on_outcome,
                keep_outcomes=False,
            )
        return _finish(report, args, spool)


def cmd_history(args: argparse.Namespace) -> int:
    with storage_at(args.db) as storage:
        records = audit_history(storage)
    plans = plan_summaries(records)
    if args.plan:
        records = [r for r in records if r.plan_fingerprint == args.plan]
        plans = [p for p in plans if p.plan_id == args.plan]
    if args.plans:
        return _print_plans(plans, as_json=args.json)
    if args.id:
        records = [r for r in records if args.id in (r.archived_id, r.synced_id)]
    records = records[-args.limit :] if args.limit else records
    if args.json:
        print(json.dumps([attrs.asdict(r) for r in records], indent=1, sort_keys=True))
        return 0
    if not records:
        print("no merges applied or undone yet")
        return 0
    if not args.id:
        _print_plans(plans, as_json=False)
        print()
    print(f"{'at':<29} {'action':<6} {'plan':<16} {'archived':<12} {'synced':<12} rows")
    for r in records:
        rows = ", ".join(f"{t} {n}" for t, n in sorted(r.rows.items())) or "-"
        note = f"  [{r.note}]" if args.notes and r.note else ""
        print(
            f"{r.at:<29} {r.action:<6} {r.plan_fingerprint:<16} {r.archived_id:<12} "
            f"{r.synced_id:<12} {rows}{note}"
        )
    return 0


def _print_plans(plans: list[PlanSummary], *, as_json: bool) -> int:
    """The plans applied to the database; a plan id is what `undo --plan-id` takes."""
    if as_json:
        print(json.dumps([p.to_dict() for p in plans], indent=1, sort_keys=True))
        return 0
    if not plans:
        print("no plans applied yet")
        return 0
    print(
        f"{'plan id':<16} {'applied':>8} {'undone':>7} {'applied now':>12} "
        f"{'account steps now':>18} {'first':<29} last"
    )
    for p in plans:
        print(
            f"{p.plan_id:<16} {p.applied:>8} {p.undone:>7} {p.still_applied:>12} "
            f"{p.steps_still_applied:>18} {p.first_at:<29} {p.last_at}"
        )
    print("undo a plan without its file: merge-engine undo --plan-id ID --db URL")
    return 0


EXIT_CODES = """exit codes (also with --dry-run):
  0  done: every merge and account step applied (or undone), skipped or already done
  1  done, but some were refused: stale (changed since planning), conflict or failed;
     the summary lists them (a rerun skips what is done)
  2  stopped with an error: bad input, the safety valve tripped (see --force), or
     another apply or undo of the same plan is running (in these cases nothing was
     written), or the database failed"""


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=_positive, default=500, help="merges per transaction")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the full report as JSON on stdout instead of text (keys: docs/cli.md)",
    )
    parser.add_argument(
        "--limit", type=int, default=10, help="refused or failed merges listed in the summary"
    )


def register(sub: Any) -> None:
    apply = sub.add_parser(
        "apply",
        help="apply a plan's auto merges (and approved review merges) to a database",
        description="Apply a plan: each merge all-or-nothing, journaled and audited. Merges whose "
        "students changed since planning are refused; re-running skips merges already applied.",
        epilog="Example: merge-engine apply plan.json --db district.db --approve approved.csv\n\n"
        + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    apply.add_argument("plan", help="the plan JSON written by `merge-engine plan`")
    apply.add_argument("--db", metavar="URL", required=True, help=DB_HELP)
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
        "         merge-engine undo --plan-id 889112f7d4073cd3 --db district.db\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    undo.add_argument("plan", nargs="?", help="the plan JSON that was applied")
    undo.add_argument(
        "--plan-id",
        metavar="ID",
        help="undo the plan with this id (see `history --plans`) from the database's journal, "
        "without the plan file",
    )
    undo.add_argument("--db", metavar="URL", required=True, help=DB_HELP)
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
    history.add_argument("--db", metavar="URL", required=True, help=DB_HELP)
    history.add_argument("--plan", metavar="ID", help="only this plan's records")
    history.add_argument(
        "--plans", action="store_true", help="only the applied plans (a JSON list with --json)"
    )
    history.add_argument("--id", help="only records of this archived or synced id")
    history.add_argument("--limit", type=int, default=0, help="only the newest N records")
    history.add_argument("--notes", action="store_true", help="show each record's note")
    history.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list instead of a table (keys: docs/cli.md)",
    )
    history.set_defaults(func=cmd_history)
