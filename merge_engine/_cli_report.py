"""``merge-engine report``: a plan as one self-contained HTML page."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._cli_common import storage_at
from .accounts.contact_audit import audit_contacts
from .exceptions import OutputExistsError, PlanError
from .model import Roster
from .plan import MergePlan
from .readers import read_roster
from .views.html_report import MARKER, ReportLimits, render_report, write_report

__all__ = ["add_report_parser"]


def add_report_parser(
    sub: Any, roster_args: Callable[..., None], db_help: str
) -> argparse.ArgumentParser:
    """Register the ``report`` sub-command (``roster_args`` adds --archived, --synced, ...)."""
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
    report.add_argument("--db", metavar="URL", help=db_help + " (instead of the folders)")
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
    report.set_defaults(func=cmd_report)
    return report


def cmd_report(args: argparse.Namespace) -> int:
    plan = MergePlan.read(args.plan)
    out = Path(args.out)
    if out.exists() and not _is_report(out):
        raise OutputExistsError(
            f"{out} exists and is not a merge-engine report; choose another --out "
            "(a report only replaces an earlier report)"
        )
    archived, synced = _rosters(args)
    audit = audit_contacts(synced, archived, plan) if synced is not None else None
    limits = ReportLimits(review=max(args.max_review, 0), rows=max(args.max_rows, 0))
    write_report(out, render_report(plan, archived, synced, audit=audit, limits=limits))
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
        from .planning.replan import rosters_for_planning  # noqa: PLC0415

        with storage_at(args.db) as storage:
            return rosters_for_planning(storage)
    archived = synced = None
    if args.archived:
        archived = read_roster(
            args.archived,
            format=args.archived_format,
            fallback_encoding=args.encoding_fallback,
            strict=args.strict,
        )
    if args.synced:
        synced = read_roster(
            args.synced,
            format=args.synced_format,
            fallback_encoding=args.encoding_fallback,
            strict=args.strict,
        )
    return archived, synced
