"""``merge-engine show``: a plan's merges with names, what differs and the competitor named."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from itertools import chain, islice
from typing import Any

from ..applying._account_steps import account_step_lines
from ..applying._applying import plan_fingerprint
from ..plan import Merge
from ..plan_file import PlanFile
from ..review._export import EMPTY, Directory, competitor_text, differs, grade_name
from ..review._items import ReviewItem, student_item
from ._common import emit_json, json_arg
from ._people import people as _people
from ._people import people_args as _people_args

__all__ = ["level_label", "register"]


def _cmd_show(args: argparse.Namespace) -> int:
    plan = PlanFile.open(args.plan)  # streamed: the first merges print at once
    limit = args.limit or None
    if args.warnings:
        return _show_warnings(args, plan, limit)
    if args.accounts:
        return _show_accounts(args, plan, limit)
    progression = int(plan.settings.get("grade_progression", 1))
    merges = _selected(args, plan)
    if limit is None:
        people = _people(args, required=False, plan=plan)
    else:
        # The merges shown are read first, so only their people are kept from the rosters.
        first = list(islice(merges, limit))
        people = _people(args, required=False, plan=plan, only=_ids_of(first))
        merges = chain(first, merges)
    counts = plan.summary()
    total = None if args.id else counts["review" if args.review else "merges"]
    if args.json:
        shown = [_merge_json(m, _item(m), people, progression) for m in islice(merges, limit)]
        total = len(shown) + sum(1 for _ in merges) if total is None else total
        return _emit(plan, "review" if args.review else "merges", total, shown)
    print(repr(plan))
    if people is EMPTY:
        print("(ids only: add --archived DIR --synced DIR, or --db URL, to see names)")
    printed = 0
    for merge in islice(merges, limit):
        print(_explain(merge, _item(merge), people, progression), flush=printed == 0)
        printed += 1
    _more(printed + sum(1 for _ in merges) if total is None else total, limit)
    return 0


def _selected(args: argparse.Namespace, plan: PlanFile) -> Iterator[Merge]:
    """The merges to show, one at a time: review ones with ``--review``, those of ``--id``."""
    for m in plan.iter_merges():
        if args.review and m.decision != "review":
            continue
        if args.id and args.id not in (m.archived_id, m.synced_id):
            continue
        yield m


def _ids_of(merges: list[Merge]) -> set[str]:
    """Every id the shown merges name: both sides, the competitors, the duplicates."""
    ids = {i for m in merges for i in (m.archived_id, m.synced_id, *m.duplicates)}
    ids.update(i for m in merges for c in m.competitors for i in (c.archived_id, c.synced_id))
    return ids


def _item(merge: Merge) -> ReviewItem | None:
    """The review item of a merge marked review (what differs, its competitors named)."""
    return student_item(merge) if merge.decision == "review" else None


def _emit(plan: PlanFile, view: str, total: int, items: list[dict[str, Any]]) -> int:
    """The one shape of ``show --json``: which view, how many in all, the items shown."""
    emit_json(
        {
            "plan_id": plan_fingerprint(plan),
            "view": view,
            "total": total,
            "shown": len(items),
            "items": items,
        }
    )
    return 0


def _more(total: int, limit: int | None) -> None:
    if limit is not None and total > limit:
        print(f"... {total - limit} more (use --limit, or --limit 0 for all)")


def _show_warnings(args: argparse.Namespace, plan: PlanFile, limit: int | None) -> int:
    every = plan.warnings()
    warnings = every[:limit]
    if args.json:
        return _emit(plan, "warnings", len(every), [dict(w) for w in warnings])
    print(repr(plan))
    if not every:
        print("no input warnings")
    for w in warnings:
        where = ":".join(str(x) for x in (w.get("path"), w.get("line")) if x is not None)
        column = f" column {w['column']!r}" if w.get("column") else ""
        print(f"{where or '(plan)'}{column}: {w.get('message', '')}")
    _more(len(every), limit)
    return 0


def _show_accounts(args: argparse.Namespace, plan: PlanFile, limit: int | None) -> int:
    """The account steps, read from the file one at a time (a district has as many guardian
    merges as students)."""
    review = args.review
    if args.json:
        steps: Iterator[dict[str, Any]] = chain(
            ({"step": "guardian_merge", **g.to_dict()} for g in plan.iter_guardian_merges()
             if not review or g.decision == "review"),
            ({"step": "guardian_fold", **f.to_dict()} for f in plan.iter_guardian_folds()
             if not review or f.decision == "review"),
            ({"step": "guardian_action", **a.to_dict()} for a in plan.iter_guardian_actions()
             if not review or a.action == "review"),
            ({"step": "multiple_role_user", **r.to_dict()} for r in plan.iter_role_links()
             if not review or r.action == "review"),
        )  # fmt: skip
        if args.id:
            steps = (s for s in steps if args.id in s.values())
        shown = list(islice(steps, limit))
        return _emit(plan, "accounts", len(shown) + sum(1 for _ in steps), shown)
    print(repr(plan))
    each = account_step_lines(
        plan.iter_guardian_merges(),
        plan.iter_guardian_actions(),
        plan.iter_role_links(),
        guardian_folds=plan.iter_guardian_folds(),
        review_only=review,
    )
    lines = (line for step in each for line in step)
    if args.id:
        lines = (line for line in lines if args.id in line)
    heads = 0
    for line in lines:
        heads += not line.startswith("  ")
        if limit is None or heads <= limit:
            print(line)
    _more(heads, limit)
    return 0


def level_label(comparison: str, level: str, progression: int) -> str:
    """A field level as an admin reads it.

    With ``grade_progression = 0`` (archive and sync from the same school year)
    the expected grade is the same grade and "adjacent" is one grade apart, so
    they are printed as such; other levels keep their plan names.
    """
    if comparison == "grade" and progression == 0:
        return {"expected": "same grade", "adjacent": "one grade apart"}.get(level, level)
    return level


def _person(record_id: str, people: Directory) -> dict[str, Any]:
    s = people.students.get(record_id)
    return {
        "id": record_id,
        "name": people.name(record_id) or None,
        "dob": s.dob.isoformat() if s is not None and s.dob else None,
        "grade": s.grade if s is not None else None,
        "school_id": (s.school_id or None) if s is not None else None,
    }


def _merge_json(
    merge: Merge, item: ReviewItem | None, people: Directory, progression: int
) -> dict[str, Any]:
    out = merge.to_dict()
    for e in out["evidence"]:
        e["label"] = level_label(e["comparison"], e["level"], progression)
    who = item or _student_item(merge)
    out["archived"] = _person(merge.archived_id, people)
    out["synced"] = _person(merge.synced_id, people)
    out["differs"] = differs(item, people) if item is not None else None
    out["competitors_named"] = [competitor_text(who, c, people) for c in merge.competitors]
    return out


def _student_item(merge: Merge) -> ReviewItem:
    return ReviewItem(
        "student", merge.archived_id, merge.archived_id, merge.synced_id, None, (), ""
    )


def _explain(merge: Merge, item: ReviewItem | None, people: Directory, progression: int) -> str:
    """Decision, each field's contribution, both records by name, what differs and the
    competitor named (:meth:`Merge.explain` with readable grade levels and names)."""
    out = [
        f"{merge.archived_id} -> {merge.synced_id}: {merge.decision} "
        f"(confidence {merge.confidence:.4f}, {merge.match_weight:+.1f} bits)"
    ]
    out += [
        f"  {e.comparison:<12} {level_label(e.comparison, e.level, progression):<16} {e.bits:+6.2f}"
        for e in merge.evidence
    ]
    out += [f"  review: {r}" for r in merge.reasons]
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
    who = item or _student_item(merge)
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
    show.add_argument("plan", help="the plan JSON written by `merge-engine plan`")
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
    json_arg(show, "the entries shown")
    _people_args(show)
    show.set_defaults(func=_cmd_show)
