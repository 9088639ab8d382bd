"""Helpers shared by the command groups: options, storage, rosters, the plan summary."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..accounts import approval_ids
from ..exceptions import PlanError
from ..model import Roster
from ..plan import MergePlan
from ..readers import read_roster
from ..settings import Settings

__all__ = [
    "DB_HELP",
    "FORMATS",
    "print_summary",
    "read_both",
    "read_side",
    "roster_args",
    "settings_at",
    "storage_at",
]

DB_HELP = "database: sqlite:///path.db, a bare path, or a SQLAlchemy URL"
FORMATS = ["auto", "native", "clever", "oneroster"]


@contextmanager
def storage_at(url: str, *, create: bool = False) -> Iterator[Any]:
    from ..storage import open_storage  # noqa: PLC0415  (keeps `plan` free of storage imports)

    storage = open_storage(url, create=create)
    try:
        yield storage
    finally:
        storage.close()


def settings_at(path: str | None) -> Settings:
    return Settings.from_file(path) if path else Settings()


def roster_args(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """--archived, --synced, their formats, --encoding-fallback and --strict."""
    parser.add_argument("--archived", required=required, help="folder of the archived roster")
    parser.add_argument("--synced", required=required, help="folder of the synced roster")
    parser.add_argument(
        "--archived-format",
        choices=FORMATS,
        default="auto",
        help="format of the archived folder (default: recognised from its files)",
    )
    parser.add_argument(
        "--synced-format",
        choices=FORMATS,
        default="auto",
        help="format of the synced folder (default: recognised from its files)",
    )
    parser.add_argument(
        "--encoding-fallback",
        metavar="ENCODING",
        help="decode files that are not valid UTF-8 with this encoding (e.g. cp1252); "
        "each use is recorded as a warning",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first input warning (an empty name, an unreadable date) instead of "
        "keeping the row and recording the warning",
    )


def read_side(args: argparse.Namespace, side: str) -> Roster:
    """The ``side`` ("archived" or "synced") roster named by the roster options."""
    return read_roster(
        getattr(args, side),
        format=getattr(args, f"{side}_format"),
        fallback_encoding=args.encoding_fallback,
        strict=getattr(args, "strict", False),
    )


def read_both(args: argparse.Namespace) -> tuple[Roster, Roster]:
    if not (args.archived and args.synced):
        raise PlanError("give both --archived and --synced folders (or --db URL)")
    return read_side(args, "archived"), read_side(args, "synced")


def print_summary(plan: MergePlan, out: str | Path) -> None:
    s = plan.stats
    print(f"{plan!r}")
    print(
        f"compared {s.get('pairs_compared', 0):,} of {s.get('pairs_possible', 0):,} "
        "possible pairs; "
        f"plan written to {out}"
    )
    if plan.warnings:
        print(f"{len(plan.warnings)} input warnings are listed in the plan under 'warnings'.")
    if plan.review:
        print(
            f"Review the {len(plan.review)} merges marked 'review' before applying: "
            f"merge-engine show {out} --review"
        )
    account_reviews = len(approval_ids(plan))
    if account_reviews:
        print(
            f"{account_reviews} account steps (guardian merges, old guardians, multiple-role "
            f"users) need review too: merge-engine show {out} --accounts --review"
        )
