"""The decisions a plan leaves to a reviewer, one item each, in ids and numbers only.

The review sheet (:mod:`merge_engine.review._export`), its import
(:mod:`merge_engine.review._importing`) and ``show`` all start from these
items, so the sheet's rows and the checks on its way back agree on what a
row is. Each item carries a ``record_hash``: a short digest of what the
reviewer saw (the two student records' hashes, or an account step's ids
and field levels); a decision is only accepted for a plan whose item has
the same hash, so a pair whose records changed since the sheet was made
is decided again rather than applied on old evidence.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from attrs import field, frozen

from ..applying._account_steps import fold_key, guardian_key
from ..plan import Competitor, GuardianFold, GuardianMerge, Merge, MergePlan

__all__ = [
    "KINDS",
    "ReviewItem",
    "reason_key",
    "review_items",
    "student_item",
]

ItemKind = Literal[
    "student",
    "archived_duplicate",
    "guardian_merge",
    "guardian_fold",
    "guardian_detach",
    "multiple_role",
]
#: Every kind of review item, in the order the sheet lists kinds that share a reason.
KINDS: tuple[ItemKind, ...] = (
    "student",
    "archived_duplicate",
    "guardian_merge",
    "guardian_fold",
    "guardian_detach",
    "multiple_role",
)
STUDENT_KINDS = frozenset({"student", "archived_duplicate"})


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@frozen
class ReviewItem:
    """One decision to make: approve or reject ``approval_id``.

    ``left_id``/``right_id``: the two records side by side (archived and
    synced student; old and sync-created guardian account; archived student
    and the old guardian to detach; the two accounts of one adult).
    ``approval_id`` is what ``apply --approve`` takes: the archived id of a
    student merge, or the account step's approval id.
    """

    kind: ItemKind
    approval_id: str
    left_id: str
    right_id: str
    confidence: float | None
    reasons: tuple[str, ...] = field(converter=_tuple)
    record_hash: str
    competitors: tuple[Competitor, ...] = field(default=(), converter=_tuple)
    duplicates: tuple[str, ...] = field(default=(), converter=_tuple)
    merge: Merge | None = field(default=None, eq=False)
    #: For account steps: the fields that do not agree, as ``field level`` (ids only).
    differs: tuple[str, ...] = field(default=(), converter=_tuple)

    @property
    def reason(self) -> str:
        """The reasons without their numbers and ids: rows with the same ``reason`` are alike."""
        return "; ".join(sorted({reason_key(r) for r in self.reasons}))

    def sort_key(self) -> tuple[str, float, int, str]:
        return (
            self.reason,
            -1.0 if self.confidence is None else self.confidence,
            KINDS.index(self.kind),
            self.approval_id,
        )


_AGREE = frozenset({"missing", "exact", "same", "shared"})

_VARIABLE = (
    (re.compile(r"within -?[0-9.]+ bits"), "within N bits"),
    (re.compile(r"duplicate of archived .+?, which"), "duplicate of archived ..., which"),
)


def reason_key(reason: str) -> str:
    """``reason`` with its variable parts (bits, ids) replaced, to group and select by."""
    for pattern, replacement in _VARIABLE:
        reason = pattern.sub(replacement, reason)
    return reason


def student_hash_pair(merge: Merge) -> str:
    """The record hash of a student merge: both records' hashes as the plan recorded them."""
    return f"{merge.archived_hash}:{merge.synced_hash}"


def _digest(*parts: object) -> str:
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def review_items(plan: MergePlan) -> list[ReviewItem]:
    """Every review decision of ``plan``, sorted so that similar cases sit together."""
    items = [student_item(m) for m in plan.review]
    by_archived = {m.archived_id: m for m in plan.merges}

    def hashes_of(ids: Iterable[str]) -> list[str]:
        return [student_hash_pair(by_archived[a]) for a in ids if a in by_archived]

    def account_item(
        kind: ItemKind,
        key: str,
        left: str,
        right: str,
        ids: tuple[str, ...],
        v: GuardianMerge | GuardianFold,
    ) -> ReviewItem:
        levels = sorted((e.comparison, e.level) for e in v.evidence)
        return ReviewItem(
            kind, key, left, right, v.confidence, v.reasons,
            _digest(*ids, levels, sorted(v.students), hashes_of(a for a, _ in v.students)),
            differs=[f"{c.replace('_', ' ')} {lv}" for c, lv in levels if lv not in _AGREE],
        )  # fmt: skip

    items += [
        account_item("guardian_merge", guardian_key(gm.synced_guardian_id),
                     gm.archived_guardian_id, gm.synced_guardian_id,
                     (gm.archived_guardian_id, gm.synced_guardian_id), gm)
        for gm in plan.guardian_merges
        if gm.decision != "auto"
    ]  # fmt: skip
    items += [
        account_item("guardian_fold", fold_key(f.archived_guardian_id), f.archived_guardian_id,
                     f.into_guardian_id,
                     (f.archived_guardian_id, f.into_guardian_id, f.synced_guardian_id), f)
        for f in plan.guardian_folds
        if f.decision != "auto"
    ]  # fmt: skip
    for action in plan.guardian_actions:
        if action.action != "review":
            continue
        items.append(
            ReviewItem(
                "guardian_detach",
                f"detach:{action.student_id}:{action.guardian_id}",
                action.student_id,
                action.guardian_id,
                None,
                [action.reason],
                _digest(action.student_id, action.guardian_id, action.reason,
                        hashes_of([action.student_id])),
            )
        )  # fmt: skip
    for role in plan.role_links:
        if role.action != "review":
            continue
        items.append(
            ReviewItem(
                "multiple_role",
                f"role:{role.first_id}:{role.second_id}",
                role.first_id,
                role.second_id,
                None,
                [f"{role.kind.replace('_', '-')} accounts: {role.verdict.replace('_', ' ')}"],
                _digest(role.kind, role.first_id, role.second_id, role.verdict,
                        sorted(role.evidence), sorted(role.differs)),
                differs=[f"{f} different" for f in role.differs],
            )
        )  # fmt: skip
    return sorted(items, key=ReviewItem.sort_key)


def student_item(merge: Merge) -> ReviewItem:
    """The review item of a student merge marked ``review``."""
    return ReviewItem(
        "archived_duplicate" if merge.duplicates else "student",
        merge.archived_id,
        merge.archived_id,
        merge.synced_id,
        merge.confidence,
        merge.reasons,
        student_hash_pair(merge),
        merge.competitors,
        merge.duplicates,
        merge,
    )


def items_by_approval_id(plan: MergePlan) -> Mapping[str, ReviewItem]:
    return {item.approval_id: item for item in review_items(plan)}
