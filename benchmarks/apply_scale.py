"""Applying (and undoing) a million merges from a plan file: time and peak memory, per size.

Usage: python benchmarks/apply_scale.py [--merges 100000 1000000] [--rows 2]
       [--batch-size 500] [--no-sqlite] [--no-postgres] [--no-undo] [--cli] [--gzip]

For each size N: synthesizes N archived and 1.1 N synced students (one
guardian each, ``--rows`` history rows per archived student: messages and
attendance, one in ten meeting a same-day row of its twin), loads them with
``load_rosters`` and ``load_history``, writes a plan merging each archived
student into its twin with ``write_plan`` (as a stream), then applies it in
a fresh process under ``/usr/bin/time -v``: ``apply_plan(PlanFile.open(...))``
printing its progress with the process's memory, or with ``--cli`` the
``merge-engine apply`` command itself. Then undoes it the same way. Loading
is timed apart and is not part of the measurement.

PostgreSQL runs in the database of ``MERGE_ENGINE_PG_URL`` (its ``public``
schema is replaced: the reference tables are emptied first); SQLite in a
temporary file. The machine this runs on may be shared: user and system
CPU time are printed with the wall time.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog

from merge_engine.model import Contact, Roster, Student
from merge_engine.plan import Merge, write_plan
from merge_engine.planning._planner import record_hashes
from merge_engine.storage import load_history, load_rosters, open_storage

PG_URL = os.environ.get(
    "MERGE_ENGINE_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/me_planfile"
)
DAYS = [f"2024-{m:02d}-{d:02d}" for m in (9, 10, 11) for d in range(1, 29)]
CHUNK = 50_000


def student(prefix: str, i: int) -> Student:
    return Student(
        id=f"{prefix}{i:07d}", first_name=f"F{i}", last_name=f"L{i % 997}", grade=i % 13,
        school_id="sch", contacts=[Contact(f"g{prefix}{i:07d}", relationship="Parent")],
    )  # fmt: skip


def rosters(n: int) -> tuple[Roster, Roster]:
    # a sync also brings new students (kindergarten, movers in): 10% more, unmatched
    return (
        Roster([student("a", i) for i in range(n)]),
        Roster([student("s", i) for i in range(n + n // 10)]),
    )


def history(n: int, per_student: int) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """``per_student`` rows per archived student (messages, then attendance days), in chunks."""
    next_id = 1
    days = max(1, per_student // 2)
    for start in range(0, n, CHUNK):
        rows: dict[str, list[dict[str, Any]]] = {"messages": [], "attendance": []}
        for i in range(start, min(n, start + CHUNK)):
            a = f"a{i:07d}"
            for k in range(per_student - days):
                sent = f"2024-01-{k % 28 + 1:02d}T08:00:00"
                rows["messages"].append(
                    {"id": next_id, "student_id": a, "body": "message", "sent_at": sent}
                )
                next_id += 1
            for d in range(days):
                rows["attendance"].append({"id": next_id, "student_id": a, "day": DAYS[d],
                                           "status": "present"})  # fmt: skip
                next_id += 1
            if i % 10 == 0:  # the synced twin was in school on the archived student's first day
                rows["attendance"].append({"id": next_id, "student_id": f"s{i:07d}",
                                           "day": DAYS[0], "status": "absent"})  # fmt: skip
                next_id += 1
        yield rows


def merges(n: int) -> Iterator[Merge]:
    for i in range(n):
        a, s = student("a", i), student("s", i)
        yield Merge(a.id, s.id, 0.99, "auto", 20.0, None, (), **record_hashes(a, s))


def prepare(url: str, n: int, per_student: int, plan_path: Path) -> None:
    started = time.perf_counter()
    archived, synced = rosters(n)
    load_rosters(url, archived, synced, replace=True)
    del archived, synced
    storage = open_storage(url)
    rows = sum(load_history(storage, chunk) for chunk in history(n, per_student))
    storage.close()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    write_plan(
        plan_path,
        fingerprint={"archived": f"scale-{n}", "synced": f"scale-{n + n // 10}"},
        settings={},
        model={},
        stats={"archived_students": n, "synced_students": n + n // 10},
        merges=merges(n),
        unmatched_synced=(f"s{i:07d}" for i in range(n, n + n // 10)),
    )
    print(
        f"  loaded {n:,} + {n + n // 10:,} students and {rows:,} history rows in {loaded:.0f}s; "
        f"plan written in {time.perf_counter() - started:.0f}s "
        f"({plan_path.stat().st_size / 1e6:.0f} MB)",
        flush=True,
    )


CHILD = """
import os, resource, sys, time
import structlog
structlog.configure(processors=[lambda *_: (_ for _ in ()).throw(structlog.DropEvent)])
from merge_engine.applying._apply import apply_plan
from merge_engine.applying._undo import undo_plan
from merge_engine.plan_file import PlanFile
from merge_engine.storage import open_storage

