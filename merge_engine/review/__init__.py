"""The review desk: the review queue, its spreadsheet out and back, rules and decisions.

``_items`` lists what a reviewer decides; ``_export`` writes it as CSV or xlsx
with names side by side; ``_importing`` reads the filled sheet back, refusing
what cannot be trusted; ``_rules`` approves by rule; ``_decisions`` is the
reviewers' verdicts and what they do to the next plan and to apply.
"""

from __future__ import annotations

from ._decisions import Decision, Decisions, without_rejected
from ._importing import read_decisions
from ._items import ReviewItem, review_items
from ._rules import approve_by_rule

__all__ = [
    "Decision",
    "Decisions",
    "ReviewItem",
    "approve_by_rule",
    "read_decisions",
    "review_items",
    "without_rejected",
]
