"""A reviewer's decisions: which review items are approved and which rejected.

Written by ``review import`` and ``review approve-rule``, read by
``apply --decisions`` (the approvals) and ``plan --decisions`` (the
rejections: a rejected pair is never proposed again, and the plan says
so in its warnings and stats). Each decision keeps the item's record hash,
so it is only used while the records are the ones the reviewer saw.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
from attrs import field, frozen

from ..exceptions import PlanError
from ..plan import MergePlan
from ._items import STUDENT_KINDS, ReviewItem, review_items

__all__ = [
    "Decision",
    "Decisions",
    "approvals_for",
    "check_one_child_per_record",
    "rejected_pairs",
    "without_rejected",
]

FORMAT = "merge-engine-decisions"
VERSION = 1
Verdict = Literal["approve", "reject"]


@frozen
class Decision:
    """One reviewed item; ``line`` is where it was decided (0 when decided by rule)."""

    verdict: Verdict
    kind: str
    approval_id: str
    left_id: str
    right_id: str
    record_hash: str
    line: int = 0

    @classmethod
    def of(cls, item: ReviewItem, verdict: Verdict, line: int = 0) -> Decision:
        return cls(
            verdict, item.kind, item.approval_id, item.left_id, item.right_id,
            item.record_hash, line,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "approval_id": self.approval_id,
            "left_id": self.left_id,
            "right_id": self.right_id,
            "record_hash": self.record_hash,
            "line": self.line,
        }


def _sorted(value: Iterable[Decision]) -> tuple[Decision, ...]:
    return tuple(sorted(value, key=lambda d: (d.kind, d.approval_id)))


@frozen
class Decisions:
    """The decisions made on one plan (``plan_id``), from ``source`` (a sheet or a rule)."""

    plan_id: str
    source: str
    approved: tuple[Decision, ...] = field(converter=_sorted)
    rejected: tuple[Decision, ...] = field(converter=_sorted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "plan_id": self.plan_id,
            "source": self.source,
            "approved": [d.to_dict() for d in self.approved],
            "rejected": [d.to_dict() for d in self.rejected],
        }

    def write(self, path: str | Path) -> None:
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"
        Path(path).write_text(text, encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path) -> Decisions:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise PlanError(f"{path}: cannot read decisions ({exc.strerror})") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PlanError(f"{path}: not a decisions file ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise PlanError(
                f"{path}: not a decisions file; write one with `merge-engine review import` "
                "or `merge-engine review approve-rule`"
            )
        if data.get("version") != VERSION:
            raise PlanError(f"{path}: decisions version {data.get('version')!r} is not supported")
        try:
            return cls(
                str(data["plan_id"]),
                str(data.get("source", "")),
                [_decision("approve", d) for d in data["approved"]],
                [_decision("reject", d) for d in data["rejected"]],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanError(f"{path}: malformed decisions file ({exc!r})") from exc

    def merged(self, other: Decisions) -> Decisions:
        """Both sets of decisions (for several files); a later file does not undo an earlier."""
        return Decisions(
            self.plan_id,
            f"{self.source}, {other.source}",
            [*self.approved, *other.approved],
            [*self.rejected, *other.rejected],
        )


def _decision(verdict: Verdict, data: Mapping[str, Any]) -> Decision:
    return Decision(
        verdict,
        str(data["kind"]),
        str(data["approval_id"]),
        str(data["left_id"]),
        str(data["right_id"]),
        str(data["record_hash"]),
        int(data.get("line", 0)),
    )


def approvals_for(plan: MergePlan, decisions: Sequence[Decisions]) -> frozenset[str]:
    """The approval ids (for :func:`~merge_engine.apply_plan`) decided in ``decisions``.

    Raises:
        PlanError: an approval is not a review item of ``plan``, its records
            changed since it was decided, or an item is both approved and
            rejected. Nothing is applied then.
    """
    items = {i.approval_id: i for i in review_items(plan)}
    approved: set[str] = set()
    problems: list[str] = []
    rejected = {d.approval_id for ds in decisions for d in ds.rejected}
    for ds in decisions:
        for d in ds.approved:
            where = f"{ds.source}{f' line {d.line}' if d.line else ''}"
            item = items.get(d.approval_id)
            if item is None or (item.left_id, item.right_id) != (d.left_id, d.right_id):
                problems.append(f"{where}: {d.approval_id} is not a review item of this plan")
            elif item.record_hash != d.record_hash:
                problems.append(
                    f"{where}: the records of {d.approval_id} changed since it was decided"
                )
            elif d.approval_id in rejected:
                problems.append(f"{where}: {d.approval_id} is both approved and rejected")
            else:
                approved.add(d.approval_id)
    if problems:
        raise PlanError(
            f"{len(problems)} decisions cannot be used with this plan (nothing was applied): "
            + "; ".join(problems[:10])
            + ". Export the review sheet from this plan and decide those rows again"
        )
    return frozenset(approved)


def check_one_child_per_record(plan: MergePlan, approved: Collection[str]) -> list[list[str]]:
    """Groups of archived ids that would go into one synced student but are not one child.

    The plan's merges into one synced student are the archived records of one
    child (its ``duplicates``); approving two records onto one synced
    student that the plan does not call duplicates of each other would merge
    two children. Returns each offending group (empty when all is well).
    """
    chosen = [m for m in plan.merges if m.decision == "auto" or m.archived_id in approved]
    groups: dict[str, list[str]] = {}
    linked: dict[str, set[str]] = {}
    for m in chosen:
        groups.setdefault(m.synced_id, []).append(m.archived_id)
        for d in m.duplicates:
            linked.setdefault(m.archived_id, set()).add(d)
            linked.setdefault(d, set()).add(m.archived_id)
    bad = []
    for ids in groups.values():
        if len(ids) > 1 and not _connected(ids, linked):
            bad.append(sorted(ids))
    return sorted(bad)


def _connected(ids: Sequence[str], linked: Mapping[str, set[str]]) -> bool:
    wanted = set(ids)
    seen = {ids[0]}
    todo = [ids[0]]
    while todo:
        for other in linked.get(todo.pop(), ()):
            if other in wanted and other not in seen:
                seen.add(other)
                todo.append(other)
    return seen == wanted


def rejected_pairs(decisions: Sequence[Decisions]) -> set[tuple[str, str]]:
    """The (archived id, synced id) student pairs a reviewer rejected, for
    :func:`merge_engine.build_plan`'s ``rejected``: planning then leaves them out before
    the assignment, so the archived record may still go to its next best candidate."""
    return {
        (d.left_id, d.right_id) for ds in decisions for d in ds.rejected if d.kind in STUDENT_KINDS
    }


def without_rejected(plan: MergePlan, decisions: Sequence[Decisions]) -> MergePlan:
    """``plan`` without the pairs and steps a reviewer rejected, each named in its warnings.

    A rejected student pair is dropped whatever its decision now (the
    archived record is listed as unmatched, and its synced student too when
    nothing else goes into it); account steps resting only on it go with it.
    A rejected guardian merge or detach is dropped (the accounts stay as
    they are); a rejected multiple-role pair is kept apart.
    """
    rejected = [d for ds in decisions for d in ds.rejected]
    pairs = {(d.left_id, d.right_id) for d in rejected if d.kind in STUDENT_KINDS}
    ids = {d.approval_id for d in rejected if d.kind not in STUDENT_KINDS}
    dropped = [m for m in plan.merges if (m.archived_id, m.synced_id) in pairs]
    if not pairs and not ids:
        return plan
    gone = {m.archived_id for m in dropped}
    merges = [m for m in plan.merges if m.archived_id not in gone]
    targets = {m.synced_id for m in merges}
    kept_pairs = {(m.archived_id, m.synced_id) for m in merges}
    guardian_merges = [
        g for g in plan.guardian_merges
        if f"guardian:{g.synced_guardian_id}" not in ids
        and (not g.students or any(p in kept_pairs for p in g.students))
    ]  # fmt: skip
    # A fold goes with the guardian merge it joins.
    joined = {(g.archived_guardian_id, g.synced_guardian_id) for g in guardian_merges}
    folds = [
        f for f in plan.guardian_folds
        if f"fold:{f.archived_guardian_id}" not in ids
        and (f.into_guardian_id, f.synced_guardian_id) in joined
        and (not f.students or any(p in kept_pairs for p in f.students))
    ]  # fmt: skip
    actions = [
        a for a in plan.guardian_actions
        if a.student_id not in gone and f"detach:{a.student_id}:{a.guardian_id}" not in ids
    ]  # fmt: skip
    roles = [
        attrs.evolve(r, action="keep_apart") if f"role:{r.first_id}:{r.second_id}" in ids else r
        for r in plan.role_links
    ]
    notes = [_note(f"rejected by a reviewer, not proposed: {a} -> {s}") for a, s in sorted(pairs)]
    found = (
        {f"guardian:{g.synced_guardian_id}" for g in plan.guardian_merges}
        | {f"fold:{f.archived_guardian_id}" for f in plan.guardian_folds}
        | {f"detach:{a.student_id}:{a.guardian_id}" for a in plan.guardian_actions}
        | {f"role:{r.first_id}:{r.second_id}" for r in plan.role_links}
    )
    notes += [_note(f"rejected by a reviewer, not proposed: {i}") for i in sorted(ids & found)]
    stats = {
        **plan.stats,
        "rejected_by_review": {
            "student_pairs": len(pairs),
            "account_steps": len(ids & found),
        },
    }
    return attrs.evolve(
        plan,
        merges=merges,
        unmatched_archived=sorted({*plan.unmatched_archived, *gone}),
        unmatched_synced=sorted(
            {*plan.unmatched_synced, *(m.synced_id for m in dropped if m.synced_id not in targets)}
        ),
        warnings=[*plan.warnings, *notes],
        stats=stats,
        guardian_merges=guardian_merges,
        guardian_folds=folds,
        guardian_actions=actions,
        role_links=roles,
    )


def _note(message: str) -> dict[str, object]:
    return {"path": None, "line": None, "column": None, "message": message}
