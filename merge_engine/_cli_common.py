"""Helpers shared by the command-line modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .applying.account_steps import approval_ids
from .plan import MergePlan

__all__ = ["print_summary", "storage_at"]


@contextmanager
def storage_at(url: str, *, create: bool = False) -> Iterator[Any]:
    from .storage import open_storage  # noqa: PLC0415  (keeps `plan` free of storage imports)

    storage = open_storage(url, create=create)
    try:
        yield storage
    finally:
        storage.close()


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
