"""The review desk on the command line: ``review export|import|approve-rule`` and ``show``.

These views are for the admin, so they show names (from the rosters or the
database given with the plan); errors still name files, lines and ids only.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ._cli_common import storage_at
from .applying.account_steps import explain_account_steps
from .exceptions import OutputExistsError, PlanError
from .plan import Merge, MergePlan
from .readers import read_roster
from .review.decisions import Decisions
from .review.export import (
    EMPTY,
    Directory,
    competitor_text,
    differs,
    grade_name,
    review_rows,
    write_review_sheet,
)
from .review.importing import read_decisions
from .review.items import ReviewItem, review_items
from .review.rules import RULE_SAFE_REASONS, approve_by_rule
from .storage.base import GuardianContacts

__all__ = ["add_decisions_arg", "read_decision_files", "register_review", "register_show"]

_DB_HELP = "database: sqlite:///path.db, a bare path, or a SQLAlchemy URL"
_SAMPLE = 10


def _people_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "names", "where the names come from (the plan holds ids only): the folders or database "
        "the plan was made from"
    )  # fmt: skip
    group.add_argument("--archived", help="folder of the archived roster")
    group.add_argument("--synced", help="folder of the synced roster")
    group.add_argument("--db", metavar="URL", help=_DB_HELP + " (instead of the folders)")
    formats = ["auto", "native", "clever", "oneroster"]
    group.add_argument("--archived-format", choices=formats, default="auto")
    group.add_argument("--synced-format", choices=formats, default="auto")
    group.add_argument(
        "--encoding-fallback",
        metavar="ENCODING",
        help="decode roster files that are not valid UTF-8 with this encoding (e.g. cp1252)",
    )


def _people(
    args: argparse.Namespace, *, required: bool, plan: MergePlan | None = None
) -> Directory:
    if args.db:
        if args.archived or args.synced:
            raise PlanError("give either --db or --archived and --synced, not both")
        # As stored: synced students then also carry the old guardian accounts that
        # applied merges brought, so those accounts are named too.
        with storage_at(args.db) as storage:
            people = Directory.of(storage.read_roster("archived"), storage.read_roster("synced"))
            return _with_accounts(people, storage, plan)
    if bool(args.archived) != bool(args.synced):
        raise PlanError("give both --archived and --synced (or --db URL)")
    if not args.archived:
        if required:
            raise PlanError(
                "the plan holds ids only: give the rosters it was made from for the names "
                "(--archived DIR --synced DIR, or --db URL)"
            )
        return EMPTY
    rosters = [
        read_roster(folder, format=fmt, fallback_encoding=args.encoding_fallback)
        for folder, fmt in (
            (args.archived, args.archived_format),
            (args.synced, args.synced_format),
        )
    ]
    return Directory.of(*rosters)


def _with_accounts(people: Directory, storage: Any, plan: MergePlan | None) -> Directory:
    """``people`` with the plan's guardian accounts that no student links any more (a
    sync-created account merged away by an earlier apply), read by id."""
    if plan is None:
        return people
    ids = {i for item in review_items(plan) for i in (item.left_id, item.right_id)}
    missing = sorted(i for i in ids if not people.name(i))
    if not missing:
        return people
    with storage.transaction() as tx:
        if not isinstance(tx, GuardianContacts):
            return people
        found = tx.guardian_contacts(missing)
    return attrs.evolve(people, guardians={**people.guardians, **found})


def _fresh(path: str, overwrite: bool, what: str) -> None:
    if Path(path).exists() and not overwrite:
        raise OutputExistsError(
            f"{path} already exists and may hold {what}; write to another file, or pass --overwrite"
        )


def _cmd_export(args: argparse.Namespace) -> int:
    plan = MergePlan.read(args.plan)
    fmt = args.format or ("xlsx" if args.out.lower().endswith(".xlsx") else "csv")
    _fresh(args.out, args.overwrite, "a reviewer's decisions")
    rows = review_rows(plan, _people(args, required=True, plan=plan))
    write_review_sheet(rows, args.out, format=fmt)
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in kinds.items()) or "nothing"
    print(f"{len(rows)} decisions to make ({counts}) written to {args.out}")
    if rows:
        print(
            "write approve or reject in the 'decision' column (blank: decide later), then: "
            f"merge-engine review import {args.plan} {args.out} --out decisions.json"
        )
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    plan = MergePlan.read(args.plan)
    _fresh(args.out, args.overwrite, "earlier decisions")
    decisions = read_decisions(plan, args.sheet)
    decisions.write(args.out)
    undecided = len(review_items(plan)) - len(decisions.approved) - len(decisions.rejected)
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
    plan = MergePlan.read(args.plan)
    decisions = approve_by_rule(plan, args.reason, args.min_confidence, source="rule")
    people = _people(args, required=False, plan=plan)
    by_id = {i.approval_id: i for i in review_items(plan)}
    print(
        f"{len(decisions.approved)} items whose only reason is {args.reason!r} and whose "
        f"confidence is at least {args.min_confidence} would be approved"
    )
    for d in decisions.approved[:_SAMPLE]:
        item = by_id[d.approval_id]
        print(f"  {_pair(item, people)}, confidence {item.confidence:.4f}")
    if len(decisions.approved) > _SAMPLE:
        print(f"  ... {len(decisions.approved) - _SAMPLE} more")
    if args.dry_run or not decisions.approved:
        print("nothing written" + (" (--dry-run)" if args.dry_run else ""))
        return 0
    _fresh(args.out, args.overwrite, "earlier decisions")
    decisions.write(args.out)
    print(f"approvals written to {args.out}; next: merge-engine apply {args.plan} --db URL "
          f"--decisions {args.out} --dry-run")  # fmt: skip
    return 0


def _pair(item: ReviewItem, people: Directory) -> str:
    return f"{item.kind} {people.named(item.left_id)} -> {people.named(item.right_id)}"


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


def add_decisions_arg(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--decisions", metavar="FILE", action="append", help=help)


def read_decision_files(paths: Sequence[str] | None) -> list[Decisions]:
    return [Decisions.read(p) for p in paths or ()]


def register_show(sub: Any) -> None:
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


def register_review(sub: Any) -> None:
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
    steps = review.add_subparsers(dest="review_command", required=True)

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
    rule.set_defaults(func=_cmd_rule)
