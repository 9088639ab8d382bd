"""The machinery shared by apply, undo and the account steps: batches, journal keys, row rules.

Work runs in batches of units (student merges or account steps), one
database transaction per batch, with retries on concurrent changes and a
one-at-a-time rerun that isolates the unit at fault (see :func:`run_batches`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, Generic, Protocol, TypeVar, cast

from attrs import frozen

from .._log import get_logger
from ..exceptions import MergeEngineError, PlanError, StorageError, TransientConflict
from ..plan import Merge
from ..storage._base import (
    HistoryRow,
    HistoryTable,
    PlanLocking,
    RowKey,
    StorageAdapter,
    StoredStudent,
    Transaction,
)
from ..storage._batched import BatchedTransaction, BatchFlushError, batched
from ..storage.adapter import Capability, capabilities_of
from ._report import MergeOutcome, OutcomeKind, Status

log = get_logger("merge_engine.applying._apply")


class Unit(Protocol):
    """What a batch is made of: a student merge or an account step."""

    @property
    def archived_id(self) -> str: ...

    @property
    def synced_id(self) -> str: ...


T = TypeVar("T")
U = TypeVar("U", bound=Unit)
U_contra = TypeVar("U_contra", bound=Unit, contravariant=True)

Progress = Callable[[int, int], None]
MAX_CONSECUTIVE_FAILURES = 5


class _Fingerprinted(Protocol):
    """A plan, its file, or a plan being written: anything that knows its fingerprint."""

    @property
    def fingerprint(self) -> Mapping[str, str]: ...


def plan_fingerprint(plan: _Fingerprinted) -> str:
    """A short stable id of the plan's inputs, used as the journal and audit key."""
    try:
        parts = (plan.fingerprint["archived"], plan.fingerprint["synced"])
    except KeyError as exc:
        raise PlanError(
            f"plan has no {exc.args[0]!r} fingerprint; re-create it with `merge-engine plan`"
        ) from exc
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@contextlib.contextmanager
def plan_locked(storage: StorageAdapter, fp: str, *, dry_run: bool = False) -> Iterator[None]:
    """Hold the plan's lock (``Capability.PLAN_LOCK``) for a whole apply or undo.

    A dry run writes nothing, so it takes no lock and is never refused by one.
    Adapters without the lock run unlocked.
    """
    if dry_run or Capability.PLAN_LOCK not in capabilities_of(storage):
        yield
        return
    with cast(PlanLocking, storage).plan_lock(fp):
        yield


def backoff(attempt: int) -> None:
    """Sleep before retry ``attempt`` (1-based): exponential, jittered, at most ~1.5 s."""
    time.sleep(min(1.0, 0.02 * 2**attempt) * (0.5 + random.random()))


def retrying(read: Callable[[], T], max_retries: int) -> T:
    """``read()``, rerun after a backoff while it raises :class:`TransientConflict`.

    For the reads outside batches (the safety check, undo's audit records):
    a deadlock there is as harmless to retry as in a batch.
    """
    attempt = 0
    while True:
        try:
            return read()
        except TransientConflict as exc:
            attempt += 1
            if attempt > max_retries:
                raise TransientConflict(
                    f"{exc} (still after {max_retries} retries; nothing was written): "
                    "run the command again when the other changes are done"
                ) from exc
            log.info("read_retried", attempt=attempt)
            backoff(attempt)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def no_op() -> None:
    return None


@frozen
class BatchRun(Generic[U_contra]):
    """One attempt at a batch: ``step`` on each unit, then ``finish`` (sends buffered writes)."""

    step: Callable[[U_contra], MergeOutcome]
    finish: Callable[[], None] = no_op


#: Starts one attempt at a batch inside ``tx``: returns what to run on each of its units.
#: The flag asks for one unit at a time (no batch-level reads or writes).
Work = Callable[[Transaction, Sequence[U], bool], BatchRun[U]]


