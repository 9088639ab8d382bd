"""Wall time for N generated districts planned one after the other vs on a process pool.

Usage: python benchmarks/many.py [--districts 8] [--size 5000] [--workers 2] [--dask]

Each district is generated with its own seed and written as CSV folders, as
plan-many reads them; both runs read the folders and write the plans (the
serial run through plan_district in this process, the pool through
plan_many), and every plan of the pool run is checked to be byte-identical
to the serial one. With --dask, a LocalCluster of --workers processes runs
the same districts too.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import structlog

from merge_engine import write_roster
from merge_engine.planning._many import (
    District,
    districts_in,
    plan_district,
    plan_many,
    process_pool,
)
from merge_engine.testing.synthetic import generate_district


def _write(root: Path, count: int, size: int) -> None:
    for i in range(count):
        district = generate_district(size, seed=100 + i)
        write_roster(district.archived, root / f"d{i:03}" / "archived")
        write_roster(district.synced, root / f"d{i:03}" / "synced")


def _retarget(districts: list[District], out: Path) -> list[District]:
    return [District(d.name, d.archived, d.synced, out) for d in districts]


def _same(a: Path, b: Path, names: list[str]) -> bool:
    return all(
        (a / n / "plan.json").read_bytes() == (b / n / "plan.json").read_bytes() for n in names
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--districts", type=int, default=8)
    parser.add_argument("--size", type=int, default=5_000, help="archived students per district")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dask", action="store_true", help="also run on a dask LocalCluster")
    args = parser.parse_args()
    structlog.configure(processors=[lambda *_: (_ for _ in ()).throw(structlog.DropEvent)])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        _write(root / "districts", args.districts, args.size)
        print(
            f"{args.districts} districts of {args.size:,} archived students written in "
            f"{time.perf_counter() - started:.1f}s; {os.cpu_count()} cores"
        )
        districts = districts_in(root / "districts")
        names = [d.name for d in districts]

        started = time.perf_counter()
        serial = [plan_district(d) for d in _retarget(districts, root / "serial")]
        serial_s = time.perf_counter() - started
        assert all(r.ok for r in serial), [r.error for r in serial if not r.ok]
        print(f"serial (one process):         {serial_s:7.1f}s")

        started = time.perf_counter()
        with process_pool(args.workers) as pool:
            pooled = plan_many(_retarget(districts, root / "pool"), pool)
        pool_s = time.perf_counter() - started
        assert all(r.ok for r in pooled), [r.error for r in pooled if not r.ok]
        same = _same(root / "serial", root / "pool", names)
        print(
            f"process pool ({args.workers} workers):     {pool_s:7.1f}s  "
            f"speed-up {serial_s / pool_s:.2f}x  byte-identical: {same}"
        )

        if args.dask:
            from dask.distributed import Client, LocalCluster  # noqa: PLC0415

            started = time.perf_counter()
            with (
                LocalCluster(
                    n_workers=args.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                ) as cluster,
                Client(cluster) as client,
            ):
                up = time.perf_counter() - started
                started = time.perf_counter()
                on_dask = plan_many(_retarget(districts, root / "dask"), client)
                dask_s = time.perf_counter() - started
            assert all(r.ok for r in on_dask), [r.error for r in on_dask if not r.ok]
            same = _same(root / "serial", root / "dask", names)
            print(
                f"dask LocalCluster ({args.workers} workers): {dask_s:7.1f}s  "
                f"speed-up {serial_s / dask_s:.2f}x  byte-identical: {same}  "
                f"(+{up:.1f}s to start the cluster)"
            )


if __name__ == "__main__":
    main()
