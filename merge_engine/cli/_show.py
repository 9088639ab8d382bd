"""``merge-engine show``: a plan's merges with names, what differs and the competitor named."""

from __future__ import annotations

import argparse
from typing import Any

from ..accounts import explain_account_steps
from ..plan import Merge, MergePlan
from ..review_export import EMPTY, Directory, competitor_text, differs, grade_name
from ..review_items import ReviewItem, review_items
from ._people import people as _people
from ._people import people_args as _people_args

__all__ = ["register"]


def _cmd_show(args: argparse.Namespace) -> int:
    plan = MergePlan.read(args.plan)
    limit = args.limit or None
    print(repr(plan))
    if args.warnings:
        return _show_warnings(plan, limit)
    people = _people(args, required=False, plan=plan)
    if args.accounts:
        lines = explain_account_steps(plan, review_only=args.review)
        if args.id:
            lines = [line for line in lines if args.id in line]
        heads = [i for i, line in enumerate(lines) if not line.startswith("  ")]
        cut = heads[limit] if limit is not None and len(heads) > limit else len(lines)
        for line in lines[:cut]:
            print(line)
        _more(len(heads), limit)
        return 0
    if people is EMPTY:
        print("(ids only: add --archived DIR --synced DIR, or --db URL, to see names)")
    merges = plan.review if args.review else plan.merges
    if args.id:
        merges = tuple(m for m in merges if args.id in (m.archived_id, m.synced_id))
    items = {i.approval_id: i for i in review_items(plan)}
    for merge in merges[:limit]:
        print(_explain(merge, items.get(merge.archived_id), people))
    _more(len(merges), limit)
    return 0


def _more(total: int, limit: int | None) -> None:
    if limit is not None and total > limit:
        print(f"... {total - limit} more (use --limit, or --limit 0 for all)")


def _show_warnings(plan: MergePlan, limit: int | None) -> int:
    warnings = plan.warnings[:limit]
    if not plan.warnings:
        print("no input warnings")
    for w in warnings:
        where = ":".join(str(x) for x in (w.get("path"), w.get("line")) if x is not None)
        column = f" column {w['column']!r}" if w.get("column") else ""
        print(f"{where or '(plan)'}{column}: {w.get('message', '')}")
    _more(len(plan.warnings), limit)
    return 0


def _explain(merge: Merge, item: ReviewItem | None, people: Directory) -> str:
    """``merge.explain()``, then both records by name, what differs and the competitor named."""
    out = [merge.explain()]
    for label, record_id in (("archived", merge.archived_id), ("synced", merge.synced_id)):
        s = people.students.get(record_id)
        if s is not None:
            facts = ", ".join(
                x for x in (
                    f"born {s.dob.isoformat()}" if s.dob else "",
                    f"grade {grade_name(s.grade)}" if s.grade is not None else "",
                    f"school {s.school_id}" if s.school_id else "",
                ) if x
            )  # fmt: skip
            out.append(f"  {label:<8} {record_id}: {people.name(record_id)}; {facts}")
    if item is not None:
        out.append(f"  differs: {differs(item, people)}")
    who = item or ReviewItem(
        "student", merge.archived_id, merge.archived_id, merge.synced_id, None, (), ""
    )
    out += [f"  competitor: {competitor_text(who, c, people)}" for c in merge.competitors]
    if merge.duplicates:
        out.append("  archived duplicates: " + ", ".join(map(people.named, merge.duplicates)))
    return "\n".join(out)


def register(sub: Any) -> None:
    show = sub.add_parser(
        "show",
        help="print a plan's merges with their evidence (names with the rosters or --db)",
        description="Print a plan's merges: both records by name (with --archived/--synced or "
        "--db), what differs, each field's contribution, the reasons and the competitor named.",
        epilog="Example: merge-engine show plan.json --review --archived old/ --synced clever/\n"
        "         merge-engine show plan.json --warnings --limit 0",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("plan")
    show.add_argument("--review", action="store_true", help="only merges that need review")
    show.add_argument(
        "--accounts",
        action="store_true",
        help="the account steps instead: guardian merges, old-guardian actions and "
        "multiple-role users, with the approval id of each review step",
    )
    show.add_argument("--warnings", action="store_true", help="the plan's input warnings instead")
    show.add_argument("--id", help="only merges involving this archived or synced id")
    show.add_argument("--limit", type=int, default=50, help="entries shown (0: all)")
    _people_args(show)
    show.set_defaults(func=_cmd_show)
