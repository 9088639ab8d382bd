"""Building a plan: the planner runs the student and account matchers; replan reads storage.

``_planner.build_plan`` turns two rosters into a :class:`~merge_engine.MergePlan`
(student matching from :mod:`merge_engine.matching`, guardian and role
matching from :mod:`merge_engine.accounts`); ``_replan.plan_from_storage``
plans from the rosters an adapter holds. Planning never writes.
"""

from __future__ import annotations

from ._planner import build_plan
from ._replan import plan_from_storage

__all__ = ["build_plan", "plan_from_storage"]
