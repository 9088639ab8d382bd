"""Undoing applied merges from their journal, exactly, one merge per transaction unit.

The journal entry of a merge lists the rows it moved, the rows it set aside
on a unique-key collision (whole) and the guardian links it added, so undo
replays it backwards: moved rows that still point at the synced student go
back, rows set aside are re-inserted, added links are removed (revoking the
access the merge granted), and the archived student is un-merged. Rows
written to the synced student after the merge stay with it and are counted.
Rows written to the archived student after the merge and moved on by a
later re-run of apply (a sweep, see :mod:`merge_engine.applying._sweep`) are in the
same journal entry: they go back to the archived student, where they were.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

import attrs

from .._log import get_logger
from ..exceptions import PlanError
from ..plan import Merge, MergePlan
from ..plan_file import PlanFile, shared_targets
from ..storage._base import (
    AuditRecord,
    GuardianLink,
    HistoryRow,
    HistoryTable,
    JournalEntry,
    RowKey,
    StorageAdapter,
    Transaction,
)
from ._account_apply import run_account_steps, supports_accounts
from ._account_steps import AccountStep, approval_ids, iter_account_steps
from ._applying import (
    BatchRun,
    Progress,
    StudentCache,
    audit_note,
    batch_run,
    now_iso,
    plan_locked,
    retrying,
    run_batches,
    unique_values,
)
from ._applying import expect_count as _expect
from ._applying import outcome_of as _outcome
from ._audit import Applied, AppliedRecords
from ._journal import journaled_plan
from ._plans import Outcomes, PlanSource
from ._report import ApplyReport, MergeOutcome

__all__ = ["undo_plan", "undo_plan_id"]

log = get_logger(__name__)


def undo_plan(
    plan: MergePlan | PlanFile,
    storage: StorageAdapter,
    *,
    archived_ids: Collection[str] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    batch_size: int = 500,
    max_retries: int = 5,
    on_outcome: Callable[[MergeOutcome], None] | None = None,
    keep_outcomes: bool | None = None,
) -> ApplyReport:
    """Undo the merges this plan applied (all, or those of ``archived_ids``), newest first.

    A merge is refused (status ``stale``, nothing written) when undoing it
    would not restore what it changed: the archived student was un-merged or
    re-merged by someone else, the synced student was since merged into
    another (undo that chained merge first) or deleted, or a row the merge
    set aside can no longer be re-inserted because a newer row took its
    unique key. Merges never applied by this plan are ``not_applied``.
    The plan's account steps resting on the merges undone (guardian merges,
    detaches; with the whole plan, multiple-role links too) are undone first,
    under the same rules: a student merge is never undone under a guardian
    merge that rests on it. A :class:`~merge_engine.PlanFile` is read from
    its file a batch at a time (last merge first); ``on_outcome`` and
    ``keep_outcomes`` are as for :func:`~merge_engine.apply_plan`.

    Raises:
        PlanError: ``archived_ids`` names ids that are not merges of the plan.
        PlanLockedError: another apply or undo of this plan is running (not for a dry run).
    """
    source = PlanSource(plan)
    fp = source.fingerprint
    wanted = None if archived_ids is None else frozenset(archived_ids)
    total = source.count("merges")
    if wanted is not None:
        known = {m.archived_id for m in source.merges_where(lambda a, _: a in wanted)}
        unknown = sorted(wanted - known)
        if unknown:
            raise PlanError(
                f"{len(unknown)} ids are not archived ids of this plan's merges "
                f"(first: {', '.join(unknown[:5])})"
            )
        total = len(known)
    keep = isinstance(plan, MergePlan) if keep_outcomes is None else keep_outcomes
    with plan_locked(storage, fp, dry_run=dry_run):
        # An adapter without account methods cannot have applied account steps.
        has_accounts = retrying(lambda: supports_accounts(storage), max_retries)
        steps = _steps_to_undo(source, wanted) if has_accounts else []
        newest_first = (
            m for m in source.merges_backwards() if wanted is None or m.archived_id in wanted
        )
        return _undo(
            storage,
            fp,
            _Merges(newest_first, total, source.shared),
            steps,
            dry_run=dry_run,
            progress=progress,
            batch_size=batch_size,
            max_retries=max_retries,
            outcomes=Outcomes(keep_all=keep, on_outcome=on_outcome),
        )


def undo_plan_id(
    plan_id: str,
    storage: StorageAdapter,
    *,
    archived_ids: Collection[str] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    batch_size: int = 500,
    max_retries: int = 5,
    on_outcome: Callable[[MergeOutcome], None] | None = None,
    keep_outcomes: bool = True,
) -> ApplyReport:
    """:func:`undo_plan` without the plan file: the plan is rebuilt from the journal.

    ``plan_id`` is the plan's fingerprint, as ``merge-engine history`` lists
    it. Everything the plan applied and has not undone is undone, under the
    same rules and in the same order (account steps before the student
    merges they rest on); see :func:`merge_engine.applying._journal.journaled_plan`.

    Raises:
        PlanError: the database holds no record of this plan, or ``archived_ids``
            names merges the plan never applied.
        PlanLockedError: another apply or undo of this plan is running.
    """
    wanted = None if archived_ids is None else frozenset(archived_ids)
    with plan_locked(storage, plan_id, dry_run=dry_run):
        merges, steps = retrying(lambda: journaled_plan(storage, plan_id), max_retries)
        if not merges and not steps:
            raise PlanError(
                f"this database holds no merges of plan {plan_id}; "
                "`merge-engine history --plans` lists the plans applied to it"
            )
        if wanted is not None:
            unknown = sorted(wanted - {m.archived_id for m in merges})
            if unknown:
                raise PlanError(
                    f"{len(unknown)} ids are not archived ids of merges plan {plan_id} applied "
                    f"(first: {', '.join(unknown[:5])})"
                )
        chosen = [m for m in reversed(merges) if wanted is None or m.archived_id in wanted]
        return _undo(
            storage,
            plan_id,
            _Merges(chosen, len(chosen), shared_targets(merges)),
            _only_resting_on(steps, wanted)[::-1],
            dry_run=dry_run,
            progress=progress,
            batch_size=batch_size,
            max_retries=max_retries,
            outcomes=Outcomes(keep_all=keep_outcomes, on_outcome=on_outcome),
        )


@attrs.frozen
class _Merges:
    """The student merges to undo, newest first, how many, and the plan's siblings."""

    newest_first: Iterable[Merge]
    total: int
    siblings: Mapping[str, tuple[str, ...]]


