"""Applying a merge plan to a database: all-or-nothing per merge, journaled, audited.

Each merge moves the archived student's history rows and guardian links to
the synced student, marks the archived student merged, and writes a
journal entry (enough to undo it exactly) and an audit record, all in one
transaction. Merges are grouped into batches for speed; a batch is atomic,
so a crash leaves every merge either applied or not, and running apply
again finishes the job (applied merges are recognised and skipped). The
plan's account steps (guardian merges, detaches, multiple-role links; see
:mod:`merge_engine.applying._account_steps`) run after the student merges, the same way.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence

from .._log import get_logger
from ..exceptions import PlanError
from ..plan import APPLICABLE_VERSION, Merge, MergePlan
from ..plan_file import PlanFile
from ..storage._base import (
    AuditRecord,
    GuardianLink,
    HistoryRow,
    JournalEntry,
    RowKey,
    StorageAdapter,
    Transaction,
)
from ._account_apply import apply_step_in, check_account_support, run_account_steps
from ._account_steps import AccountStep, approval_ids, iter_account_steps
from ._applying import (
    BatchRun,
    Progress,
    StudentCache,
    audit_note,
    batch_run,
    describe_error,
    expect_count,
    now_iso,
    outcome_of,
    plan_fingerprint,
    plan_locked,
    plan_table,
    retrying,
    run_batches,
)
from ._audit import OtherPlans
from ._plans import Outcomes, PlanSource
from ._report import ApplyReport, MergeOutcome
from ._safety import check_safety, links_of_merged_siblings, refusal
from ._sweep import sweep_late_rows

__all__ = ["ApplyReport", "MergeOutcome", "apply_plan", "audit_history", "plan_fingerprint"]

log = get_logger(__name__)


def apply_plan(
    plan: MergePlan | PlanFile,
    storage: StorageAdapter,
    *,
    approved: Collection[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    accounts: bool = True,
    progress: Progress | None = None,
    batch_size: int = 500,
    max_retries: int = 5,
    on_outcome: Callable[[MergeOutcome], None] | None = None,
    keep_outcomes: bool | None = None,
    check_progress: Progress | None = None,
) -> ApplyReport:
    """Apply the plan's ``auto`` merges and the ``review`` merges listed in ``approved``.

    Then its account steps (guardian merges, detaches of old guardians,
    multiple-role links), ``auto`` ones and approved ``review`` ones.

    Args:
        plan: a plan from :func:`~merge_engine.build_plan` (or read from JSON), or a
            :class:`~merge_engine.PlanFile`, whose merges are then read from the file a
            batch at a time (memory does not grow with the number of merges).
        storage: the database to change.
        approved: archived ids of ``review`` merges a reviewer accepted, and
            approval ids of review account steps (see :mod:`merge_engine.applying._account_steps`).
        dry_run: compute exactly what would change, then roll it all back.
        force: apply even when the safety valve trips (see :mod:`merge_engine.applying._safety`).
        accounts: also run the account steps (needs an adapter with
            :class:`~merge_engine.storage.AccountTransaction`).
        progress: called with ``(done, total)`` after each batch.
        check_progress: called with ``(checked, total)`` while the safety valve reads the
            merges to apply and their students, before the first batch (on a
            million merges, minutes).
        batch_size: merges per transaction.
        max_retries: reruns of a batch hit by a concurrent change.
        on_outcome: called with each student merge's outcome, in plan order (the
            applied ones, then the review merges left out).
        keep_outcomes: whether the report keeps every student merge's outcome, or only
            the notable ones (stale, conflict, failed, swept; the others are counted).
            Default: every one for a :class:`~merge_engine.MergePlan`, the notable ones
            for a :class:`~merge_engine.PlanFile`.

    Returns:
        An :class:`ApplyReport` with the outcomes of the plan's merges and one
        per account step.

    Raises:
        PlanError: the plan was read without an integrity digest or is of an old schema.
        SafetyValveError: the database looks wrong as a whole (unless ``force``).
        PlanError: ``approved`` names ids that are not merges or review steps of the plan.
        StorageError: the plan has account steps and the adapter cannot run them.
        PlanLockedError: another apply or undo of this plan is running (not for a dry run).
    """
    source = PlanSource(plan)
    keep = isinstance(plan, MergePlan) if keep_outcomes is None else keep_outcomes
    with plan_locked(storage, source.fingerprint, dry_run=dry_run):
        return _apply_plan(
            source,
            storage,
            approved=approved,
            dry_run=dry_run,
            force=force,
            accounts=accounts,
            progress=progress,
            batch_size=batch_size,
            max_retries=max_retries,
            outcomes=Outcomes(keep_all=keep, on_outcome=on_outcome),
            check_progress=check_progress,
        )


def _apply_plan(
    plan: PlanSource,
    storage: StorageAdapter,
    *,
    approved: Collection[str] | None,
    dry_run: bool,
    force: bool,
    accounts: bool,
    progress: Progress | None,
    batch_size: int,
    max_retries: int,
    outcomes: Outcomes,
    check_progress: Progress | None = None,
) -> ApplyReport:
    """:func:`apply_plan` once the plan's lock is held."""
    started = time.perf_counter()
    check_integrity(plan)
    fp = plan.fingerprint
    approved_ids = frozenset(approved or ())
    review = plan.review_part
    _check_approved(plan, review, approved_ids)
    chosen_review = sum(m.archived_id in approved_ids for m in review.review)
    skipped = [
        outcome_of(m, "skipped_review", "needs review; not approved")
        for m in review.review
        if m.archived_id not in approved_ids
    ]
    # The account steps are counted in a first pass over the plan's account sections and
    # made again, a batch at a time, when they run: never all in memory.
    skipped_steps: list[MergeOutcome] = []
    n_steps = 0
    if accounts:
        n_steps = sum(1 for _ in iter_account_steps(plan.step_parts(), approved_ids, skipped_steps))

    def steps() -> Iterator[AccountStep]:
        return iter_account_steps(plan.step_parts(), approved_ids, [])

    if n_steps:
        retrying(lambda: check_account_support(storage), max_retries)

    def chosen() -> Iterator[Merge]:
        return plan.merges_where(lambda a, decision: decision == "auto" or a in approved_ids)

    n_chosen = plan.count("auto") + chosen_review
    siblings = plan.shared

    def checked(done: int) -> None:
        if check_progress:
            check_progress(done, n_chosen)

    warnings = check_safety(
        plan, storage, fp, chosen(), force=force, raise_on_trip=not dry_run,
        max_retries=max_retries, checked=checked,
    )  # fmt: skip
    log.info("apply_started", plan=fp, merges=n_chosen, steps=n_steps, dry_run=dry_run)
    # Merges of other plans, whose journal entries a sweep of late history extends.
    others = OtherPlans(storage, fp, max_retries)
    total = n_chosen + n_steps
    account_out: list[MergeOutcome] = []

    def work(tx: Transaction, batch: Sequence[Merge], one_by_one: bool) -> BatchRun[Merge]:
        merged_by = others.of(tx, batch)

        def one(view: Transaction, cache: StudentCache, merge: Merge) -> MergeOutcome:
            return _apply_one(view, cache, fp, merge, siblings.get(merge.synced_id, ()), merged_by)

        run = batch_run(tx, fp, batch, one_by_one, one)
        if not dry_run or not n_steps:
            return run

        def finish() -> None:  # a dry run sees its account steps in the same transaction
            run.finish()
            account_out[:] = _dry_run_steps(tx, fp, steps())

        return BatchRun(run.step, finish)

    def student_progress(done: int, _: int) -> None:
        if progress:
            progress(done, total)

    def step_progress(done: int, _: int) -> None:
        if progress:
            progress(n_chosen + done, total)

    run_batches(
        storage,
        chosen(),
        work,
        batch_size=n_chosen or 1 if dry_run else batch_size,
        max_retries=max_retries,
        commit=not dry_run,
        progress=student_progress,
        total=n_chosen,
        sink=outcomes.add,
    )
    outcomes.add(skipped)
    if n_steps and (not dry_run or not n_chosen):
        account_out = run_account_steps(
            storage,
            fp,
            steps(),
            undo=False,
            total=n_steps,
            batch_size=n_steps if dry_run else batch_size,
            max_retries=max_retries,
            commit=not dry_run,
            progress=step_progress,
        )
    report = outcomes.report(
        "apply",
        fp,
        dry_run=dry_run,
        warnings=warnings,
        seconds=time.perf_counter() - started,
        account_outcomes=[*account_out, *skipped_steps],
    )
    log.info(
        "apply_finished", plan=fp, dry_run=dry_run, accounts=report.account_counts, **report.counts
    )
    return report


