"""Applying a merge plan to a database: all-or-nothing per merge, journaled, audited.

Each merge moves the archived student's history rows and guardian links to
the synced student, marks the archived student merged, and writes a
journal entry (enough to undo it exactly) and an audit record, all in one
transaction. Merges are grouped into batches for speed; a batch is atomic,
so a crash leaves every merge either applied or not, and running apply
again finishes the job (applied merges are recognised and skipped).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Literal

import structlog
from attrs import field, frozen

from .exceptions import MergeEngineError, PlanError, StorageError, TransientConflict
from .plan import Merge, MergePlan
from .safety import check_safety, links_of_merged_siblings, refusal, siblings_by_synced
from .storage.base import (
    AuditRecord,
    GuardianLink,
    HistoryRow,
    HistoryTable,
    JournalEntry,
    RowKey,
    StorageAdapter,
    StoredStudent,
    Transaction,
)
from .storage.batched import BatchedTransaction, BatchFlushError, batched

__all__ = ["ApplyReport", "MergeOutcome", "apply_plan", "audit_history", "plan_fingerprint"]

log = structlog.get_logger(__name__)

Status = Literal[
    "applied", "already_applied", "stale", "skipped_review", "conflict", "failed", "undone",
    "not_applied",
]  # fmt: skip
Progress = Callable[[int, int], None]
#: Starts one attempt at a batch inside ``tx``: returns what to run on each of its merges.
#: The flag asks for one merge at a time (no batch-level reads or writes).
Work = Callable[[Transaction, Sequence[Merge], bool], "BatchRun"]

_STATUS_ORDER: tuple[Status, ...] = (
    "applied", "undone", "already_applied", "not_applied", "skipped_review", "stale",
    "conflict", "failed",
)  # fmt: skip
#: After this many merges fail in a row (nothing succeeding in between) the
#: database itself is probably unusable: stop instead of failing every merge.
MAX_CONSECUTIVE_FAILURES = 5


def _counts(value: Mapping[str, int]) -> dict[str, int]:
    return {k: int(v) for k, v in sorted(value.items()) if v}


def _outcomes(value: Iterable[MergeOutcome]) -> tuple[MergeOutcome, ...]:
    return tuple(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@frozen
class MergeOutcome:
    """What happened to one merge: ids, a status, a reason, and row counts (never PII).

    ``rows``: history rows moved (apply) or moved back (undo), per table.
    ``set_aside``: rows set aside on a unique-key collision (apply) or
    re-inserted (undo), per table. ``links``: guardian links added or
    removed. ``kept``: (undo) rows written to the synced student after the
    merge, which stay with it.
    """

    archived_id: str
    synced_id: str
    status: Status
    reason: str = ""
    rows: Mapping[str, int] = field(factory=dict, converter=_counts)
    set_aside: Mapping[str, int] = field(factory=dict, converter=_counts)
    links: int = 0
    kept: Mapping[str, int] = field(factory=dict, converter=_counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "archived_id": self.archived_id,
            "synced_id": self.synced_id,
            "status": self.status,
            "reason": self.reason,
            "rows": dict(self.rows),
            "set_aside": dict(self.set_aside),
            "links": self.links,
            "kept": dict(self.kept),
        }


def _sum(outcomes: Sequence[MergeOutcome], attr: str) -> dict[str, int]:
    total: Counter[str] = Counter()
    for o in outcomes:
        total.update(getattr(o, attr))
    return dict(sorted(total.items()))


@frozen
class ApplyReport:
    """The result of :func:`apply_plan` or :func:`undo_plan`, one outcome per merge considered."""

    action: Literal["apply", "undo"]
    plan_fingerprint: str
    outcomes: tuple[MergeOutcome, ...] = field(converter=_outcomes)
    dry_run: bool = False
    warnings: tuple[str, ...] = field(default=(), converter=_strings)
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        """Merges per status."""
        c = Counter(o.status for o in self.outcomes)
        return {s: c[s] for s in _STATUS_ORDER if c[s]}

    @property
    def rows(self) -> dict[str, int]:
        """History rows moved (apply) or moved back (undo), per table."""
        return _sum(self.outcomes, "rows")

    @property
    def set_aside(self) -> dict[str, int]:
        """Rows set aside on a collision (apply) or re-inserted (undo), per table."""
        return _sum(self.outcomes, "set_aside")

    @property
    def kept(self) -> dict[str, int]:
        """(undo) Rows written to synced students after their merge, left with them."""
        return _sum(self.outcomes, "kept")

    @property
    def links(self) -> int:
        return sum(o.links for o in self.outcomes)

    @property
    def ok(self) -> bool:
        """True when no merge failed or stayed in conflict."""
        return not any(o.status in ("failed", "conflict") for o in self.outcomes)

    def by_status(self, *statuses: Status) -> tuple[MergeOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status in statuses)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items()) or "nothing to do"
        dry = " (dry run)" if self.dry_run else ""
        return f"<ApplyReport {self.action} of plan {self.plan_fingerprint}{dry}: {counts}>"

    def summary(self, *, limit: int = 10) -> str:
        """A few readable lines: counts, rows, and the merges that were refused or failed."""
        verb = {"apply": "applied", "undo": "undone"}[self.action]
        done = self.counts.get(verb, 0)
        would = "would be " if self.dry_run else ""
        lines = [
            f"plan {self.plan_fingerprint}: {done} merges {would}{verb} "
            f"({', '.join(f'{n} {s}' for s, n in self.counts.items()) or 'nothing to do'})"
            f" in {self.seconds:.1f}s"
        ]
        moved = "moved back" if self.action == "undo" else "moved"
        if self.rows:
            lines.append(f"  history rows {moved}: {_fmt(self.rows)}")
        if self.set_aside:
            what = "re-inserted" if self.action == "undo" else "set aside on collisions (journaled)"
            lines.append(f"  rows {what}: {_fmt(self.set_aside)}")
        if self.links:
            lines.append(f"  guardian links {'removed' if self.action == 'undo' else 'added'}: "
                         f"{self.links}")  # fmt: skip
        if self.kept:
            lines.append(f"  rows written after the merge, kept on the synced student: "
                         f"{_fmt(self.kept)}")  # fmt: skip
        lines += [f"  warning: {w}" for w in self.warnings]
        notable = self.by_status("stale", "conflict", "failed")
        for o in notable[:limit]:
            lines.append(f"  {o.status}: {o.archived_id} -> {o.synced_id}: {o.reason}")
        if len(notable) > limit:
            lines.append(f"  ... {len(notable) - limit} more (see the report's outcomes)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "plan_fingerprint": self.plan_fingerprint,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "counts": self.counts,
            "rows": self.rows,
            "set_aside": self.set_aside,
            "links": self.links,
            "kept": self.kept,
            "warnings": list(self.warnings),
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


def _fmt(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{t} {n}" for t, n in counts.items())


def plan_fingerprint(plan: MergePlan) -> str:
    """A short stable id of the plan's inputs, used as the journal and audit key."""
    try:
        parts = (plan.fingerprint["archived"], plan.fingerprint["synced"])
    except KeyError as exc:
        raise PlanError(
            f"plan has no {exc.args[0]!r} fingerprint; re-create it with `merge-engine plan`"
        ) from exc
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _nothing() -> None:
    return None


