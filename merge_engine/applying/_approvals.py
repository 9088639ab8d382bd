"""Reading a reviewer's approvals: which ``review`` merges may be applied.

Two shapes are accepted, so a reviewer can hand back whatever is easiest:
a plain list (one archived id per line, ``#`` comments and blank lines
ignored) or a CSV with an ``archived_id`` column (such as the review sheet
made from :meth:`MergePlan.to_records`, with rejected rows deleted; an
optional ``approved`` column keeps only rows marked yes/true/1/x).
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..exceptions import InputError

__all__ = ["read_approvals"]

_YES = {"1", "y", "yes", "true", "x", "approved", "approve"}


def read_approvals(path: str | Path) -> frozenset[str]:
    """The archived ids approved in ``path`` (a plain list or a CSV with ``archived_id``)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except OSError as exc:
        raise InputError(f"cannot read approvals ({exc.strerror})", path=str(path)) from exc
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    header = [c.strip().lower() for c in next(csv.reader([first]))] if first else []
    if "archived_id" not in header:
        return frozenset(
            line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
        )
    reader = csv.DictReader(lines[lines.index(first) + 1 :], fieldnames=header)
    ids = set()
    for row in reader:
        value = (row.get("archived_id") or "").strip()
        if not value:
            continue
        flag = row.get("approved")
        if flag is None or flag.strip().lower() in _YES:
            ids.add(value)
    return frozenset(ids)
