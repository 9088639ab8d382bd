"""Helpers shared by the command groups: options, storage, rosters, the plan summary."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..applying._account_steps import approval_ids
from ..applying._applying import plan_fingerprint
from ..exceptions import PlanError
from ..model import Roster
from ..plan import MergePlan
from ..readers import read_roster
from ..settings import Settings
from ._progress import Steps

__all__ = [
    "DB_HELP",
    "FORMATS",
    "emit_json",
    "json_arg",
    "plan_counts",
    "print_counts",
    "print_summary",
    "read_both",
    "read_side",
    "roster_args",
    "settings_at",
    "storage_at",
    "written_counts",
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


def json_arg(parser: argparse.ArgumentParser, what: str) -> None:
    """--json: print ``what`` as one JSON object on stdout instead of the text (docs/cli.md)."""
    parser.add_argument(
        "--json",
        action="store_true",
        help=f"print {what} as JSON on stdout instead of text (keys: docs/cli.md)",
    )


def emit_json(value: object) -> None:
    print(json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False))


def plan_counts(plan: MergePlan, out: str | Path) -> dict[str, Any]:
    """The plan summary of ``plan --json`` (and ``demo --json``)."""
    counts = {
        "merges": len(plan.merges),
        "auto": len(plan.auto),
        "review": len(plan.review),
        "unmatched_archived": len(plan.unmatched_archived),
        "unmatched_synced": len(plan.unmatched_synced),
        "guardian_merges": len(plan.guardian_merges),
        "guardian_folds": len(plan.guardian_folds),
        "guardian_actions": len(plan.guardian_actions),
        "multiple_role_users": len(plan.role_links),
    }
    return written_counts(
        out,
        plan_fingerprint(plan),
        plan.stats,
        counts,
        account_reviews=len(approval_ids(plan)),
        warnings=len(plan.warnings),
    )


def written_counts(
    out: str | Path,
    plan_id: str,
    stats: Mapping[str, Any],
    counts: Mapping[str, int],
    *,
    account_reviews: int,
    warnings: int,
) -> dict[str, Any]:
    """:func:`plan_counts` of a plan known by its parts: its id, ``stats`` and ``counts`` (the
    plan file's ``summary``, as :class:`~merge_engine._plan_codec.PlanStream` counts it)."""
    return {
        "plan": str(out),
        "plan_id": plan_id,
        "archived_students": int(stats.get("archived_students", 0)),
        "synced_students": int(stats.get("synced_students", 0)),
        "pairs_compared": int(stats.get("pairs_compared", 0)),
        "pairs_possible": int(stats.get("pairs_possible", 0)),
        **{key: counts[key] for key in _COUNTED},
        "account_steps_to_review": account_reviews,
        "warnings": warnings,
    }


_COUNTED = (
    "merges", "auto", "review", "unmatched_archived", "unmatched_synced", "guardian_merges",
    "guardian_folds", "guardian_actions", "multiple_role_users",
)  # fmt: skip


def read_side(args: argparse.Namespace, side: str) -> Roster:
    """The ``side`` ("archived" or "synced") roster named by the roster options."""
    return read_roster(
        getattr(args, side),
        format=getattr(args, f"{side}_format"),
        fallback_encoding=args.encoding_fallback,
        strict=getattr(args, "strict", False),
    )


def read_both(args: argparse.Namespace, bar: Steps | None = None) -> tuple[Roster, Roster]:
    """Both rosters, each a step of ``bar``."""
    if not (args.archived and args.synced):
        raise PlanError("give both --archived and --synced folders (or --db URL)")
    sides = []
    for side in ("archived", "synced"):
        if bar is not None:
            bar.start(f"reading {side}")
        sides.append(read_side(args, side))
        if bar is not None:
            bar.done()
    return sides[0], sides[1]


def print_summary(plan: MergePlan, out: str | Path) -> None:
    print_counts(plan_counts(plan, out))


def print_counts(counts: Mapping[str, Any]) -> None:
    """What ``plan`` prints, from :func:`plan_counts` (or :func:`written_counts`)."""
    out = counts["plan"]
    # The first line is the plan's own repr.
    print(
        f"<MergePlan {counts['merges']} merges ({counts['auto']} auto, "
        f"{counts['review']} for review), {counts['unmatched_archived']} archived and "
        f"{counts['unmatched_synced']} synced unmatched, {counts['warnings']} warnings>"
    )
    print(
        f"compared {counts['pairs_compared']:,} of {counts['pairs_possible']:,} "
        "possible pairs; "
        f"plan written to {out}"
    )
    if counts["warnings"]:
        print(f"{counts['warnings']} input warnings are listed in the plan under 'warnings'.")
    if counts["review"]:
        print(
            f"Review the {counts['review']} merges marked 'review' before applying: "
            f"merge-engine show {out} --review"
        )
    account_reviews = counts["account_steps_to_review"]
    if account_reviews:
        print(
            f"{account_reviews} account steps (guardian merges, old guardians, multiple-role "
            f"users) need review too: merge-engine show {out} --accounts --review"
        )
