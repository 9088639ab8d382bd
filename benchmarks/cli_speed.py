"""`merge-engine plan` from CSV folders to plan.json, in a fresh process per run.

Usage:
    python benchmarks/cli_speed.py --sizes 2000 20000 150000 [--seed 1] [--dir /tmp/districts]
    python benchmarks/cli_speed.py --district DIR [DIR ...]   (folders with archived/, synced/)

Each district is generated once (``generate_district(n, seed=...)`` written with
``write_roster`` into DIR/archived and DIR/synced, reused when present), then
planned by ``merge-engine plan --archived DIR/archived --synced DIR/synced --out
plan.json --no-progress`` under ``/usr/bin/time -v``. The child reports each
stage as it ends (reading each roster, the planner's stages, then writing) with
the wall and CPU time it took, the resident memory after it and by how much the
peak grew during it: where the time and the memory go. Wall time, user+sys CPU
time and the peak resident set of the whole run come from ``time -v``; the load
average is printed too, because wall times mean little on a busy machine (CPU
times less so).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_TIME = "/usr/bin/time"


def _memory() -> tuple[float, float]:
    """Resident and peak resident memory of this process, in MiB (Linux)."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                found[line[:5]] = int(line.split()[1]) / 1024
    return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)


def child(argv: list[str], laps_path: str) -> int:
    """Run the CLI in this process, recording every stage it reports."""
    from merge_engine.cli import _progress, main  # noqa: PLC0415

    laps: list[dict[str, object]] = []
    clock = [time.perf_counter(), time.process_time()]

    def lap(name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        rss, peak = _memory()
        seconds, cpu_seconds = now - clock[0], cpu - clock[1]
        laps.append(
            {"stage": name, "seconds": seconds, "cpu": cpu_seconds, "rss": rss, "peak": peak}
        )
        # Also as it happens: a run killed for its memory still shows how far it got.
        print(f"{name} {seconds:.1f}s cpu {cpu_seconds:.1f}s rss {rss:,.0f} MiB", file=sys.stderr)
        clock[:] = [now, cpu]

    reading = [""]
    original_start, original_done = _progress.Steps.start, _progress.Steps.done

    def start(self: _progress.Steps, name: str) -> None:
        reading[0] = name
        original_start(self, name)

    def done(self: _progress.Steps, name: str = "") -> None:
        if reading[0]:
            lap(reading[0].replace("reading ", "read "))
            reading[0] = ""
        original_done(self, name)

    def stage(self: _progress.Steps, name: str) -> None:
        lap(name)
        original_done(self, "")

    _progress.Steps.start = start  # type: ignore[method-assign]
    _progress.Steps.done = done  # type: ignore[method-assign]
    _progress.Steps.stage = stage  # type: ignore[method-assign]
    try:
        code = main(argv)
    finally:
        lap("write")
        Path(laps_path).write_text(json.dumps(laps), encoding="utf-8")
    return code


_GENERATE = """
import sys
from pathlib import Path
from merge_engine import write_roster
from merge_engine.testing.synthetic import generate_district

district = generate_district(int(sys.argv[1]), seed=int(sys.argv[2]))
write_roster(district.archived, Path(sys.argv[3]) / "archived")
write_roster(district.synced, Path(sys.argv[3]) / "synced")
"""


def _generate(n: int, seed: int, folder: Path) -> Path:
    """Generate and write the district once, in a child process (at 1,000,000 students the
    generator holds 3 GB, which this process would keep), into a temporary folder renamed
    into place: a run stopped half way leaves no half-written district to be reused."""
    if folder.is_dir():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    command = [_TIME, "-v", sys.executable, "-c", _GENERATE, str(n), str(seed), str(partial)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"generating the district failed:\n{done.stderr[-5000:]}")
    measured = _time_v(done.stderr)
    print(
        f"generated {folder.name}: wall {measured['wall']:.1f} s  "
        f"user+sys {measured['user'] + measured['sys']:.1f} s  "
        f"peak {measured['peak_mib']:,.0f} MiB"
    )
    partial.rename(folder)
    return folder


def _time_v(stderr: str) -> dict[str, float]:
    def grab(label: str) -> str:
        found = re.search(rf"{re.escape(label)}: (.+)", stderr)
        return found.group(1).strip() if found else "0"

    wall = 0.0
    for part in grab("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    return {
        "wall": wall,
        "user": float(grab("User time (seconds)")),
        "sys": float(grab("System time (seconds)")),
        "peak_mib": int(grab("Maximum resident set size (kbytes)")) / 1024,
    }


def _rows(folder: Path) -> int:
    with open(folder / "students.csv", "rb") as f:
        return sum(1 for _ in f) - 1


def run(folder: Path, out: Path) -> None:
    load = os.getloadavg()
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        laps_path = handle.name
    command = [
        _TIME, "-v", sys.executable, __file__, "--child", laps_path, "plan",
        "--archived", str(folder / "archived"), "--synced", str(folder / "synced"),
        "--out", str(out), "--no-progress", "--overwrite",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"merge-engine plan failed:\n{done.stderr[-5000:]}")
    measured = _time_v(done.stderr)
    laps = json.loads(Path(laps_path).read_text(encoding="utf-8"))
    os.unlink(laps_path)
    n_a, n_b = _rows(folder / "archived"), _rows(folder / "synced")
    size = out.stat().st_size / 1e6
    cpu = measured["user"] + measured["sys"]
    print(
        f"{folder.name}: {n_a:,} x {n_b:,}  wall {measured['wall']:.1f} s  "
        f"user+sys {cpu:.1f} s  peak {measured['peak_mib']:,.0f} MiB  "
        f"({measured['peak_mib'] * 2**20 / (n_a + n_b):,.0f} bytes per student)  "
        f"plan.json {size:,.0f} MB  load before {load[0]:.1f}, after {os.getloadavg()[0]:.1f}"
    )
    before = 0.0
    cells = []
    for lap in laps:
        grew = lap["peak"] - before
        before = max(before, lap["peak"])
        cells.append(
            f"{lap['stage']} {lap['seconds']:.1f}/{lap['cpu']:.1f}s rss {lap['rss']:,.0f}"
            + (f" peak+{grew:,.0f}" if grew >= 1 else "")
        )
    print("   wall/cpu seconds and resident MiB after each stage (peak+: the peak grew by):")
    print("   " + "; ".join(cells))
    _work(out)


def _work(out: Path) -> None:
    """The pairs each blocking rule made and the plan's counts: how the work grows."""
    from merge_engine.plan_file import PlanFile  # noqa: PLC0415

    plan = PlanFile.open(out)
    stats, counts = plan.stats, plan.summary()
    print(
        f"   pairs compared {stats['pairs_compared']:,} "
        f"({stats['pairs_compared'] / max(stats['archived_students'], 1):.1f} per archived "
        f"record); largest component {stats['largest_component']}; merges {counts['merges']:,} "
        f"({counts['auto']:,} auto, {counts['review']:,} review)"
    )
    rules = stats["blocking"]
    print("   blocking pairs: " + ", ".join(f"{r} {v['pairs']:,}" for r, v in rules.items()))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[3:], sys.argv[2]))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[2_000, 20_000, 150_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where districts are kept")
    parser.add_argument("--district", nargs="*", default=[], help="existing district folders")
    parser.add_argument("--out", default=None, help="plan file (default: a temporary file)")
    args = parser.parse_args()
    folders = [Path(d) for d in args.district]
    folders += [_generate(n, args.seed, Path(args.dir) / f"district_{n}_{args.seed}")
                for n in args.sizes if not args.district]  # fmt: skip
    for folder in folders:
        if args.out:
            run(folder, Path(args.out))
            continue
        # A folder of its own per run: two runs at once must not write one plan file.
        with tempfile.TemporaryDirectory(prefix="cli_speed_") as scratch:
            run(folder, Path(scratch) / "plan.json")


if __name__ == "__main__":
    main()