def _check_approved(plan: PlanSource, review: MergePlan, approved: frozenset[str]) -> None:
    """Refuse approvals of ids that are neither merges of the plan nor its review steps."""
    unknown = approved - {m.archived_id for m in review.merges} - approval_ids(review)
    if unknown and not plan.in_memory:  # approved auto merges: looked for in the file
        unknown -= {m.archived_id for m in plan.merges_where(lambda a, _: a in unknown)}
    if unknown:
        first = sorted(unknown)
        raise PlanError(
            f"{len(first)} approved ids are not archived ids of this plan's merges nor ids of "
            f"its review steps (first: {', '.join(first[:5])}); check the approval file"
        )


def check_integrity(plan: MergePlan | PlanFile | PlanSource) -> None:
    """Refuse a plan that apply cannot trust, before anything is read or written."""
    if not plan.verified:
        raise PlanError(
            "the plan has no integrity digest (it was written by an older merge-engine, or the "
            "digest was removed), so hand edits cannot be ruled out; re-create it with "
            "`merge-engine plan`"
        )
    if plan.schema_version < APPLICABLE_VERSION:
        raise PlanError(
            f"the plan has schema version {plan.schema_version}; re-create it with "
            "`merge-engine plan` to apply it (undo still reads it)"
        )


def _dry_run_steps(tx: Transaction, fp: str, steps: Iterable[AccountStep]) -> list[MergeOutcome]:
    """The account steps' outcomes inside a dry run's transaction (rolled back afterwards).

    A step that raises leaves the transaction unusable on some databases, so
    the steps after it are reported as not evaluated.
    """
    out: list[MergeOutcome] = []
    rest = iter(steps)
    for step in rest:
        try:
            out.append(apply_step_in(tx, fp, step))
        except Exception as exc:
            out.append(outcome_of(step, "failed", describe_error(exc)))
            out += [
                outcome_of(s, "failed", "not evaluated: an earlier step failed in this dry run")
                for s in rest
            ]
            break
    return out


