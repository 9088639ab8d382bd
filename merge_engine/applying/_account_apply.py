"""Applying and undoing account steps, with the guarantees student merges have.

Every step decides all its refusals before its first write, writes a
journal entry that says exactly what it changed and an audit record (ids
and counts only), and runs in the same batches as student merges: all or
nothing per step, retried on concurrent changes, isolated when it fails.
Undo replays the journal backwards and refuses (``stale``) when the
accounts changed in a way it cannot restore.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import cast

import attrs

from ..exceptions import StorageError
from ..storage._base import (
    AccountTransaction,
    AuditRecord,
    GuardianLink,
    HistoryRow,
    JournalEntry,
    RowKey,
    StorageAdapter,
    Transaction,
)
from ..storage._batched_accounts import AccountBatch, account_batch
from ..storage.adapter import Capability, capabilities_of
from ._account_steps import AccountStep, guardian_key
from ._applying import (
    BatchRun,
    Progress,
    audit_note,
    expect_count,
    no_op,
    now_iso,
    outcome_of,
    plan_table,
    run_batches,
)
from ._report import MergeOutcome

__all__ = [
    "apply_step_in",
    "check_account_support",
    "final_account",
    "run_account_steps",
    "supports_accounts",
]

#: How many ``merged_into`` hops to follow to find the account that stays.
_MAX_CHAIN = 5


def supports_accounts(storage: StorageAdapter) -> bool:
    """True when the adapter's transactions declare ``Capability.ACCOUNTS``."""
    with storage.transaction() as tx:
        return Capability.ACCOUNTS in capabilities_of(tx)


def _accounts(tx: Transaction) -> AccountTransaction:
    """``tx`` as an account transaction, refused when it does not declare the capability."""
    if Capability.ACCOUNTS not in capabilities_of(tx):
        raise StorageError("this storage adapter cannot change guardian accounts")
    return cast(AccountTransaction, tx)


def check_account_support(storage: StorageAdapter) -> None:
    """Raise :class:`StorageError` before any write when the adapter cannot change accounts."""
    if not supports_accounts(storage):
        raise StorageError(
            "this storage adapter cannot change guardian accounts (its transactions do not "
            "declare Capability.ACCOUNTS); apply with accounts=False (CLI: --students-only) "
            "to apply the student merges alone"
        )


def run_account_steps(
    storage: StorageAdapter,
    fp: str,
    steps: Iterable[AccountStep],
    *,
    undo: bool,
    batch_size: int,
    max_retries: int,
    commit: bool = True,
    progress: Progress | None = None,
    total: int | None = None,
) -> list[MergeOutcome]:
    """Apply (or undo) ``steps`` in order, ``batch_size`` per transaction (``steps`` is read
    a batch at a time; ``total``, when it is not a sequence, is what progress counts to)."""
    one = _undo_step if undo else _apply_step

    def work(
        tx: Transaction, batch: Sequence[AccountStep], one_by_one: bool
    ) -> BatchRun[AccountStep]:
        acc = _accounts(tx)
        if one_by_one:
            return BatchRun(lambda step: one(acc, fp, step))
        keys = [s.archived_id for s in batch]
        keys += [a for s in batch if s.kind == "detach" for a, _ in s.students]
        guardians = [
            g for s in batch for g in (s.guardian_id, s.into_id, s.joins, *s.guardians) if g
        ]
        students = [x for s in batch for pair in s.students for x in pair]
        view = account_batch(acc, fp, keys, guardians, students)
        finish = view.flush if isinstance(view, AccountBatch) else no_op
        return BatchRun(lambda step: one(view, fp, step), finish)

    return run_batches(
        storage,
        steps,
        work,
        batch_size=batch_size,
        max_retries=max_retries,
        commit=commit,
        progress=progress,
        total=total,
    )


def apply_step_in(tx: Transaction, fp: str, step: AccountStep) -> MergeOutcome:
    """Apply one step inside an open transaction (a dry run's)."""
    return _apply_step(_accounts(tx), fp, step)


def _result(step: AccountStep, status: str, reason: str = "", **kw: object) -> MergeOutcome:
    return attrs.evolve(outcome_of(step, status, reason), **kw)  # type: ignore[arg-type]


# -- Apply ------------------------------------------------------------------------------------


def _apply_step(tx: AccountTransaction, fp: str, step: AccountStep) -> MergeOutcome:
    entry = tx.journal(fp, step.archived_id)
    apply = _APPLY[step.kind]
    return apply(tx, fp, step, None if entry is None or entry.undone else entry)


def final_account(tx: AccountTransaction, guardian_id: str) -> str | None:
    """The account ``guardian_id`` ends in after following merges (None: missing or a loop)."""
    current = guardian_id
    for _ in range(_MAX_CHAIN):
        stored = tx.guardians([current]).get(current)
        if stored is None:
            return None
        if stored.merged_into is None:
            return current
        current = stored.merged_into
    return None