def _undo(
    storage: StorageAdapter,
    fp: str,
    merges: _Merges,
    steps: Sequence[AccountStep],
    *,
    dry_run: bool,
    progress: Progress | None,
    batch_size: int,
    max_retries: int,
    outcomes: Outcomes,
) -> ApplyReport:
    """Undo ``steps`` (in the order given), then the student ``merges``."""
    started = time.perf_counter()
    siblings = merges.siblings
    applied = AppliedRecords(storage, fp, siblings, max_retries)
    log.info("undo_started", plan=fp, merges=merges.total, steps=len(steps), dry_run=dry_run)
    # Account steps rest on student merges: they are undone first.
    account_out = run_account_steps(
        storage,
        fp,
        steps,
        undo=True,
        batch_size=(len(steps) or 1) if dry_run else batch_size,
        max_retries=max_retries,
        commit=not dry_run,
    )

    # A student merge under an account step that is still applied stays (its links
    # moved on with the guardian merge); the outcome says what to undo first.
    still = {o.archived_id for o in account_out if o.status not in ("undone", "not_applied")}
    held = {
        a: step.archived_id for step in steps if step.archived_id in still for a, _ in step.students
    }

    def work(tx: Transaction, batch: Sequence[Merge], one_by_one: bool) -> BatchRun[Merge]:
        records = applied.of(tx, batch)

        def one(view: Transaction, cache: StudentCache, m: Merge) -> MergeOutcome:
            if m.archived_id in held:
                why = f"{held[m.archived_id]} rests on it and is still applied"
                return _outcome(m, "stale", why)
            return _undo_one(view, cache, fp, m, siblings.get(m.synced_id, ()), records)

        return batch_run(tx, fp, batch, one_by_one, one)

    run_batches(
        storage,
        merges.newest_first,
        work,
        batch_size=(merges.total or 1) if dry_run else batch_size,
        max_retries=max_retries,
        commit=not dry_run,
        progress=progress,
        total=merges.total,
        sink=outcomes.add,
    )
    report = outcomes.report(
        "undo",
        fp,
        dry_run=dry_run,
        warnings=(),
        seconds=time.perf_counter() - started,
        account_outcomes=account_out,
    )
    log.info(
        "undo_finished", plan=fp, dry_run=dry_run, accounts=report.account_counts, **report.counts
    )
    return report


