"""Applying a plan through a storage adapter, and undoing it: the only code that writes.

``apply`` and ``undo`` are the entry points; ``_applying`` holds what they
share (transactions, retries, audit notes); ``safety`` is the safety valve
(siblings, stale records); ``account_steps`` turns a plan's guardian and role
decisions into steps that ``account_apply`` runs; ``approvals`` reads
reviewers' approval files; ``journal`` reads back what was applied; ``sweep``
moves history written to a merged student after its merge; ``report`` is what
applying or undoing did (ids and counts only).
"""

from __future__ import annotations

from .apply import apply_plan, audit_history
from .journal import PlanSummary, plan_summaries
from .report import ApplyReport, MergeOutcome
from .undo import undo_plan, undo_plan_id

__all__ = [
    "ApplyReport",
    "MergeOutcome",
    "PlanSummary",
    "apply_plan",
    "audit_history",
    "plan_summaries",
    "undo_plan",
    "undo_plan_id",
]
