"""Applying and undoing a large plan: seconds on SQLite (and PostgreSQL when reachable).

Usage: python benchmarks/apply_speed.py [--merges 100000] [--rows 20] [--no-postgres]
       [--guardians]

Builds N archived and N synced students (one guardian link each), about
``--rows`` history rows per archived student (messages, notes, attendance;
one archived student in ten shares a school day with its twin, so merges
meet collisions), a plan merging each archived student into its twin, then
times ``apply_plan`` and ``undo_plan``. Loading is timed separately and is
not part of the target (< 2 minutes each for apply and undo at 100,000).
With ``--guardians`` the plan also merges each sync-created guardian
account into the old one (one account step per merge, one guardian message
per new account to move); the account steps are timed on their own.

PostgreSQL runs in a scratch database created next to ``MERGE_ENGINE_PG_URL``'s
and dropped afterwards, so the shared database (which tests use) is never touched.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog

from merge_engine.accounts._guardians import GuardianMerge
from merge_engine.applying._apply import apply_plan
from merge_engine.applying._undo import undo_plan
from merge_engine.model import Contact, Roster, Student
from merge_engine.plan import Merge, MergePlan
from merge_engine.planning._planner import record_hashes
from merge_engine.storage import load_history, load_rosters, open_storage
from merge_engine.storage._base import StorageAdapter

PG_URL = os.environ.get("MERGE_ENGINE_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DAYS = [f"2024-{m:02d}-{d:02d}" for m in (9, 10, 11) for d in range(1, 29)]


def rosters(n: int) -> tuple[Roster, Roster]:
    def student(sid: str, i: int, guardian: str) -> Student:
        return Student(
            id=sid, first_name=f"F{i}", last_name=f"L{i % 997}", grade=i % 13, school_id="sch",
            contacts=[Contact(guardian, relationship="Parent")],
        )  # fmt: skip

    archived = [student(f"a{i:07d}", i, f"ga{i:07d}") for i in range(n)]
    # a sync also brings new students (kindergarten, movers in): 10% more, unmatched
    synced = [student(f"s{i:07d}", i, f"gs{i:07d}") for i in range(n + n // 10)]
    return Roster(archived), Roster(synced)


def history(n: int, per_student: int, chunk: int = 20_000) -> Iterator[dict[str, list[Any]]]:
    """History rows in chunks of ``chunk`` students (keeps memory flat)."""
    days = max(1, per_student * 2 // 5)
    notes = max(1, per_student // 5)
    messages = max(0, per_student - days - notes)
    next_id = 1
    for start in range(0, n, chunk):
        rows: dict[str, list[Any]] = {"messages": [], "notes": [], "attendance": []}
        for i in range(start, min(n, start + chunk)):
            a = f"a{i:07d}"
            for k in range(messages):
                rows["messages"].append({"id": next_id, "student_id": a,
                                         "sent_at": f"2024-01-{k % 28 + 1:02d}T08:00:00",
                                         "body": "message"})  # fmt: skip
                next_id += 1
            for _ in range(notes):
                rows["notes"].append({"id": next_id, "student_id": a,
                                      "created_at": "2024-02-01", "body": "note"})  # fmt: skip
                next_id += 1
            for d in range(days):
                day = DAYS[d % len(DAYS)]
                rows["attendance"].append({"id": next_id, "student_id": a, "day": day,
                                           "status": "present"})  # fmt: skip
                next_id += 1
            if i % 10 == 0:  # the synced twin was in school on the archived student's first day
                rows["attendance"].append({"id": next_id, "student_id": f"s{i:07d}",
                                           "day": DAYS[0], "status": "absent"})  # fmt: skip
                next_id += 1
        yield rows


def plan_for(storage: StorageAdapter, guardians: bool = False) -> MergePlan:
    archived = storage.read_roster("archived")
    synced = {s.id: s for s in storage.read_roster("synced").students}
    merges = [
        Merge(a.id, "s" + a.id[1:], 0.99, "auto", 20.0, None, (),
              **record_hashes(a, synced["s" + a.id[1:]]))
        for a in archived.students
    ]  # fmt: skip
    guardian_merges = [
        GuardianMerge("g" + m.archived_id, "gs" + m.synced_id[1:], 0.999, "auto", (),
                      students=[(m.archived_id, m.synced_id)])
        for m in merges
    ] if guardians else []  # fmt: skip
    return MergePlan(
        merges, (), (), (), {}, {},
        {"archived_students": len(archived), "synced_students": len(synced)},
        {"archived": f"bench-{len(merges)}", "synced": f"bench-{len(synced)}"},
        guardian_merges=guardian_merges,
    )  # fmt: skip


def run(name: str, url: str, n: int, per_student: int, batch_size: int, guardians: bool) -> None:
    archived, synced = rosters(n)
    started = time.perf_counter()
    load_rosters(url, archived, synced, replace=name == "postgres")
    storage = open_storage(url)
    rows = sum(load_history(storage, chunk) for chunk in history(n, per_student))
    if guardians:
        messages = [
            {"id": i + 1, "guardian_id": f"gs{i:07d}", "sent_at": "2024-09-01T08:00:00",
             "body": "welcome"}
            for i in range(n)
        ]  # fmt: skip
        rows += load_history(storage, {"guardian_messages": messages})
    plan = plan_for(storage, guardians)
    loaded = time.perf_counter() - started
    print(f"{name}: loaded {n:,} + {n:,} students and {rows:,} history rows in {loaded:.1f}s")

    started = time.perf_counter()
    applied = apply_plan(plan, storage, batch_size=batch_size, accounts=False)
    apply_s = time.perf_counter() - started
    assert applied.counts == {"applied": n}, applied.counts
    print(f"{name}: apply {n:,} merges: {apply_s:.1f}s ({n / apply_s:,.0f} merges/s); "
          f"rows moved {sum(applied.rows.values()):,}, set aside "
          f"{sum(applied.set_aside.values()):,}, links added {applied.links:,}")  # fmt: skip
    if guardians:
        started = time.perf_counter()
        steps = apply_plan(plan, storage, batch_size=batch_size)
        steps_s = time.perf_counter() - started
        assert steps.account_counts == {"guardian_merge": {"applied": n}}, steps.account_counts
        print(f"{name}: apply {n:,} guardian merges (and recognise the applied student merges): "
              f"{steps_s:.1f}s ({n / steps_s:,.0f} steps/s)")  # fmt: skip

    started = time.perf_counter()
    undone = undo_plan(plan, storage, batch_size=batch_size)
    undo_s = time.perf_counter() - started
    assert undone.counts == {"undone": n}, undone.counts
    what = "merges and guardian merges" if guardians else "merges"
    print(f"{name}: undo  {n:,} {what}: {undo_s:.1f}s ({n / undo_s:,.0f} merges/s)")
    storage.close()


def pg_reachable() -> bool:
    try:
        import sqlalchemy  # noqa: PLC0415

        engine = sqlalchemy.create_engine(PG_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception:  # any failure: no server to measure
        return False
    return True


@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A fresh database on the server of ``url`` (dropped afterwards); yields its URL."""
    import sqlalchemy as sa  # noqa: PLC0415

    name = f"merge_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield sa.make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merges", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=20, help="history rows per archived student")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--guardians", action="store_true", help="add a guardian merge per merge")
    args = parser.parse_args()
    structlog.configure(processors=[lambda *_: (_ for _ in ()).throw(structlog.DropEvent)])
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", str(Path(tmp) / "bench.db"), args.merges, args.rows, args.batch_size,
                args.guardians)  # fmt: skip
    if args.no_postgres:
        return
    if not pg_reachable():
        print(f"postgres: skipped, {PG_URL} is unreachable")
        return
    with scratch_database(PG_URL) as url:
        run("postgres", url, args.merges, args.rows, args.batch_size, args.guardians)


if __name__ == "__main__":
    main()
