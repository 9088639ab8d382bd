"""Applying a plan through a storage adapter, and undoing it: the only code that writes.

``_apply`` and ``_undo`` are the entry points; ``_applying`` holds what they
share (transactions, retries, audit notes); ``_safety`` is the safety valve
(siblings, stale records); ``_account_steps`` turns a plan's guardian and role
decisions into steps that ``_account_apply`` runs; ``_approvals`` reads
reviewers' approval files; ``_journal`` reads back what was applied; ``_sweep``
moves history written to a merged student after its merge; ``_report`` is what
applying or undoing did (ids and counts only).
"""

from __future__ import annotations

from ._account_steps import approval_ids
from ._apply import apply_plan, audit_history
from ._journal import PlanSummary, plan_summaries
from ._report import ApplyReport, MergeOutcome
from ._undo import undo_plan, undo_plan_id

__all__ = [
    "ApplyReport",
    "MergeOutcome",
    "PlanSummary",
    "apply_plan",
    "approval_ids",
    "audit_history",
    "plan_summaries",
    "undo_plan",
    "undo_plan_id",
]
