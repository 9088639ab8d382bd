"""The commands that show the tool working: sample and demo."""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from ..applying._apply import apply_plan
from ..exceptions import OutputExistsError
from ..model import Roster
from ..settings import Settings
from ._common import emit_json, json_arg, plan_counts, print_summary, storage_at
from ._progress import PLAN_STAGES, steps

__all__ = ["register"]


def cmd_sample(args: argparse.Namespace) -> int:
    source = resources.files("merge_engine") / "data" / "sample"
    target = Path(args.out)
    for side in ("archived", "synced"):
        with resources.as_file(source / side) as folder:
            shutil.copytree(folder, target / side, dirs_exist_ok=True)
    if args.json:
        emit_json({"archived": str(target / "archived"), "synced": str(target / "synced")})
        return 0
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
    from ..storage import load_history, load_rosters  # noqa: PLC0415
    from ..testing.synthetic import generate_district  # noqa: PLC0415

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
    with steps(args, "demo", ["load", "history", *PLAN_STAGES, "apply"]) as bar:
        bar.start("loading the sample district")
        load_rosters(url, district.archived, district.synced)
        bar.done()
        with storage_at(url) as storage:
            bar.start("adding history rows")
            rows = load_history(
                storage, _demo_history(district.archived, district.synced, args.seed)
            )
            bar.done()
            from ..planning._planner import build_plan  # noqa: PLC0415 (a light start-up)

            plan = build_plan(
                storage.read_roster("archived"),
                storage.read_roster("synced"),
                Settings(random_pairs=50_000),
                progress=bar.stage,
            )
            plan.write(out)
            bar.start("applying")
            report = apply_plan(plan, storage)
            bar.done()
    if args.json:
        emit_json(
            {
                "dir": str(work),
                "db": url,
                "history_rows": rows,
                "plan": plan_counts(plan, out),
                "apply": {"plan_id": report.plan_fingerprint, "counts": report.counts},
            }
        )
        return 0
    print(
        f"sample district in {db}: {len(district.archived)} archived and "
        f"{len(district.synced)} synced students, {rows} history rows"
    )
    print_summary(plan, out)
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
    print(f"  merge-engine show {out} --review --db {url}")
    print(f"  merge-engine report {out} --db {url} --out report.html  (open in a browser)")
    print(f"  merge-engine review export {out} --db {url} --out review.csv  (decide, then import)")
    print(f"  merge-engine history --db {url}")
    print(
        f"  merge-engine undo {out} --db {url} --only {plan.auto[0].archived_id}"
        if plan.auto
        else f"  merge-engine undo {out} --db {url}"
    )
    print(f"  merge-engine apply {out} --db {url} --approve-all-review --dry-run")
    return 0


def register(sub: Any) -> None:
    sample = sub.add_parser(
        "sample",
        help="write the bundled sample district (archived and synced folders)",
        epilog="Example: merge-engine sample --out sample/",
    )
    sample.add_argument(
        "--out", required=True, help="folder to write archived/ and synced/ into (created)"
    )
    json_arg(sample, "the two folders written")
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
    json_arg(demo, "where the files went and the plan's and the apply's counts")
    demo.set_defaults(func=cmd_demo)