def _apply_one(
    tx: Transaction,
    cache: StudentCache,
    fp: str,
    merge: Merge,
    siblings: Sequence[str],
    merged_by: Mapping[str, tuple[str, str]],
) -> MergeOutcome:
    """Apply one merge inside ``tx``; every refusal is decided before the first write."""
    a, s = merge.archived_id, merge.synced_id
    stored = cache.get(a, s)
    entry = tx.journal(fp, a)
    arch = stored.get(a)
    if entry is not None and not entry.undone:
        if entry.synced_id == s:  # a forwarding address: late history moves on
            return sweep_late_rows(tx, merge, entry, arch, "applied earlier by this plan")
        return outcome_of(merge, "stale", f"this plan merged it into {entry.synced_id} earlier")
    if arch is not None and arch.merged_into == s:
        theirs = merged_by.get(a)
        other = tx.journal(theirs[0], a) if theirs and theirs[1] == s else None
        why = "merged into the same student by another plan"
        return sweep_late_rows(tx, merge, other, arch, why)
    reason = refusal(merge, stored, links_of_merged_siblings(tx, merge, siblings), cache.accounts)
    if reason is not None:
        return outcome_of(merge, "stale", reason)

    moved: dict[str, tuple[RowKey, ...]] = {}
    set_aside: list[HistoryRow] = []
    synced_before: dict[str, int] = {}
    for table in tx.history_tables():
        rows = tx.history_rows(table.name, a)
        synced_rows = tx.history_rows(table.name, s)
        synced_before[table.name] = len(synced_rows)
        if not rows:
            continue
        keys, aside, remove = plan_table(table, rows, synced_rows)
        if remove:
            expect_count(tx.remove_rows(table.name, remove), len(remove), "removed", table.name, a)
        if keys:
            expect_count(tx.move_rows(table.name, keys, s), len(keys), "moved", table.name, a)
            moved[table.name] = tuple(keys)
        set_aside += aside
    have = {link.guardian_id for link in tx.guardian_links(s)}
    links = [
        GuardianLink(s, link.guardian_id, link.relationship)
        for link in tx.guardian_links(a)
        if link.guardian_id not in have
    ]
    for link in links:
        tx.add_guardian_link(link)
    tx.set_merged_into(a, s)
    cache.touch(a, s)
    tx.write_journal(JournalEntry(fp, a, s, moved, set_aside, links))
    counts = {t: len(k) for t, k in moved.items()}
    aside_counts = dict(Counter(r.table for r in set_aside))
    tx.write_audit(
        AuditRecord(
            "apply", fp, a, s, now_iso(), counts,
            note=audit_note(set_aside=aside_counts, links=len(links), synced_rows=synced_before),
        )
    )  # fmt: skip
    return MergeOutcome(a, s, "applied", "", counts, aside_counts, len(links))


def audit_history(storage: StorageAdapter) -> list[AuditRecord]:
    """Every apply and undo ever recorded in ``storage``, oldest first (ids and counts only)."""
    return list(storage.audit_records())
