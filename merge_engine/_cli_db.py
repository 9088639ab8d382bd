"""The commands that change or read a database: apply, undo, history, sample, demo."""

from __future__ import annotations

import argparse
import importlib
import json
import random
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from ._cli_common import print_summary, storage_at
from ._cli_review import read_decision_files
from .applying.account_steps import approval_ids
from .applying.apply import ApplyReport, apply_plan, audit_history
from .applying.approvals import read_approvals
from .applying.journal import PlanSummary, plan_summaries
from .applying.undo import undo_plan, undo_plan_id
from .exceptions import OutputExistsError, PlanError
from .model import Roster
from .plan import MergePlan
from .planning.planner import build_plan
from .review.decisions import approvals_for, check_one_child_per_record
from .settings import Settings

__all__ = ["cmd_apply", "cmd_demo", "cmd_history", "cmd_sample", "cmd_undo"]


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
#: valve, or the plan locked by another apply or undo (cli.EXIT_INPUT, nothing written).
EXIT_DONE, EXIT_REFUSED = 0, 1


def _finish(report: ApplyReport, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(report.to_dict(), indent=1, sort_keys=True))
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
    plan = MergePlan.read(args.plan)
    approved = _approved(args, plan)
    with storage_at(args.db) as storage:
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


def cmd_undo(args: argparse.Namespace) -> int:
    if (args.plan is None) == (args.plan_id is None):
        raise PlanError(
            "give the plan file or --plan-id ID (`merge-engine history --db URL --plans` "
            "lists the plans applied), not both"
        )
    with storage_at(args.db) as storage:
        if args.plan_id is not None:
            report = undo_plan_id(
                args.plan_id,
                storage,
                archived_ids=args.only,
                dry_run=args.dry_run,
                progress=_Progress("undoing"),
                batch_size=args.batch_size,
            )
        else:
            report = undo_plan(
                MergePlan.read(args.plan),
                storage,
                archived_ids=args.only,
                dry_run=args.dry_run,
                progress=_Progress("undoing"),
                batch_size=args.batch_size,
            )
    return _finish(report, args)


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


def cmd_sample(args: argparse.Namespace) -> int:
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


def cmd_demo(args: argparse.Namespace) -> int:
    from .storage import load_history, load_rosters  # noqa: PLC0415
    from .testing.synthetic import generate_district  # noqa: PLC0415

    work = Path(args.dir or tempfile.mkdtemp(prefix="merge-engine-demo-"))
    db = work / "district.db"
    out = work / "plan.json"
    leftovers = (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
    existing = [p for p in (*leftovers, out) if p.exists()]
    if existing and not args.overwrite:
        raise OutputExistsError(
            f"{existing[0]} already exists and the demo would replace it (and the undo it "
            f"holds); choose an empty folder with --dir, or pass --overwrite to replace "
            f"the demo files in {work}"
        )
    work.mkdir(parents=True, exist_ok=True)
    for stale in leftovers:
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    district = generate_district(args.students, seed=args.seed)
    load_rosters(url, district.archived, district.synced)
    with storage_at(url) as storage:
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
        plan.write(out)
        print_summary(plan, out)
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
