"""Shared by the account-step tests: a district with guardian history, its plans, its state."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import attrs
import pytest
from apply_support import FAST, District, district, make_storage, memory_storage

from merge_engine import build_plan
from merge_engine.applying._apply import plan_fingerprint
from merge_engine.model import Roster
from merge_engine.plan import GuardianMerge, MergePlan
from merge_engine.storage import StorageAdapter
from merge_engine.storage._base import AccountTransaction

KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
N, SEED = 80, 5  # a district with two adults who each have two old accounts (folds)
STAMP = "2024-01-05T08:00:00+00:00"


def _guardian_rows(archived: Roster, synced: Roster) -> list[dict[str, Any]]:
    """Two messages for every old account, one for every sync-created one."""
    rows: list[dict[str, Any]] = []
    for roster, per in ((archived, 2), (synced, 1)):
        ids = sorted({c.guardian_id for s in roster.students for c in s.contacts})
        for gid in ids:
            for k in range(per):
                rows.append(
                    {"id": len(rows) + 1, "guardian_id": gid, "sent_at": STAMP, "body": f"m{k}"}
                )
    return rows


@functools.cache
def account_district(n: int = N, seed: int = SEED) -> District:
    d = district(n, seed)
    return attrs.evolve(
        d, rows={**d.rows, "guardian_messages": _guardian_rows(d.archived, d.synced)}
    )


@functools.cache
def plan_with(
    policy: str = "keep_old", unmatched: str = "keep", roles: str = "separate"
) -> MergePlan:
    storage = memory_storage(account_district())
    settings = attrs.evolve(
        FAST,
        guardian_policy=policy,
        unmatched_old_guardians=unmatched,
        multiple_role_policy=roles,
    )
    return build_plan(storage.read_roster("archived"), storage.read_roster("synced"), settings)


def fresh(kind: str, tmp_path: Path) -> StorageAdapter:
    return make_storage(kind, account_district(), tmp_path)


def account_state(storage: StorageAdapter, plan: MergePlan) -> dict[str, Any]:
    """Students' merge state, every guardian's merge state, links, guardian rows, account links."""
    d = account_district()
    guardians = sorted(
        {c.guardian_id for r in (d.archived, d.synced) for s in r.students for c in s.contacts}
    )
    staff = sorted(m.id for r in (d.archived, d.synced) for m in r.staff)
    with storage.transaction() as tx:
        assert isinstance(tx, AccountTransaction)
        ids = [s.id for r in (d.archived, d.synced) for s in r.students]
        students = {i: s.merged_into for i, s in tx.students(ids).items()}
        stored = {g: s.merged_into for g, s in tx.guardians(guardians).items()}
        links = sorted(  # with positions: undo restores the contact order too
            (x.student_id, x.guardian_id, x.relationship or "", -1 if x.order is None else x.order)
            for g in guardians
            for x in tx.links_of_guardian(g)
        )
        rows = sorted(
            (g, r.key[0], r.values["body"])
            for t in tx.guardian_history_tables()
            for g in guardians
            for r in tx.history_rows(t.name, g)
        )
        account_links = sorted(
            {(a.kind, a.first_id, a.second_id, a.mode) for x in guardians + staff
             for a in tx.account_links(x)}
        )  # fmt: skip
    return {
        "students": students,
        "guardians": stored,
        "links": links,
        "rows": rows,
        "account_links": account_links,
    }


def applied_merge(plan: MergePlan) -> GuardianMerge:
    """The first auto guardian merge resting on an auto student merge (applied with the plan)."""
    auto = {(m.archived_id, m.synced_id) for m in plan.auto}
    return next(
        g for g in plan.guardian_merges if g.decision == "auto" and auto.intersection(g.students)
    )


def journal_of(storage: StorageAdapter, plan: MergePlan, key: str) -> Any:
    with storage.transaction() as tx:
        return tx.journal(plan_fingerprint(plan), key)