def batch_run(
    tx: Transaction,
    fp: str,
    batch: Sequence[Merge],
    one_by_one: bool,
    run: Callable[[Transaction, StudentCache, Merge], MergeOutcome],
) -> BatchRun[Merge]:
    """A batch attempt on ``tx``, through a :class:`BatchedTransaction` unless ``one_by_one``."""
    view = tx
    if not one_by_one:
        groups = [((m.archived_id, m.synced_id), (m.archived_id,)) for m in batch]
        view = batched(tx, fp, groups)
    cache = StudentCache(view, batch, accounts=tx)
    finish = view.flush if isinstance(view, BatchedTransaction) else no_op
    return BatchRun(lambda merge: run(view, cache, merge), finish)


class _Rollback(Exception):
    """Raised inside a dry run's transaction so the adapter rolls it back."""


def run_batches(
    storage: StorageAdapter,
    merges: Iterable[U],
    work: Work[U],
    *,
    batch_size: int,
    max_retries: int,
    commit: bool = True,
    progress: Progress | None = None,
    total: int | None = None,
    sink: Callable[[list[MergeOutcome]], None] | None = None,
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

    ``merges`` is read one batch at a time (``total``, when it is not a
    sequence, is what progress counts to). With ``sink`` each batch's
    outcomes, in the order of its merges, go to it and none is returned:
    memory then stays that of one batch, however many merges there are.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    out: list[MergeOutcome] = []
    if total is None:
        total = len(merges) if isinstance(merges, Sequence) else 0
    consecutive = 0
    done_units = 0
    if progress:
        progress(0, total)
    units = iter(merges)
    while batch := list(islice(units, batch_size)):
        pending = list(batch)
        batch_out: list[MergeOutcome] = []
        attempt = 0
        one_by_one = False
        while pending:
            done: list[MergeOutcome] = []
            current: U | None = None
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
                    batch_out += [outcome_of(m, "conflict", reason) for m in pending]
                    log.warning("batch_conflict", merges=len(pending), retries=max_retries)
                    break
                backoff(attempt)
                continue
            except Exception as exc:
                if current is None:  # beginning or committing the transaction failed
                    raise _storage_error(exc) from exc
                consecutive = 0 if done else consecutive + 1
                batch_out.append(outcome_of(current, "failed", describe_error(exc)))
                log.warning("merge_failed", archived=current.archived_id, error=type(exc).__name__)
                if consecutive >= MAX_CONSECUTIVE_FAILURES:
                    raise StorageError(
                        f"stopped after {consecutive} merges in a row failed (last: "
                        f"{describe_error(exc)}); the database may be unavailable. Fix the cause "
                        "and run again: merges already applied are skipped."
                    ) from exc
                pending.remove(current)
                continue
            consecutive = 0
            batch_out += done
            break
        done_units += len(batch)
        if sink is None:
            out += batch_out
        else:
            sink(_in_order(batch, batch_out))
        if progress:
            progress(min(done_units, max(total, done_units)), max(total, done_units))
    return out


def _in_order(batch: Sequence[Unit], outcomes: list[MergeOutcome]) -> list[MergeOutcome]:
    """A batch's outcomes in the order of its units (a failed one is reported first)."""
    order = {u.archived_id: i for i, u in enumerate(batch)}
    return sorted(outcomes, key=lambda o: order.get(o.archived_id, -1))


def outcome_of(unit: Unit, status: Status, reason: str = "") -> MergeOutcome:
    kind: OutcomeKind = getattr(unit, "kind", "student")
    return MergeOutcome(unit.archived_id, unit.synced_id, status, reason, kind=kind)


def describe_error(exc: BaseException) -> str:
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
    return StorageError(
        f"the database failed: {describe_error(exc)}; nothing of this batch was kept"
    )


class StudentCache:
    """The students of a batch, read (and locked) with one query when the batch starts.

    Students a merge of the batch has changed are read again when asked for,
    so every decision sees the transaction's own writes.
    """

    def __init__(
        self, tx: Transaction, batch: Sequence[Merge], accounts: Transaction | None = None
    ) -> None:
        self.tx = tx
        #: The unbatched transaction, for guardian-account reads (see safety.refusal).
        self.accounts = accounts or tx
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


def plan_table(
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


def expect_count(got: int, wanted: int, verb: str, table: str, student: str) -> None:
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