@frozen
class BatchRun:
    """One attempt at a batch: ``step`` on each merge, then ``finish`` (sends buffered writes)."""

    step: Callable[[Merge], MergeOutcome]
    finish: Callable[[], None] = _nothing


def batch_run(
    tx: Transaction,
    fp: str,
    batch: Sequence[Merge],
    one_by_one: bool,
    run: Callable[[Transaction, StudentCache, Merge], MergeOutcome],
) -> BatchRun:
    """A batch attempt on ``tx``, through a :class:`BatchedTransaction` unless ``one_by_one``."""
    view = tx
    if not one_by_one:
        groups = [((m.archived_id, m.synced_id), (m.archived_id,)) for m in batch]
        view = batched(tx, fp, groups)
    cache = StudentCache(view, batch)
    finish = view.flush if isinstance(view, BatchedTransaction) else _nothing
    return BatchRun(lambda merge: run(view, cache, merge), finish)


class _Rollback(Exception):
    """Raised inside a dry run's transaction so the adapter rolls it back."""


def run_batches(
    storage: StorageAdapter,
    merges: Sequence[Merge],
    work: Work,
    *,
    batch_size: int,
    max_retries: int,
    commit: bool = True,
    progress: Progress | None = None,
) -> list[MergeOutcome]:
    """Run ``work`` on each merge, ``batch_size`` merges per transaction.

    A batch commits or rolls back as a whole, so each merge is all-or-nothing.
    A merge whose work raises is reported ``failed`` and the batch is rerun
    without it; :class:`TransientConflict` reruns the batch after a short
    backoff, up to ``max_retries`` times, then reports its merges ``conflict``.
    A failed batch-level read or write (:class:`BatchFlushError`) belongs to
    no single merge: the batch is rolled back and redone one merge at a time,
    which finds the merge at fault. With ``commit=False`` every batch is
    rolled back (a dry run).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    out: list[MergeOutcome] = []
    total = len(merges)
    consecutive = 0
    if progress:
        progress(0, total)
    for start in range(0, total, batch_size):
        pending = list(merges[start : start + batch_size])
        attempt = 0
        one_by_one = False
        while pending:
            done: list[MergeOutcome] = []
            current: Merge | None = None
            try:
                with storage.transaction() as tx:
                    run = work(tx, pending, one_by_one)
                    for current in pending:
                        done.append(run.step(current))
                    current = None
                    run.finish()
                    if not commit:
                        raise _Rollback
            except _Rollback:
                pass
            except BatchFlushError as exc:
                if one_by_one:  # pragma: no cover - one merge at a time uses no bulk methods
                    raise _storage_error(exc) from exc
                one_by_one = True
                cause = type(exc.__cause__).__name__ if exc.__cause__ else "BatchFlushError"
                log.info("batch_redone_one_by_one", merges=len(pending), error=cause)
                continue
            except TransientConflict:
                attempt += 1
                if attempt > max_retries:
                    reason = f"concurrent changes; gave up after {max_retries} retries"
                    out += [_outcome(m, "conflict", reason) for m in pending]
                    log.warning("batch_conflict", merges=len(pending), retries=max_retries)
                    break
                time.sleep(min(1.0, 0.02 * 2**attempt) * (0.5 + random.random()))
                continue
            except Exception as exc:
                if current is None:  # beginning or committing the transaction failed
                    raise _storage_error(exc) from exc
                consecutive = 0 if done else consecutive + 1
                out.append(_outcome(current, "failed", _describe(exc)))
                log.warning("merge_failed", archived=current.archived_id, error=type(exc).__name__)
                if consecutive >= MAX_CONSECUTIVE_FAILURES:
                    raise StorageError(
                        f"stopped after {consecutive} merges in a row failed (last: "
                        f"{_describe(exc)}); the database may be unavailable. Fix the cause "
                        "and run again: merges already applied are skipped."
                    ) from exc
                pending.remove(current)
                continue
            consecutive = 0
            out += done
            break
        if progress:
            progress(min(start + batch_size, total), total)
    return out


def _outcome(merge: Merge, status: Status, reason: str = "") -> MergeOutcome:
    return MergeOutcome(merge.archived_id, merge.synced_id, status, reason)


def _describe(exc: BaseException) -> str:
    """An error's message when it is ours (PII-free by contract), else only its type.

    Driver messages can quote row values (note text, names), so they stay out.
    """
    if isinstance(exc, MergeEngineError):
        return str(exc)
    code = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
    return f"{type(exc).__name__}" + (f" (SQLSTATE {code})" if code else "")


def _storage_error(exc: Exception) -> MergeEngineError:
    if isinstance(exc, MergeEngineError):
        return exc
    return StorageError(f"the database failed: {_describe(exc)}; nothing of this batch was kept")


def apply_plan(
    plan: MergePlan,
    storage: StorageAdapter,
    *,
    approved: Collection[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    batch_size: int = 500,
    max_retries: int = 5,
) -> ApplyReport:
    """Apply the plan's ``auto`` merges and the ``review`` merges listed in ``approved``.

    Args:
        plan: a plan from :func:`~merge_engine.build_plan` (or read from JSON).
        storage: the database to change.
        approved: archived ids of ``review`` merges a reviewer accepted.
        dry_run: compute exactly what would change, then roll it all back.
        force: apply even when the safety valve trips (see :mod:`merge_engine.safety`).
        progress: called with ``(done, total)`` after each batch.
        batch_size: merges per transaction.
        max_retries: reruns of a batch hit by a concurrent change.

    Returns:
        An :class:`ApplyReport` with one outcome per merge of the plan.

    Raises:
        SafetyValveError: the database looks wrong as a whole (unless ``force``).
        PlanError: ``approved`` names archived ids that are not review merges of the plan.
    """
    started = time.perf_counter()
    fp = plan_fingerprint(plan)
    approved_ids = frozenset(approved or ())
    review_ids = {m.archived_id for m in plan.review}
    unknown = sorted(approved_ids - review_ids - {m.archived_id for m in plan.auto})
    if unknown:
        raise PlanError(
            f"{len(unknown)} approved ids are not archived ids of this plan's merges "
            f"(first: {', '.join(unknown[:5])}); check the approval file"
        )
    chosen = [m for m in plan.merges if m.decision == "auto" or m.archived_id in approved_ids]
    skipped = [
        _outcome(m, "skipped_review", "needs review; not approved")
        for m in plan.merges
        if m.decision == "review" and m.archived_id not in approved_ids
    ]
    warnings = check_safety(
        plan, storage, fp, chosen, force=force, raise_on_trip=not dry_run, max_retries=max_retries
    )
    log.info("apply_started", plan=fp, merges=len(chosen), dry_run=dry_run)
    siblings = siblings_by_synced(chosen)

    def one(tx: Transaction, cache: StudentCache, merge: Merge) -> MergeOutcome:
        return _apply_one(tx, cache, fp, merge, siblings.get(merge.synced_id, ()))

    def work(tx: Transaction, batch: Sequence[Merge], one_by_one: bool) -> BatchRun:
        return batch_run(tx, fp, batch, one_by_one, one)

    outcomes = run_batches(
        storage,
        chosen,
        work,
        batch_size=len(chosen) or 1 if dry_run else batch_size,
        max_retries=max_retries,
        commit=not dry_run,
        progress=progress,
    )
    order = {m.archived_id: i for i, m in enumerate(plan.merges)}
    outcomes.sort(key=lambda o: order.get(o.archived_id, -1))
    report = ApplyReport(
        "apply", fp, [*outcomes, *skipped], dry_run, warnings, time.perf_counter() - started
    )
    log.info("apply_finished", plan=fp, dry_run=dry_run, **report.counts)
    return report


class StudentCache:
    """The students of a batch, read (and locked) with one query when the batch starts.

    Students a merge of the batch has changed are read again when asked for,
    so every decision sees the transaction's own writes.
    """

    def __init__(self, tx: Transaction, batch: Sequence[Merge]) -> None:
        self.tx = tx
        self.known = {m.archived_id for m in batch} | {m.synced_id for m in batch}
        self.stored = dict(tx.students(sorted(self.known))) if self.known else {}
        self.touched: set[str] = set()

    def get(self, *ids: str) -> dict[str, StoredStudent]:
        fresh = [i for i in ids if i in self.touched or i not in self.known]
        if fresh:
            found = self.tx.students(fresh)
            for i in fresh:
                self.stored.pop(i, None)
            self.stored.update(found)
            self.known.update(fresh)
            self.touched.difference_update(fresh)
        return {i: self.stored[i] for i in ids if i in self.stored}

    def touch(self, *ids: str) -> None:
        self.touched.update(ids)


def _apply_one(
    tx: Transaction, cache: StudentCache, fp: str, merge: Merge, siblings: Sequence[str]
) -> MergeOutcome:
    """Apply one merge inside ``tx``; every refusal is decided before the first write."""
    a, s = merge.archived_id, merge.synced_id
    stored = cache.get(a, s)
    entry = tx.journal(fp, a)
    if entry is not None and not entry.undone:
        if entry.synced_id == s:
            return _outcome(merge, "already_applied", "applied earlier by this plan")
        return _outcome(merge, "stale", f"this plan merged it into {entry.synced_id} earlier")
    arch = stored.get(a)
    if arch is not None and arch.merged_into == s:
        return _outcome(merge, "already_applied", "merged into the same student by another plan")
    reason = refusal(merge, stored, links_of_merged_siblings(tx, merge, siblings))
    if reason is not None:
        return _outcome(merge, "stale", reason)

    moved: dict[str, tuple[RowKey, ...]] = {}
    set_aside: list[HistoryRow] = []
    synced_before: dict[str, int] = {}
    for table in tx.history_tables():
        rows = tx.history_rows(table.name, a)
        synced_rows = tx.history_rows(table.name, s)
        synced_before[table.name] = len(synced_rows)
        if not rows:
            continue
        keys, aside, remove = _plan_table(table, rows, synced_rows)
        if remove:
            _expect(tx.remove_rows(table.name, remove), len(remove), "removed", table.name, a)
        if keys:
            _expect(tx.move_rows(table.name, keys, s), len(keys), "moved", table.name, a)
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


def _plan_table(
    table: HistoryTable, rows: Sequence[HistoryRow], synced_rows: Sequence[HistoryRow]
) -> tuple[list[RowKey], list[HistoryRow], list[RowKey]]:
    """Which archived rows move, which rows are set aside, and which keys to delete first."""
    if not table.unique:
        return [r.key for r in rows], [], []
    taken = {u: r for r in synced_rows if (u := unique_values(table, r)) is not None}
    keys: list[RowKey] = []
    aside: list[HistoryRow] = []
    remove: list[RowKey] = []
    for row in rows:
        other = taken.get(u) if (u := unique_values(table, row)) is not None else None
        if other is None:
            keys.append(row.key)
        elif table.survivor == "synced":
            aside.append(row)
            remove.append(row.key)
        else:
            aside.append(other)
            remove.append(other.key)
            keys.append(row.key)
    return keys, aside, remove


def unique_values(table: HistoryTable, row: HistoryRow) -> tuple[Any, ...] | None:
    """The row's values in the table's unique columns; ``None`` if any is NULL (never collides)."""
    values = tuple(row.values.get(c) for c in table.unique)
    return None if any(v is None for v in values) else values


def _expect(got: int, wanted: int, verb: str, table: str, student: str) -> None:
    if got != wanted:
        raise StorageError(
            f"{verb} {got} of {wanted} {table} rows of student {student}: the rows changed "
            "during the merge; it was rolled back"
        )


def audit_note(**parts: Mapping[str, int] | int) -> str:
    """``key=table:n,table:n; key=n`` (counts only): readable in history, parsed by undo."""
    out = []
    for key, value in parts.items():
        if isinstance(value, int):
            if value:
                out.append(f"{key}={value}")
        elif any(value.values()):
            counts = ",".join(f"{t}:{n}" for t, n in sorted(value.items()) if n)
            out.append(f"{key}={counts}")
    return "; ".join(out)


def parse_audit_note(note: str, key: str) -> dict[str, int]:
    """The per-table counts stored under ``key`` by :func:`audit_note` (empty if absent)."""
    for part in note.split(";"):
        name, _, value = part.strip().partition("=")
        if name == key:
            pairs = (item.rpartition(":") for item in value.split(",") if item)
            return {t: int(n) for t, _, n in pairs if n.isdigit()}
    return {}


def audit_history(storage: StorageAdapter) -> list[AuditRecord]:
    """Every apply and undo ever recorded in ``storage``, oldest first (ids and counts only)."""
    return list(storage.audit_records())
