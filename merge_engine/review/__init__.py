"""The review desk: the review queue, its spreadsheet out and back, rules and decisions.

``items`` lists what a reviewer decides; ``export`` writes it as CSV or xlsx
with names side by side; ``importing`` reads the filled sheet back, refusing
what cannot be trusted; ``rules`` approves by rule; ``decisions`` is the
reviewers' verdicts and what they do to the next plan and to apply.
"""

from __future__ import annotations

from .decisions import Decision, Decisions, without_rejected
from .importing import read_decisions
from .items import ReviewItem, review_items
from .rules import approve_by_rule

__all__ = [
    "Decision",
    "Decisions",
    "ReviewItem",
    "approve_by_rule",
    "read_decisions",
    "review_items",
    "without_rejected",
]