def _steps_to_undo(source: PlanSource, wanted: frozenset[str] | None) -> list[AccountStep]:
    """Every account step the plan could have applied (review ones too), newest first.

    Undoing some students undoes the guardian merges and detaches resting on
    them; multiple-role links are undone only with the whole plan.
    """
    every = approval_ids(source.review_part)  # the review steps: those of the review part
    steps = list(iter_account_steps(source.step_parts(), every, []))
    return _only_resting_on(steps, wanted)[::-1]


def _only_resting_on(steps: list[AccountStep], wanted: frozenset[str] | None) -> list[AccountStep]:
    """The steps resting on the ``wanted`` student merges (all of them when ``None``)."""
    if wanted is None:
        return steps
    return [
        s for s in steps if s.kind != "account_link" and any(a in wanted for a, _ in s.students)
    ]


def _undo_one(
    tx: Transaction,
    cache: StudentCache,
    fp: str,
    merge: Merge,
    siblings: Sequence[str],
    applied: Mapping[str, Applied],
) -> MergeOutcome:
    """Undo one merge inside ``tx``; every refusal is decided before the first write."""
    a = merge.archived_id
    entry = tx.journal(fp, a)
    if entry is None:
        return _outcome(merge, "not_applied", "not applied by this plan")
    if entry.undone:
        return _outcome(merge, "not_applied", "already undone")
    s = entry.synced_id
    stored = cache.get(a, s)
    arch, sync = stored.get(a), stored.get(s)
    refused = None
    if arch is None:
        refused = f"archived student {a} no longer exists"
    elif arch.merged_into != s:
        refused = f"archived student {a} is no longer merged into {s} (now {arch.merged_into})"
    elif sync is None:
        refused = f"synced student {s} no longer exists; its rows cannot be returned"
    elif sync.merged_into is not None:
        refused = (
            f"synced student {s} has since been merged into {sync.merged_into}; "
            "undo that merge first"
        )
    if refused:
        return MergeOutcome(a, s, "stale", refused)

    tables = {t.name: t for t in tx.history_tables()}
    sib_entries = _sibling_entries(tx, fp, entry, siblings)
    mine = applied.get(a)
    later = [
        e for e in sib_entries
        if mine is not None and (o := applied.get(e.archived_id)) is not None
        and o.order > mine.order
    ]  # fmt: skip
    back: dict[str, list[RowKey]] = {}
    missing: Counter[str] = Counter()
    kept: dict[str, int] = {}
    blocked: Counter[str] = Counter()
    aside_by_table: dict[str, list[HistoryRow]] = {}
    for row in entry.set_aside:
        aside_by_table.setdefault(row.table, []).append(row)
    for name in sorted(set(tables) | set(entry.moved) | set(aside_by_table)):
        table = tables.get(name, HistoryTable(name))
        s_rows = tx.history_rows(name, s)
        present = {tuple(r.key) for r in s_rows}
        moved = [tuple(k) for k in entry.moved.get(name, ())]
        back[name] = [k for k in moved if k in present]
        missing[name] = len(moved) - len(back[name])
        going = set(back[name])
        staying = [r for r in s_rows if tuple(r.key) not in going]
        aside = aside_by_table.get(name, [])
        blocked[name] = _blocked(
            tx, table, a, s, aside, staying, [r for r in s_rows if tuple(r.key) in going]
        )
        if mine is not None and name in tables:
            restored_synced = sum(1 for r in aside if r.values.get(table.student_column) == s)
            from_later = sum(1 for e in later for k in e.moved.get(name, ()) if tuple(k) in present)
            kept[name] = max(
                0, len(staying) + restored_synced - mine.synced_rows.get(name, 0) - from_later
            )
    if sum(blocked.values()):
        what = ", ".join(f"{n} {t}" for t, n in sorted(blocked.items()) if n)
        return MergeOutcome(
            a, s, "stale",
            f"cannot re-insert rows the merge set aside ({what}): newer rows now hold their "
            "unique keys; remove those rows or keep the merge",
        )  # fmt: skip

    for name, keys in back.items():
        if keys:
            _expect(tx.move_rows(name, keys, a), len(keys), "moved back", name, s)
    if entry.set_aside:
        tx.insert_rows(list(entry.set_aside))
    removed = _return_links(tx, entry, sib_entries)
    tx.set_merged_into(a, None)
    cache.touch(a, s)
    tx.write_journal(attrs.evolve(entry, undone=True))
    rows = {t: len(k) for t, k in back.items() if k}
    aside_counts = dict(Counter(r.table for r in entry.set_aside))
    tx.write_audit(
        AuditRecord(
            "undo", fp, a, s, now_iso(), rows,
            note=audit_note(reinserted=aside_counts, links_removed=removed, kept=kept,
                            missing=dict(missing)),
        )
    )  # fmt: skip
    reason = ""
    if sum(missing.values()):
        lost = ", ".join(f"{n} {t}" for t, n in sorted(missing.items()) if n)
        reason = f"{lost} rows moved by the merge were deleted from the synced student since"
    return MergeOutcome(a, s, "undone", reason, rows, aside_counts, removed, kept)


