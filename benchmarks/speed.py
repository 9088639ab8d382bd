"""Planning time and peak memory at several district sizes.

Usage: python benchmarks/speed.py [--sizes 2000 20000 150000]
The synced side is about 1.1x the archived side (new students join).
Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time

import structlog

from merge_engine import build_plan
from merge_engine.testing.synthetic import generate_district


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 20_000, 150_000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    laps: dict[str, object] = {}

    def grab(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
        if event.get("event") == "plan_built":
            laps.update(event)
        raise structlog.DropEvent

    structlog.configure(processors=[grab])
    for n in args.sizes:
        district = generate_district(n, seed=args.seed)
        gc.collect()
        started = time.perf_counter()
        plan = build_plan(district.archived, district.synced)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"archived={len(district.archived):>7} synced={len(district.synced):>7} "
            f"pairs={plan.stats['pairs_compared']:>9,} plan={seconds:6.1f}s "
            f"peak_rss={peak:6.0f}MiB "
            f"merges={len(plan.merges)}"
        )
        print(f"   where the time goes: {laps.get('seconds')}")


if __name__ == "__main__":
    main()
