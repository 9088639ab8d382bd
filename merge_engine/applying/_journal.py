"""The plans a database remembers: summaries for ``history`` and plans rebuilt for undo.

Every applied merge and account step leaves a journal entry and an audit
record keyed by the plan's id (its fingerprint). That is enough to list
the applied plans and to undo one without its plan file, which may have
been lost or overwritten: :func:`journaled_plan` rebuilds what undo needs
(which merges and account steps, in which order) from those records alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

import attrs
from attrs import frozen

from ..plan import Merge
from ..storage._base import (
    AuditRecord,
    BulkTransaction,
    JournalEntry,
    StorageAdapter,
    Transaction,
)
from ..storage.adapter import Capability, capabilities_of
from ._account_steps import AccountStep, is_account_key

__all__ = ["PlanSummary", "journaled_plan", "plan_summaries"]

_CHUNK = 5000


@frozen
class PlanSummary:
    """One plan as the audit log knows it: ids, counts and times only.

    ``applied``/``undone``: apply and undo records of student merges;
    ``still_applied``: student merges whose latest record is an apply.
    ``steps_applied``/``steps_still_applied``: the same for account steps.
    """

    plan_id: str
    applied: int
    undone: int
    still_applied: int
    steps_applied: int
    steps_undone: int
    steps_still_applied: int
    first_at: str
    last_at: str

    def to_dict(self) -> dict[str, object]:
        return {
            "plan_id": self.plan_id,
            "applied": self.applied,
            "undone": self.undone,
            "still_applied": self.still_applied,
            "steps_applied": self.steps_applied,
            "steps_undone": self.steps_undone,
            "steps_still_applied": self.steps_still_applied,
            "first_at": self.first_at,
            "last_at": self.last_at,
        }


def plan_summaries(records: Iterable[AuditRecord]) -> list[PlanSummary]:
    """A summary per plan found in ``records`` (oldest first), in order of first record."""
    order: list[str] = []
    by_plan: dict[str, list[AuditRecord]] = {}
    for r in records:
        if r.plan_fingerprint not in by_plan:
            order.append(r.plan_fingerprint)
        by_plan.setdefault(r.plan_fingerprint, []).append(r)
    out = []
    for fp in order:
        rs = by_plan[fp]
        latest = {r.archived_id: r.action for r in rs}
        step = [is_account_key(r.archived_id) for r in rs]
        out.append(
            PlanSummary(
                fp,
                applied=sum(r.action == "apply" and not s for r, s in zip(rs, step, strict=True)),
                undone=sum(r.action == "undo" and not s for r, s in zip(rs, step, strict=True)),
                still_applied=sum(
                    a == "apply" and not is_account_key(k) for k, a in latest.items()
                ),
                steps_applied=sum(r.action == "apply" and s for r, s in zip(rs, step, strict=True)),
                steps_undone=sum(r.action == "undo" and s for r, s in zip(rs, step, strict=True)),
                steps_still_applied=sum(
                    a == "apply" and is_account_key(k) for k, a in latest.items()
                ),
                first_at=rs[0].at,
                last_at=rs[-1].at,
            )
        )
    return out


def journaled_plan(storage: StorageAdapter, plan_id: str) -> tuple[list[Merge], list[AccountStep]]:
    """The student merges and account steps plan ``plan_id`` applied, in the order it applied them.

    Read from the audit log (which keys, in which order) and the journal
    (what each one did). A guardian merge is taken to rest on the plan's
    student merges into the students whose links it moved, so undo keeps
    such a merge while the guardian merge stays applied, as it does with
    the plan file.
    """
    keys: dict[str, None] = {}
    for r in storage.audit_records():
        if r.plan_fingerprint == plan_id and r.action == "apply":
            keys.setdefault(r.archived_id, None)
    students = [k for k in keys if not is_account_key(k)]
    with storage.transaction() as tx:
        synced_of: dict[str, str] = {}
        for start in range(0, len(students), _CHUNK):  # a chunk of entries in memory at a time
            found = _entries(tx, plan_id, students[start : start + _CHUNK])
            synced_of.update((a, e.synced_id) for a, e in found.items())
        merges = [
            Merge(
                archived_id=a,
                synced_id=synced_of[a],
                confidence=1.0,
                decision="auto",
                match_weight=0.0,
                margin_bits=None,
                evidence=(),
            )
            for a in students
            if a in synced_of
        ]
        del synced_of
        into: dict[str, list[str]] = {}
        for m in merges:
            into.setdefault(m.synced_id, []).append(m.archived_id)
        entries = _entries(tx, plan_id, [k for k in keys if is_account_key(k)])
        account_keys = [k for k in keys if is_account_key(k) and k in entries]
        rests = {
            k: [(a, s) for s in _linked(entries[k]) for a in into.get(s, ())]
            for k in account_keys
            if k.startswith(("guardian:", "fold:"))
        }
        links = _links(tx, sorted({a for pairs in rests.values() for a, _ in pairs}))
    steps = [_step(k, entries[k], rests.get(k, []), links) for k in account_keys]
    return merges, _fold_rests(steps)


def _fold_rests(steps: list[AccountStep]) -> list[AccountStep]:
    """A fold also rests on the student merges of the guardian merge it joins (into one account)."""
    by_target: dict[str, set[tuple[str, str]]] = {}
    for step in steps:
        if step.kind == "guardian_merge":
            by_target.setdefault(step.synced_id, set()).update(step.students)
    return [
        attrs.evolve(step, students=sorted({*step.students, *by_target.get(step.synced_id, ())}))
        if step.kind == "guardian_fold"
        else step
        for step in steps
    ]


def _linked(entry: JournalEntry) -> list[str]:
    """The students a guardian merge moved links of (those of the sync-created account)."""
    return sorted({link.student_id for link in entry.links_removed})


def _step(
    key: str,
    entry: JournalEntry,
    candidates: list[tuple[str, str]],
    links: dict[str, set[str]],
) -> AccountStep:
    if key.startswith("guardian:"):
        kept = entry.synced_id.removeprefix("guardian:")
        return AccountStep(
            "guardian_merge",
            key,
            entry.synced_id,
            guardian_id=key.removeprefix("guardian:"),
            into_id=kept,
            # The student merges it met on: the old account on the archived student,
            # the sync-created one on the synced student (as the planner pairs them).
            students=[(a, s) for a, s in candidates if kept in links.get(a, set())],
        )
    if key.startswith("fold:"):
        folded = key.removeprefix("fold:")
        return AccountStep(
            "guardian_fold",
            key,
            entry.synced_id,
            guardian_id=folded,
            into_id=entry.synced_id.removeprefix("guardian:"),
            # Its own student merges: the folded account on the archived student.
            students=[(a, s) for a, s in candidates if folded in links.get(a, set())],
        )
    if key.startswith("detach:"):
        return AccountStep(
            "detach",
            key,
            entry.synced_id,
            students=[(key.removeprefix("detach:"), entry.synced_id)],
        )
    link = entry.accounts_linked[0] if entry.accounts_linked else None
    return AccountStep("account_link", key, entry.synced_id, link=link)


def _reads_in_bulk(tx: Transaction) -> bool:
    return Capability.BULK_READS in capabilities_of(tx)


def _links(tx: Transaction, student_ids: Sequence[str]) -> dict[str, set[str]]:
    """The guardian ids linked to each of ``student_ids``."""
    bulk = cast(BulkTransaction, tx).guardian_links_many if _reads_in_bulk(tx) else None
    out: dict[str, set[str]] = {}
    for start in range(0, len(student_ids), _CHUNK):
        chunk = student_ids[start : start + _CHUNK]
        found = bulk(chunk) if bulk is not None else {i: tx.guardian_links(i) for i in chunk}
        for sid, items in found.items():
            out[str(sid)] = {link.guardian_id for link in items}
    return out


def _entries(tx: Transaction, plan_id: str, keys: Sequence[str]) -> dict[str, JournalEntry]:
    bulk = cast(BulkTransaction, tx).journals if _reads_in_bulk(tx) else None
    found: dict[str, JournalEntry] = {}
    if bulk is not None:
        for start in range(0, len(keys), _CHUNK):
            found.update(bulk(plan_id, keys[start : start + _CHUNK]))
        return found
    for key in keys:
        entry = tx.journal(plan_id, key)
        if entry is not None:
            found[key] = entry
    return found
