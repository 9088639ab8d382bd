"""Building a plan: the planner runs the student and account matchers; replan reads storage.

``_planner.build_plan`` turns two rosters into a :class:`~merge_engine.MergePlan`
(student matching from :mod:`merge_engine.matching`, guardian and role
matching from :mod:`merge_engine.accounts`); ``_replan.plan_from_storage``
plans from the rosters an adapter holds. Planning never writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._planner import build_plan

if TYPE_CHECKING:
    from ._replan import plan_from_storage

__all__ = ["build_plan", "plan_from_storage"]


def __getattr__(name: str) -> Any:
    # Replanning reads storage: the adapters (sqlite3 among them, about 3 MB) load only
    # for it, not for every build_plan.
    if name == "plan_from_storage":
        from ._replan import plan_from_storage  # noqa: PLC0415

        return plan_from_storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