def _apply_guardian_merge(
    tx: AccountTransaction, fp: str, step: AccountStep, entry: JournalEntry | None
) -> MergeOutcome:
    g = step.guardian_id
    stored = tx.guardians([g]).get(g)
    if stored is None:
        return _result(step, "stale", f"guardian account {g} no longer exists")
    into = final_account(tx, step.into_id)
    if into is None:
        return _result(step, "stale", f"guardian account {step.into_id} no longer exists")
    target = guardian_key(into)
    if entry is not None:
        if entry.synced_id == target and stored.merged_into == into:
            return _result(
                step, "already_applied", "applied earlier by this plan", synced_id=target
            )
        return _result(step, "stale", f"this plan merged it into {entry.synced_id} earlier")
    if stored.merged_into == into:
        return _result(step, "already_applied", "merged into the same account by another plan")
    if stored.merged_into is not None:
        return _result(step, "stale", f"already merged into guardian account {stored.merged_into}")
    if into == g:
        return _result(step, "stale", "both accounts are already one")
    if step.students:
        merged = tx.students([a for a, _ in step.students])
        if not any(a in merged and merged[a].merged_into == s for a, s in step.students):
            return _result(step, "skipped", "none of the student merges it rests on is applied")
    if step.kind == "guardian_fold" and final_account(tx, step.joins) != into:
        return _result(step, "skipped", "the guardian merge it joins is not applied")
    return _merge_account(tx, fp, step, into)


def _merge_account(tx: AccountTransaction, fp: str, step: AccountStep, into: str) -> MergeOutcome:
    """Merge ``step.guardian_id`` into ``into``: its links, its guardian history, its state."""
    g, target = step.guardian_id, guardian_key(into)
    # Every read before the first write (a batch view flushes on reading what it wrote).
    removed, added = _relink(tx.links_of_guardian(g), tx.links_of_guardian(into), into)
    plans = []
    for table in tx.guardian_history_tables():
        rows = tx.history_rows(table.name, g)
        if rows:
            plans.append((table, plan_table(table, rows, tx.history_rows(table.name, into))))
    for link in removed:
        tx.remove_guardian_link(link)
    for link in added:
        tx.add_guardian_link(link)
    moved: dict[str, tuple[RowKey, ...]] = {}
    set_aside: list[HistoryRow] = []
    for table, (keys, aside, remove) in plans:
        if remove:
            expect_count(tx.remove_rows(table.name, remove), len(remove), "removed", table.name, g)
        if keys:
            expect_count(tx.move_rows(table.name, keys, into), len(keys), "moved", table.name, g)
            moved[table.name] = tuple(keys)
        set_aside += aside
    tx.set_guardian_merged_into(g, into)
    counts = {t: len(k) for t, k in moved.items()}
    aside_counts = dict(Counter(r.table for r in set_aside))
    tx.write_journal(
        JournalEntry(fp, step.archived_id, target, moved, set_aside, added, links_removed=removed)
    )
    note = audit_note(set_aside=aside_counts, links=len(added), unlinked=len(removed))
    tx.write_audit(AuditRecord("apply", fp, step.archived_id, target, now_iso(), counts, note))
    return _result(
        step, "applied", synced_id=target, rows=counts, set_aside=aside_counts,
        links=sum(link.guardian_id == g for link in removed),  # its links, replaced ones aside
    )  # fmt: skip


def _relink(
    links: Sequence[GuardianLink], existing: Sequence[GuardianLink], into: str
) -> tuple[list[GuardianLink], list[GuardianLink]]:
    """The links a guardian merge removes and adds: each of ``links`` goes over to ``into``.

    The link to ``into`` takes the moved link's place (its position and
    relationship), so the guardian the SIS listed first stays first. When the
    student already has a link to ``into`` (usually one the student merge
    carried over from the archived record, after the sync's contacts), the
    one listed first wins: the existing link stays where it is when it comes
    first; otherwise it is replaced by the moved link. Without positions
    (a mapping with no order column) the existing link always stays.
    """
    have = {link.student_id: link for link in existing}
    removed: list[GuardianLink] = []
    added: list[GuardianLink] = []
    for link in links:
        removed.append(link)
        old = have.get(link.student_id)
        if old is not None:
            if link.order is None or old.order is None or old.order <= link.order:
                continue
            removed.append(old)
        added.append(GuardianLink(link.student_id, into, link.relationship, link.order))
    return removed, added


def _apply_detach(
    tx: AccountTransaction, fp: str, step: AccountStep, entry: JournalEntry | None
) -> MergeOutcome:
    if entry is not None:
        return _result(step, "already_applied", "applied earlier by this plan")
    ((archived_id, synced_id),) = step.students
    merge = tx.journal(fp, archived_id)
    if merge is None or merge.undone or merge.synced_id != synced_id:
        return _result(step, "skipped", "its student merge is not applied by this plan")
    # Only links the merge brought over: an old account the sync itself linked stays.
    brought = {link.guardian_id for link in merge.links_added}
    current = {link.guardian_id: link for link in tx.guardian_links(synced_id)}
    remove = [current[g] for g in step.guardians if g in brought and g in current]
    for link in remove:
        tx.remove_guardian_link(link)
    tx.write_journal(JournalEntry(fp, step.archived_id, synced_id, {}, links_removed=remove))
    kept = len(step.guardians) - len(remove)
    note = audit_note(unlinked=len(remove), kept=kept)
    tx.write_audit(AuditRecord("apply", fp, step.archived_id, synced_id, now_iso(), {}, note))
    reason = f"{kept} old accounts were not brought by the merge and stay" if kept else ""
    return _result(step, "applied", reason, links=len(remove))