def _blocked(
    tx: Transaction,
    table: HistoryTable,
    a: str,
    s: str,
    aside: Sequence[HistoryRow],
    staying: Sequence[HistoryRow],
    returning: Sequence[HistoryRow],
) -> int:
    """How many set-aside rows would collide, on the table's unique key, with rows then present."""
    if not table.unique or not aside:
        return 0
    col = table.student_column
    taken: dict[str, set[tuple[object, ...]]] = {s: set(), a: set()}
    for r in staying:
        if (u := unique_values(table, r)) is not None:
            taken[s].add(u)
    archived_rows = [*tx.history_rows(table.name, a), *returning]
    for r in archived_rows:
        if (u := unique_values(table, r)) is not None:
            taken[a].add(u)
    return sum(
        1
        for r in aside
        if (u := unique_values(table, r)) is not None
        and u in taken.get(str(r.values.get(col)), set())
    )


def _sibling_entries(
    tx: Transaction, fp: str, entry: JournalEntry, siblings: Sequence[str]
) -> list[JournalEntry]:
    """Applied journal entries of this plan's other merges into the same synced student."""
    out = []
    for other in siblings:
        if other == entry.archived_id:
            continue
        e = tx.journal(fp, other)
        if e is not None and not e.undone and e.synced_id == entry.synced_id:
            out.append(e)
    return out


def _return_links(tx: Transaction, entry: JournalEntry, sib_entries: Sequence[JournalEntry]) -> int:
    """Remove the links the merge added, unless a still-merged duplicate brought the same one.

    Such a link is handed over to that duplicate's journal entry instead, so
    undoing the duplicate later removes it: access granted by a merge is
    revoked by the undo of the last merge that needs it.
    """
    present = {link.guardian_id for link in tx.guardian_links(entry.synced_id)}
    heirs: dict[str, set[str]] = {
        e.archived_id: {link.guardian_id for link in tx.guardian_links(e.archived_id)}
        for e in sib_entries
    }
    handed: dict[str, list[GuardianLink]] = {}
    removed = 0
    for link in entry.links_added:
        if link.guardian_id not in present:
            continue
        heir = next((e for e in sib_entries if link.guardian_id in heirs[e.archived_id]), None)
        if heir is not None:
            handed.setdefault(heir.archived_id, []).append(link)
        else:
            tx.remove_guardian_link(link)
            removed += 1
    for heir in sib_entries:
        if heir.archived_id in handed:
            tx.write_journal(
                attrs.evolve(heir, links_added=(*heir.links_added, *handed[heir.archived_id]))
            )
    return removed