action, plan_path, url, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
started = time.perf_counter()
marks = {"checked": 0, action: 0}

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

def reporter(label):
    def progress(done, total):
        if total and (done * 10 // total > marks[label] or done == total):
            marks[label] = done * 10 // total
            print(f"    {label} {done:>9,}/{total:,}  {time.perf_counter() - started:7.1f}s  "
                  f"rss {rss():6.0f} MB", flush=True)
    return progress

storage = open_storage(url)
plan = PlanFile.open(plan_path)
if action == "apply":
    report = apply_plan(plan, storage, progress=reporter(action), batch_size=batch,
                        check_progress=reporter("checked"))
else:
    report = undo_plan(plan, storage, progress=reporter(action), batch_size=batch)
storage.close()
print("    " + report.summary(limit=3).replace("\\n", "\\n    "), flush=True)
"""


def timed(command: list[str]) -> dict[str, str]:
    """Run ``command`` under ``/usr/bin/time -v``, echoing its output; the measures."""
    # The child's progress is echoed as it comes: a run of an hour shows how far it got.
    with tempfile.TemporaryFile(mode="w+") as errors:
        child = subprocess.Popen(
            ["/usr/bin/time", "-v", *command], stdout=sys.stdout, stderr=errors, text=True
        )
        returncode = child.wait()
        errors.seek(0)
        stderr = errors.read()
    if returncode not in (0, 1):
        sys.stdout.write(stderr[-3000:])
        raise SystemExit(f"{command[0]} failed with exit code {returncode}")
    wanted = {
        "wall": r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)",
        "user": r"User time \(seconds\): (\S+)",
        "sys": r"System time \(seconds\): (\S+)",
        "rss_kb": r"Maximum resident set size \(kbytes\): (\d+)",
    }
    return {k: m.group(1) for k, p in wanted.items() if (m := re.search(p, stderr))}


def seconds(wall: str) -> float:
    parts = [float(p) for p in wall.split(":")]
    return sum(p * 60**i for i, p in enumerate(reversed(parts)))


def run(name: str, url: str, n: int, args: argparse.Namespace, folder: Path) -> list[str]:
    print(f"{name}, {n:,} merges:", flush=True)
    plan = folder / ("plan.json.gz" if args.gzip else "plan.json")
    prepare(url, n, args.rows, plan)
    rows = []
    for action in ("apply", "undo")[: 1 if args.no_undo else 2]:
        if args.cli:
            command = ["merge-engine", action, str(plan), "--db", url, "--no-progress",
                       "--batch-size", str(args.batch_size)]  # fmt: skip
        else:
            command = [sys.executable, "-c", CHILD, action, str(plan), url, str(args.batch_size)]
        m = timed(command)
        wall = seconds(m["wall"])
        rss = int(m["rss_kb"]) / 1024
        rows.append(
            f"| {name} | {n:,} | {action} | {wall:.0f} s | {float(m['user']):.0f} s | "
            f"{float(m['sys']):.0f} s | {rss:,.0f} MB | {n / wall:,.0f} |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merges", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rows", type=int, default=2, help="history rows per archived student")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-undo", action="store_true")
    parser.add_argument("--cli", action="store_true", help="time `merge-engine apply` itself")
    parser.add_argument("--gzip", action="store_true", help="write the plan as plan.json.gz")
    args = parser.parse_args()
    structlog.configure(processors=[lambda *_: (_ for _ in ()).throw(structlog.DropEvent)])
    table = [
        "| backend | merges | step | wall | user | sys | peak memory | merges/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in args.merges:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if not args.no_sqlite:
                table += run("SQLite", f"sqlite:///{folder / 'scale.db'}", n, args, folder)
            if not args.no_postgres:
                table += run("PostgreSQL", PG_URL, n, args, folder)
    print("\n".join(table))


if __name__ == "__main__":
    main()