def _apply_link(
    tx: AccountTransaction, fp: str, step: AccountStep, entry: JournalEntry | None
) -> MergeOutcome:
    link = step.link
    if link is None:  # pragma: no cover - account_steps always sets it
        raise StorageError("an account link step without its link")
    if entry is not None:
        return _result(step, "already_applied", "applied earlier by this plan")
    existing = {(a.kind, a.first_id, a.second_id) for a in tx.account_links(link.first_id)}
    if (link.kind, link.first_id, link.second_id) in existing:
        return _result(step, "already_applied", "the accounts were linked already")
    tx.add_account_link(link)
    tx.write_journal(JournalEntry(fp, step.archived_id, step.synced_id, {}, accounts_linked=[link]))
    tx.write_audit(
        AuditRecord("apply", fp, step.archived_id, step.synced_id, now_iso(), {}, "accounts=1")
    )
    return _result(step, "applied")


_APPLY: dict[
    str, Callable[[AccountTransaction, str, AccountStep, JournalEntry | None], MergeOutcome]
] = {
    "guardian_merge": _apply_guardian_merge,
    "guardian_fold": _apply_guardian_merge,
    "detach": _apply_detach,
    "account_link": _apply_link,
}


# -- Undo -------------------------------------------------------------------------------------


def _undo_step(tx: AccountTransaction, fp: str, step: AccountStep) -> MergeOutcome:
    entry = tx.journal(fp, step.archived_id)
    if entry is None or entry.undone:
        return _result(step, "not_applied", "not applied by this plan")
    merging = step.kind in ("guardian_merge", "guardian_fold")
    if merging:
        into = entry.synced_id.removeprefix("guardian:")
        stored = tx.guardians([step.guardian_id]).get(step.guardian_id)
        if stored is None or stored.merged_into != into:
            return _result(step, "stale", "the account's merge was changed since; undo by hand")
        if tx.guardians([into]).get(into) is None:
            return _result(step, "stale", f"guardian account {into} no longer exists")
    missing = _missing_students(tx, entry)
    if missing:
        return _result(step, "stale", f"student {missing} no longer exists; undo by hand")

    # Read every link it needs before writing (reads after a write would flush a batch).
    linked = {
        (link.student_id, gid)
        for gid in sorted({x.guardian_id for x in (*entry.links_added, *entry.links_removed)})
        for link in tx.links_of_guardian(gid)
    }
    to_remove = [x for x in entry.links_added if (x.student_id, x.guardian_id) in linked]
    gone = linked - {(x.student_id, x.guardian_id) for x in to_remove}
    # Each at its journaled position (a link the step replaced comes back where it was).
    to_restore = [x for x in entry.links_removed if (x.student_id, x.guardian_id) not in gone]
    for link in to_remove:
        tx.remove_guardian_link(link)
    for link in to_restore:
        tx.add_guardian_link(link)
    removed, restored = len(to_remove), len(to_restore)
    for account_link in entry.accounts_linked:
        tx.remove_account_link(account_link)
    counts: dict[str, int] = {}
    if merging:
        into = entry.synced_id.removeprefix("guardian:")
        for table, keys in entry.moved.items():
            here = {row.key for row in tx.history_rows(table, into)}
            back = [k for k in keys if tuple(k) in here]
            if back:
                moved = tx.move_rows(table, back, step.guardian_id)
                expect_count(moved, len(back), "moved back", table, step.guardian_id)
                counts[table] = len(back)
        if entry.set_aside:
            tx.insert_rows(entry.set_aside)
        tx.set_guardian_merged_into(step.guardian_id, None)
    aside_counts = dict(Counter(r.table for r in entry.set_aside))
    tx.write_journal(attrs.evolve(entry, undone=True))
    note = audit_note(
        set_aside=aside_counts,
        links=restored,
        unlinked=removed,
        accounts=len(entry.accounts_linked),
    )
    tx.write_audit(
        AuditRecord("undo", fp, entry.archived_id, entry.synced_id, now_iso(), counts, note)
    )
    return _result(
        step, "undone", synced_id=entry.synced_id, rows=counts, set_aside=aside_counts,
        links=removed + restored,
    )  # fmt: skip


def _missing_students(tx: Transaction, entry: JournalEntry) -> str | None:
    wanted = sorted({link.student_id for link in entry.links_removed})
    if not wanted:
        return None
    found = tx.students(wanted)
    return next((s for s in wanted if s not in found), None)
