"""Helpers for tests that read or edit plan files: columns by name, documents rewritten.

A version-3 plan keeps each merge as a row (a list in the order of
``Merge.COLUMNS``); tests that edit a plan by hand go through these.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from merge_engine.plan import GuardianAction, GuardianMerge, Merge

OLD_PLANS = Path(__file__).parent / "data" / "old_plans"

_COLUMNS = {
    "merges": Merge.COLUMNS,
    "guardian_merges": GuardianMerge.COLUMNS,
    "guardian_actions": GuardianAction.COLUMNS,
}


def col(name: str, section: str = "merges") -> int:
    """The position of column ``name`` in a row of ``section``."""
    return _COLUMNS[section].index(name)


def cell(row: list[Any], name: str, section: str = "merges") -> Any:
    return row[col(name, section)]


def set_cell(row: list[Any], name: str, value: Any, section: str = "merges") -> None:
    row[col(name, section)] = value


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def edit_plan(path: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    """Rewrite the plan at ``path`` as a JSON tool would (re-indented) after ``change``."""
    data = read_json(path)
    change(data)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
