"""The review desk on the command line: ``review export|import|approve-rule``.

These views are for the admin, so they show names (from the rosters or the
database given with the plan); errors still name files, lines and ids only.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..exceptions import OutputExistsError
from ..plan import MergePlan
from ..plan_file import PlanFile
from ..review._decisions import Decisions
from ..review._export import Directory, named_ids, review_rows, write_review_sheet
from ..review._importing import read_decisions
from ..review._items import ReviewItem, review_items
from ..review._rules import RULE_SAFE_REASONS, approve_by_rule
from ._common import emit_json, json_arg
from ._people import people as _people
from ._people import people_args as _people_args

__all__ = ["add_decisions_arg", "read_decision_files", "register"]

_SAMPLE = 10


def _fresh(path: str, overwrite: bool, what: str) -> None:
    if Path(path).exists() and not overwrite:
        raise OutputExistsError(
            f"{path} already exists and may hold {what}; write to another file, or pass --overwrite"
        )


def _for_review(path: str) -> MergePlan:
    """The plan's review items and what they rest on, streamed from the file (a plan of
    a million merges holds a few thousand of those)."""
    return PlanFile.open(path).for_review()


def _cmd_export(args: argparse.Namespace) -> int:
    plan = _for_review(args.plan)
    fmt = args.format or ("xlsx" if args.out.lower().endswith(".xlsx") else "csv")
    _fresh(args.out, args.overwrite, "a reviewer's decisions")
    rows = review_rows(plan, _people(args, required=True, plan=plan, only=named_ids(plan)))
    write_review_sheet(rows, args.out, format=fmt)
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    if args.json:
        emit_json({"out": args.out, "format": fmt, "decisions": len(rows), "kinds": kinds})
        return 0
    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in kinds.items()) or "nothing"
    print(f"{len(rows)} decisions to make ({counts}) written to {args.out}")
    if rows:
        print(
            "write approve or reject in the 'decision' column (blank: decide later), then: "
            f"merge-engine review import {args.plan} {args.out} --out decisions.json"
        )
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    plan = _for_review(args.plan)
    _fresh(args.out, args.overwrite, "earlier decisions")
    decisions = read_decisions(plan, args.sheet)
    decisions.write(args.out)
    undecided = len(review_items(plan)) - len(decisions.approved) - len(decisions.rejected)
    if args.json:
        emit_json(
            {
                "out": args.out,
                "approved": len(decisions.approved),
                "rejected": len(decisions.rejected),
                "undecided": undecided,
            }
        )
        return 0
    print(
        f"{len(decisions.approved)} approved, {len(decisions.rejected)} rejected, "
        f"{undecided} left undecided; decisions written to {args.out}"
    )
    print(f"next: merge-engine apply {args.plan} --db URL --decisions {args.out} --dry-run")
    if decisions.rejected:
        print(
            "the next plan leaves the rejected pairs out with: merge-engine plan ... "
            f"--decisions {args.out}"
        )
    return 0


def _cmd_rule(args: argparse.Namespace) -> int:
    plan = _for_review(args.plan)
    decisions = approve_by_rule(plan, args.reason, args.min_confidence, source="rule")
    people = _people(args, required=False, plan=plan)
    by_id = {i.approval_id: i for i in review_items(plan)}
    written = not args.dry_run and bool(decisions.approved)
    if written:
        _fresh(args.out, args.overwrite, "earlier decisions")
        decisions.write(args.out)
    if args.json:
        emit_json(
            {
                "approved": len(decisions.approved),
                "approval_ids": [d.approval_id for d in decisions.approved],
                "out": args.out if written else None,
            }
        )
        return 0
    print(
        f"{len(decisions.approved)} items whose only reason is {args.reason!r} and whose "
        f"confidence is at least {args.min_confidence} would be approved"
    )
    for d in decisions.approved[:_SAMPLE]:
        item = by_id[d.approval_id]
        print(f"  {_pair(item, people)}, confidence {item.confidence:.4f}")
    if len(decisions.approved) > _SAMPLE:
        print(f"  ... {len(decisions.approved) - _SAMPLE} more")
    if not written:
        print("nothing written" + (" (--dry-run)" if args.dry_run else ""))
        return 0
    print(f"approvals written to {args.out}; next: merge-engine apply {args.plan} --db URL "
          f"--decisions {args.out} --dry-run")  # fmt: skip
    return 0


def _pair(item: ReviewItem, people: Directory) -> str:
    return f"{item.kind} {people.named(item.left_id)} -> {people.named(item.right_id)}"


def add_decisions_arg(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--decisions", metavar="FILE", action="append", help=help)


def read_decision_files(paths: Sequence[str] | None) -> list[Decisions]:
    return [Decisions.read(p) for p in paths or ()]


def register(sub: Any) -> None:
    review = sub.add_parser(
        "review",
        help="export the review queue to a spreadsheet, import the decisions, approve by rule",
        description="The review desk: export one row per decision (two records side by side), "
        "decide in a spreadsheet, import the decisions, then apply --decisions.",
        epilog="Example: merge-engine review export plan.json --archived old/ --synced clever/ "
        "--out review.csv\n"
        "         merge-engine review import plan.json review.csv --out decisions.json\n"
        "         merge-engine apply plan.json --db district.db --decisions decisions.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steps = review.add_subparsers(
        dest="review_command", required=True, metavar="STEP", help="the review step to run"
    )

    export = steps.add_parser(
        "export",
        help="write the review queue as a CSV or xlsx sheet, names included",
        epilog="Example: merge-engine review export plan.json --db district.db --out review.csv",
    )
    export.add_argument("plan", help="the plan JSON written by `merge-engine plan`")
    export.add_argument("--out", required=True, help="the sheet to write (.csv or .xlsx)")
    export.add_argument(
        "--format", choices=["csv", "xlsx"], help="default: from --out (xlsx needs openpyxl)"
    )
    export.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    _people_args(export)
    json_arg(export, "the counts written")
    export.set_defaults(func=_cmd_export)

    imp = steps.add_parser(
        "import",
        help="check a decided review sheet against the plan and write decisions.json",
        epilog="Example: merge-engine review import plan.json review.csv --out decisions.json",
    )
    imp.add_argument("plan", help="the plan the sheet was exported from")
    imp.add_argument("sheet", help="the decided sheet (.csv or .xlsx)")
    imp.add_argument("--out", required=True, help="where to write the decisions (JSON)")
    imp.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    json_arg(imp, "the counts decided")
    imp.set_defaults(func=_cmd_import)

    rule = steps.add_parser(
        "approve-rule",
        help="approve every item whose only reason is a safe one, above a confidence",
        description="Approve by rule the review items whose only reason is REASON and whose "
        "confidence is at least --min-confidence; prints the count and a sample first. Only "
        "reasons that cannot hide a twin, sibling, namesake or competitor are accepted: "
        + ", ".join(repr(r) for r in sorted(RULE_SAFE_REASONS))
        + ".",
        epilog="Example: merge-engine review approve-rule plan.json --reason "
        '"confidence below the auto-merge threshold" --min-confidence 0.95 --out rule.json',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rule.add_argument("plan", help="the plan JSON written by `merge-engine plan`")
    rule.add_argument("--reason", required=True, help="the only reason an item may have")
    rule.add_argument(
        "--min-confidence", type=float, required=True, help="the lowest confidence approved"
    )
    rule.add_argument("--out", required=True, help="where to write the decisions (JSON)")
    rule.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    rule.add_argument("--dry-run", action="store_true", help="show the count, write nothing")
    _people_args(rule)
    json_arg(rule, "the count and the approval ids")
    rule.set_defaults(func=_cmd_rule)
