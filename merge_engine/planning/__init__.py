"""Building a plan: the planner runs the student and account matchers; replan reads storage.

``planner.build_plan`` turns two rosters into a :class:`~merge_engine.MergePlan`
(student matching from :mod:`merge_engine.matching`, guardian and role
matching from :mod:`merge_engine.accounts`); ``replan.plan_from_storage``
plans from the rosters an adapter holds. Planning never writes.
"""

from __future__ import annotations

from .planner import build_plan
from .replan import plan_from_storage

__all__ = ["build_plan", "plan_from_storage"]
