"""``merge-engine report``: a plan as one self-contained HTML page."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..accounts._contact_audit import audit_contacts
from ..applying._applying import plan_fingerprint
from ..exceptions import OutputExistsError, PlanError
from ..model import Roster
from ..plan import MergePlan
from ..views._html_report import MARKER, ReportLimits, render_report, write_report
from ._common import DB_HELP, emit_json, json_arg, read_side, roster_args, storage_at
from ._progress import steps

__all__ = ["register"]


def register(sub: Any) -> None:
    report: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="write a plan as one HTML page: review queue side by side, charts, filters",
        description="Write one self-contained HTML file (no server, no network) for reviewing a "
        "plan: summary numbers, the review queue with both records side by side and each "
        "field's contribution, a histogram of match weights, unmatched records, archived "
        "duplicates, guardian actions, multiple-role users and contact data quality. "
        "The page shows names and contact details: share it only with reviewers.",
        epilog="Example: merge-engine report plan.json --archived old/ --synced clever/ "
        "--out report.html\n"
        "         merge-engine report plan.json --db district.db --out report.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("plan", help="the plan JSON written by `merge-engine plan`")
    report.add_argument("--db", metavar="URL", help=DB_HELP + " (instead of the folders)")
    roster_args(report, required=False)
    report.add_argument("--out", required=True, help="where to write the HTML file")
    report.add_argument(
        "--max-rows",
        type=int,
        default=ReportLimits().rows,
        help="entries shown per list other than the review queue (default %(default)s); "
        "the rest are counted",
    )
    report.add_argument(
        "--max-review",
        type=int,
        default=ReportLimits().review,
        help="review pairs shown (default %(default)s)",
    )
    json_arg(report, "where the page went and its counts")
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:

    plan = MergePlan.read(args.plan)
    out = Path(args.out)
    if out.exists() and not _is_report(out):
        raise OutputExistsError(
            f"{out} exists and is not a merge-engine report; choose another --out "
            "(a report only replaces an earlier report)"
        )
    with steps(args, "report", ["rosters", "audit", "page"]) as bar:
        bar.start("reading rosters")
        archived, synced = _rosters(args)
        bar.done()
        bar.start("contact audit")
        audit = audit_contacts(synced, archived, plan) if synced is not None else None
        bar.done()
        bar.start("writing the page")
        limits = ReportLimits(review=max(args.max_review, 0), rows=max(args.max_rows, 0))
        write_report(out, render_report(plan, archived, synced, audit=audit, limits=limits))
        bar.done()
    if args.json:
        emit_json(
            {
                "out": str(out),
                "plan_id": plan_fingerprint(plan),
                "merges": len(plan.merges),
                "review": len(plan.review),
                "names": archived is not None or synced is not None,
            }
        )
        return 0
    print(f"report written to {out} ({len(plan.review):,} review merges); open it in a browser")
    return 0


def _is_report(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as f:
            return f.read(len(MARKER)) == MARKER
    except (OSError, UnicodeDecodeError):
        return False


def _rosters(args: argparse.Namespace) -> tuple[Roster | None, Roster | None]:
    if args.db:
        if args.archived or args.synced:
            raise PlanError("give either --db or --archived and --synced, not both")
        from ..planning._replan import rosters_for_planning  # noqa: PLC0415

        with storage_at(args.db) as storage:
            return rosters_for_planning(storage)
    archived = synced = None
    if args.archived:
        archived = read_side(args, "archived")
    if args.synced:
        synced = read_side(args, "synced")
    return archived, synced
