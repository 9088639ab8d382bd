"""Approving review items by rule, only where a rule cannot hide a second child.

A rule approves every item whose only reason is one given reason and whose
confidence is at least a given value. Most reasons exist because the pair
could be two children: twins (a given name a typo apart, a possible
duplicate), siblings (grades or birth dates apart, another given name),
namesakes (nothing but names agree) or a competing candidate. Those are
decided one by one. Only reasons that say the evidence is merely weaker
than the auto-merge bar may be approved by rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..applying._applying import plan_fingerprint
from ..exceptions import PlanError
from ..plan import MergePlan
from ._decisions import Decision, Decisions, check_one_child_per_record
from ._items import STUDENT_KINDS, ReviewItem, reason_key, review_items

__all__ = ["RULE_SAFE_REASONS", "approve_by_rule", "matching_items"]

#: Reasons a rule may approve: the pair agrees on everything the engine checks for a
#: second child, and only its overall confidence is below the auto-merge threshold.
RULE_SAFE_REASONS = frozenset({"confidence below the auto-merge threshold"})


def matching_items(plan: MergePlan, reason: str, min_confidence: float) -> list[ReviewItem]:
    """The items a rule would approve: ``reason`` is their only reason, confidence high enough.

    Raises:
        PlanError: ``reason`` is not one a rule may approve (the message says why).
    """
    wanted = reason_key(reason.strip())
    if wanted not in RULE_SAFE_REASONS:
        known = sorted({reason_key(r) for i in review_items(plan) for r in i.reasons})
        hint = (
            "it is not a reason of this plan's review items"
            if wanted not in known
            else "it can hide a twin, a sibling, a namesake or a competing candidate, so "
            "those items are decided one by one (review export)"
        )
        raise PlanError(
            f"cannot approve by the reason {wanted!r}: {hint}. Reasons a rule may approve: "
            + ", ".join(repr(r) for r in sorted(RULE_SAFE_REASONS))
        )
    if not 0.0 <= min_confidence <= 1.0:
        raise PlanError(f"--min-confidence must be between 0 and 1, not {min_confidence}")
    return [
        item
        for item in review_items(plan)
        if item.kind in ("student", "guardian_merge")
        and not item.duplicates
        and {reason_key(r) for r in item.reasons} == {wanted}
        and item.confidence is not None
        and item.confidence >= min_confidence
    ]


def approve_by_rule(
    plan: MergePlan, reason: str, min_confidence: float, source: str = "rule"
) -> Decisions:
    """Decisions approving :func:`matching_items`; refuses a rule that would put two
    children onto one synced student."""
    items = matching_items(plan, reason, min_confidence)
    _check(plan, items)
    return Decisions(plan_fingerprint(plan), source, [Decision.of(i, "approve") for i in items], [])


def _check(plan: MergePlan, items: Sequence[ReviewItem]) -> None:
    ids = {i.approval_id for i in items if i.kind in STUDENT_KINDS}
    bad = check_one_child_per_record(plan, ids)
    if bad:
        groups = "; ".join(", ".join(ids) for ids in bad[:5])
        raise PlanError(
            f"the rule would put two children onto one synced student ({groups}); "
            "decide those items one by one"
        )
