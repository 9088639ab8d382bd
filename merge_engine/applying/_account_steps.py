"""A plan's account steps: guardian merges, old-guardian detaches and multiple-role links.

The plan decides (:mod:`merge_engine.accounts._guardians`, :mod:`merge_engine.accounts._roles`);
this module turns its decisions into steps that apply and undo like
student merges: each step is one journal entry and one audit record, and
runs after the student merges it depends on. Journal keys are namespaced
so they never collide with a student id:

- ``guardian:<id>``: the sync-created account ``<id>`` merged into the old
  one (its links and guardian history move there; it is marked merged);
- ``fold:<id>``: an adult's second old account ``<id>`` merged into the old
  account their guardian merge keeps, the same way, after that merge and
  only when it is applied;
- ``detach:<archived student id>``: old guardian links that a student
  merge brought to the synced student, removed by the district's policy;
- ``link:<kind>:<first id>:<second id>``: two accounts of one adult linked.

A reviewer approves a ``review`` step by listing its approval id with the
archived student ids: ``guardian:<synced guardian id>``, ``fold:<old guardian id>``,
``detach:<archived student id>:<guardian id>`` or ``role:<first id>:<second id>``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol

from attrs import field, frozen

from ..plan import GuardianAction, GuardianFold, GuardianMerge, MergePlan, RoleLink
from ..storage._base import AccountLink
from ._report import MergeOutcome

__all__ = [
    "AccountStep",
    "StepParts",
    "account_step_lines",
    "account_steps",
    "approval_ids",
    "explain_account_steps",
    "fold_key",
    "is_account_key",
    "iter_account_steps",
    "role_policy",
]

ACCOUNT_KEY_PREFIXES = ("guardian:", "fold:", "detach:", "link:")

StepKind = Literal["guardian_merge", "guardian_fold", "detach", "account_link"]
_ROLE_MODES: Mapping[str, Literal["link", "merge"]] = {"link": "link", "merge": "merge"}


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@frozen
class AccountStep:
    """One account change: ``archived_id`` is its journal key, ``synced_id`` its target.

    ``guardian_id``/``into_id``: a guardian merge's or fold's accounts
    (merged away, kept). ``students``: the student merges ``(archived,
    synced)`` it rests on; at least one must be applied (a fold's are its own
    and those of the guardian merge it joins). ``guardians``: a detach's old
    accounts. ``joins``: a fold's sync-created account, which must have been
    merged into ``into_id``.
    """

    kind: StepKind
    archived_id: str
    synced_id: str
    guardian_id: str = ""
    into_id: str = ""
    students: tuple[tuple[str, str], ...] = field(default=(), converter=_tuple)
    guardians: tuple[str, ...] = field(default=(), converter=_tuple)
    link: AccountLink | None = None
    joins: str = ""


def is_account_key(key: str) -> bool:
    """True for the journal and audit ids of account steps (not student ids)."""
    return key.startswith(ACCOUNT_KEY_PREFIXES)


def guardian_key(guardian_id: str) -> str:
    return f"guardian:{guardian_id}"


def fold_key(guardian_id: str) -> str:
    return f"fold:{guardian_id}"


class AccountSections(Protocol):
    """A plan's account steps, as a :class:`~merge_engine.MergePlan` holds them (or a plan
    being written, section by section)."""

    @property
    def guardian_merges(self) -> Sequence[GuardianMerge]: ...
    @property
    def guardian_folds(self) -> Sequence[GuardianFold]: ...
    @property
    def guardian_actions(self) -> Sequence[GuardianAction]: ...
    @property
    def role_links(self) -> Sequence[RoleLink]: ...


def approval_ids(plan: AccountSections) -> frozenset[str]:
    """Every id a reviewer may approve beyond archived student ids (the plan's review steps)."""
    ids = {guardian_key(g.synced_guardian_id) for g in plan.guardian_merges if g.decision != "auto"}
    ids |= {fold_key(f.archived_guardian_id) for f in plan.guardian_folds if f.decision != "auto"}
    ids |= {
        f"detach:{a.student_id}:{a.guardian_id}"
        for a in plan.guardian_actions
        if a.action == "review"
    }
    ids |= {f"role:{r.first_id}:{r.second_id}" for r in plan.role_links if r.action == "review"}
    return frozenset(ids)


@frozen
class StepParts:
    """What the account steps are made from, each list read once, in plan order.

    ``guardian_merges`` and ``role_links`` may be iterators read from the plan
    file (a 150k plan has 100,000 guardian merges: they are never held);
    ``guardian_folds`` is held (a few per thousand students). ``synced_of``
    maps the archived student of each guardian action to its synced student.
    """

    guardian_merges: Iterable[GuardianMerge]
    guardian_folds: Sequence[GuardianFold]
    role_links: Iterable[RoleLink]
    guardian_actions: Iterable[GuardianAction]
    synced_of: Mapping[str, str]
    policy: str

    @classmethod
    def of(cls, plan: MergePlan) -> StepParts:
        """The parts of a plan held in memory."""
        return cls(
            plan.guardian_merges,
            plan.guardian_folds,
            plan.role_links,
            plan.guardian_actions,
            {m.archived_id: m.synced_id for m in plan.merges},
            role_policy(plan.settings),
        )


def role_policy(settings: Mapping[str, Any]) -> str:
    """The plan's choice for a multiple-role link approved in review ("separate" keeps
    the accounts apart)."""
    return str(settings.get("multiple_role_policy", "separate"))


def account_steps(
    plan: MergePlan, approved: Collection[str] = ()
) -> tuple[list[AccountStep], list[MergeOutcome]]:
    """The steps to run, in order, and the review steps left out because nobody approved them."""
    skipped: list[MergeOutcome] = []
    steps = list(iter_account_steps(StepParts.of(plan), approved, skipped))
    return steps, skipped


def iter_account_steps(
    parts: StepParts, approved: Collection[str], skipped: list[MergeOutcome]
) -> Iterator[AccountStep]:
    """:func:`account_steps` one step at a time: the review steps left out are appended to
    ``skipped`` as they are met (all of them once the iterator is exhausted)."""
    # A fold's students include those of the guardian merge it joins: those merges are
    # remembered as they go by (only the ones a fold joins).
    folds = parts.guardian_folds
    wanted = {(f.into_guardian_id, f.synced_guardian_id) for f in folds}
    joined: dict[tuple[str, str], GuardianMerge] = {}
    for gm in parts.guardian_merges:
        pair = (gm.archived_guardian_id, gm.synced_guardian_id)
        if pair in wanted:
            joined[pair] = gm
        key = guardian_key(gm.synced_guardian_id)
        target = guardian_key(gm.archived_guardian_id)
        if gm.decision != "auto" and key not in approved:
            skipped.append(_skip("guardian_merge", key, target))
            continue
        yield AccountStep(
            "guardian_merge",
            key,
            target,
            guardian_id=gm.synced_guardian_id,
            into_id=gm.archived_guardian_id,
            students=gm.students,
        )

    yield from _fold_steps(folds, joined, approved, skipped)

    links: list[AccountStep] = []
    for role in parts.role_links:
        role_action: str = role.action
        if role_action == "review":
            approval = f"role:{role.first_id}:{role.second_id}"
            if approval not in approved:
                skipped.append(_skip("account_link", approval, role.second_id))
                continue
            role_action = parts.policy  # the district's choice; "separate" keeps them apart
        mode = _ROLE_MODES.get(role_action)
        if mode is None:  # keep_apart / report: nothing to change
            continue
        if mode == "merge" and role.kind == "guardian_guardian":
            # One account per person: the second account joins the first (lower id).
            yield AccountStep(
                "guardian_merge",
                guardian_key(role.second_id),
                guardian_key(role.first_id),
                guardian_id=role.second_id,
                into_id=role.first_id,
            )
            continue
        link = AccountLink(role.kind, role.first_id, role.second_id, mode)
        key = f"link:{role.kind}:{role.first_id}:{role.second_id}"
        links.append(AccountStep("account_link", key, role.second_id, link=link))

    synced_of = parts.synced_of
    detach: dict[str, list[str]] = {}
    for action in parts.guardian_actions:
        if action.action == "detach":
            detach.setdefault(action.student_id, []).append(action.guardian_id)
        elif action.action == "review":
            approval = f"detach:{action.student_id}:{action.guardian_id}"
            if approval in approved:
                detach.setdefault(action.student_id, []).append(action.guardian_id)
            else:
                skipped.append(_skip("detach", approval, synced_of.get(action.student_id, "")))
    for student_id, guardians in detach.items():
        synced_id = synced_of.get(student_id)
        if synced_id is None:  # a hand-edited plan: nothing merged this student
            continue
        yield AccountStep(
            "detach",
            f"detach:{student_id}",
            synced_id,
            students=[(student_id, synced_id)],
            guardians=sorted(set(guardians)),
        )
    yield from links


def _fold_steps(
    folds: Iterable[GuardianFold],
    joined: Mapping[tuple[str, str], GuardianMerge],
    approved: Collection[str],
    skipped: list[MergeOutcome],
) -> Iterator[AccountStep]:
    """The folds of second old accounts, after the guardian merges they join."""
    for fold in folds:
        key = fold_key(fold.archived_guardian_id)
        target = guardian_key(fold.into_guardian_id)
        if fold.decision != "auto" and key not in approved:
            skipped.append(_skip("guardian_fold", key, target))
            continue
        merge = joined.get((fold.into_guardian_id, fold.synced_guardian_id))
        students = sorted({*fold.students, *(merge.students if merge is not None else ())})
        yield AccountStep(
            "guardian_fold",
            key,
            target,
            guardian_id=fold.archived_guardian_id,
            into_id=fold.into_guardian_id,
            students=students,
            joins=fold.synced_guardian_id,
        )


def _skip(kind: StepKind, key: str, target: str) -> MergeOutcome:
    return MergeOutcome(key, target, "skipped_review", "needs review; not approved", kind=kind)


def explain_account_steps(plan: MergePlan, *, review_only: bool = False) -> list[str]:
    """Readable lines for a reviewer: each step's ids, decision, evidence and approval id.

    Ids, levels and numbers only, like the plan itself: no names or contact details.
    """
    steps = account_step_lines(
        plan.guardian_merges,
        plan.guardian_actions,
        plan.role_links,
        guardian_folds=plan.guardian_folds,
        review_only=review_only,
    )
    return [line for step in steps for line in step]


def account_step_lines(
    guardian_merges: Iterable[GuardianMerge],
    guardian_actions: Iterable[GuardianAction],
    role_links: Iterable[RoleLink],
    *,
    guardian_folds: Iterable[GuardianFold] = (),
    review_only: bool = False,
) -> Iterator[list[str]]:
    """The lines of :func:`explain_account_steps`, one list per step, as the steps are read."""
    for gm in guardian_merges:
        if review_only and gm.decision == "auto":
            continue
        approval = "" if gm.decision == "auto" else f"  [approve: guardian:{gm.synced_guardian_id}]"
        lines = [
            f"guardian merge {gm.synced_guardian_id} -> {gm.archived_guardian_id}: {gm.decision} "
            f"(confidence {gm.confidence:.4f}){approval}"
        ]
        lines += [f"  {e.comparison:<12} {e.level:<16} {e.bits:+6.2f}" for e in gm.evidence]
        lines += [f"  review: {r}" for r in gm.reasons]
        yield lines
    for fold in guardian_folds:
        if review_only and fold.decision == "auto":
            continue
        approval = (
            "" if fold.decision == "auto" else f"  [approve: fold:{fold.archived_guardian_id}]"
        )
        lines = [
            f"guardian fold {fold.archived_guardian_id} -> {fold.into_guardian_id} "
            f"(both {fold.synced_guardian_id}): {fold.decision} "
            f"(confidence {fold.confidence:.4f}){approval}"
        ]
        lines += [f"  {e.comparison:<12} {e.level:<16} {e.bits:+6.2f}" for e in fold.evidence]
        lines += [f"  review: {r}" for r in fold.reasons]
        yield lines
    for action in guardian_actions:
        if action.action in ("keep",) or (review_only and action.action != "review"):
            continue
        approval = (
            f"  [approve: detach:{action.student_id}:{action.guardian_id}]"
            if action.action == "review"
            else ""
        )
        yield [
            f"old guardian {action.guardian_id} of {action.student_id}: {action.action} "
            f"({action.reason}){approval}"
        ]
    for role in role_links:
        if review_only and role.action != "review":
            continue
        approval = (
            f"  [approve: role:{role.first_id}:{role.second_id}]" if role.action == "review" else ""
        )
        differs = ", ".join(role.differs) or "nothing"
        yield [
            f"{role.kind.replace('_', '-')} {role.first_id} ~ {role.second_id}: {role.verdict}, "
            f"{role.action}; differs: {differs}{approval}"
        ]
