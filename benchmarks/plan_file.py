"""The plan file of a large district: size, write and read times, and the commands that read it.

Usage: python benchmarks/plan_file.py PLAN [--db SQLITE_FILE] [--archived DIR --synced DIR]
       [--apply]

Reads PLAN (any schema version) whole, writes it again as ``plan.json`` and
``plan.json.gz`` (timed, sizes printed), then runs, for each of the two,
``merge-engine show`` (review merges, all merges, account steps) and, with
names from ``--db`` or the roster folders, ``merge-engine review export``,
each in a fresh process under ``/usr/bin/time -v``: seconds until the first
line of output, wall time, user and system CPU, peak resident memory. With
``--apply`` and ``--db`` (a SQLite file, copied first), ``merge-engine
apply`` too. Make the district with the generator, e.g. for 150,000 students
(benchmarks/README.md, "Planning speed and memory"), and plan it with
``merge-engine plan``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from merge_engine.plan import MergePlan


def measure(command: list[str]) -> str:
    """One row of the table: first output, wall, user, sys, peak memory of ``command``."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-v", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = None
    for _ in proc.stdout:
        if first is None:
            first = time.perf_counter() - started
    err = proc.stderr.read() if proc.stderr else ""
    proc.wait()
    found = {
        k: m.group(1)
        for k, p in {
            "wall": r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)",
            "user": r"User time \(seconds\): (\S+)",
            "sys": r"System time \(seconds\): (\S+)",
            "rss": r"Maximum resident set size \(kbytes\): (\d+)",
        }.items()
        if (m := re.search(p, err))
    }
    wall = sum(float(x) * 60**i for i, x in enumerate(reversed(found["wall"].split(":"))))
    shown = " ".join(Path(c).name if "/" in c else c for c in command[1:4])
    return (
        f"| `{shown} ...` | {first or 0:.2f} s | {wall:.1f} s | {float(found['user']):.1f} s | "
        f"{float(found['sys']):.1f} s | {int(found['rss']) / 1024:,.0f} MB | {proc.returncode} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("plan")
    parser.add_argument("--db", help="a SQLite file holding the district (names, apply)")
    parser.add_argument("--archived")
    parser.add_argument("--synced")
    parser.add_argument("--apply", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    plan = MergePlan.read(args.plan)
    print(f"read {args.plan} whole: {time.perf_counter() - started:.1f}s; {plan!r}")
    names = ["--db", args.db] if args.db else ["--archived", args.archived, "--synced", args.synced]
    table = [
        "| command | first output | wall | user | sys | peak memory | exit |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("plan.json", "plan.json.gz"):
            path = Path(tmp) / name
            started = time.perf_counter()
            plan.write(path)
            print(
                f"wrote {name}: {time.perf_counter() - started:.1f}s, "
                f"{path.stat().st_size / 1e6:.1f} MB",
                flush=True,
            )
        del plan
        for name in ("plan.json", "plan.json.gz"):
            path = str(Path(tmp) / name)
            me = "merge-engine"
            runs = [
                [me, "show", path, "--review", "--limit", "3"],
                [me, "show", path, "--limit", "3"],
                [me, "show", path, "--accounts", "--limit", "3"],
            ]
            if args.db or args.archived:
                out = str(Path(tmp) / "review.csv")
                runs.append([me, "review", "export", path, *names, "--out", out, "--overwrite"])
            if args.apply and args.db:
                copy = Path(tmp) / "district.db"
                for leftover in (Path(f"{copy}-wal"), Path(f"{copy}-shm")):
                    leftover.unlink(missing_ok=True)
                shutil.copy(args.db, copy)
                runs.append([me, "apply", path, "--db", str(copy), "--no-progress"])
            for command in runs:
                table.append(measure(command))
                print(table[-1], flush=True)
    print("\n".join(table))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
