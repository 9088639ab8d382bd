"""Why a merge, or a whole plan, must not be applied as it stands.

Two levels of refusal. Per merge (:func:`refusal`): the stored records no
longer look the way they did at planning time, so that one merge is
reported ``stale`` and nothing is written for it. Per plan
(:func:`check_safety`): the database as a whole looks wrong (an empty or
shrunken sync, a mass change since planning), which usually means a
broken sync rather than real data, so nothing at all is written unless
the caller passes ``force``. Clever itself holds a sync for review when
it would delete more than 10% of records or update more than 75%; the
thresholds below follow the same spirit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import islice
from typing import cast

import attrs

from .._log import get_logger
from .._record_hash import student_hash
from ..exceptions import SafetyValveError, TransientConflict
from ..plan import Merge
from ..storage._base import (
    AccountTransaction,
    Side,
    StorageAdapter,
    StoredStudent,
    StudentCounts,
    Transaction,
)
from ..storage.adapter import Capability, capabilities_of
from ._account_apply import final_account
from ._applying import retrying
from ._plans import PlanSource

__all__ = [
    "MAX_COVERAGE",
    "MAX_STALE_SHARE",
    "MAX_SYNCED_LOSS",
    "MIN_COVERAGE_POPULATION",
    "MIN_STALE",
    "MIN_SYNCED_LOSS",
    "MIN_SYNCED_RATIO",
    "check_safety",
    "refusal",
]

log = get_logger(__name__)

#: Refuse when the stored synced roster holds fewer students than this share of
#: the plan's archived roster: a sync that lost half the district is broken.
MIN_SYNCED_RATIO = 0.5
#: Refuse when more than this share of the synced students present at planning
#: are gone (Clever holds a sync that would delete more than 10%) ...
MAX_SYNCED_LOSS = 0.10
#: ... and at least this many are gone (one leaver in a class of five is normal).
MIN_SYNCED_LOSS = 5
#: Refuse when the merges to apply would absorb more than this share of the
#: stored synced students: real syncs add new pupils (kindergarten, movers in);
#: a near-total match usually means the archive was loaded as the sync.
MAX_COVERAGE = 0.95
#: ... only when there are at least this many synced students.
MIN_COVERAGE_POPULATION = 50
#: Refuse when more than this share of the merges to apply are stale (the data
#: changed in bulk since planning: re-plan instead) ...
MAX_STALE_SHARE = 0.10
#: ... and at least this many are stale (a handful of edits is normal).
MIN_STALE = 5

_CHUNK = 1000


def refusal(
    merge: Merge,
    stored: Mapping[str, StoredStudent],
    merged_links: frozenset[str] = frozenset(),
    accounts: Transaction | None = None,
) -> str | None:
    """Why ``merge`` must not be applied to the ``stored`` students, or ``None``.

    Changes the merge engine made itself are never a reason: ``merged_links``
    holds the guardian ids of archived students already merged into the
    synced student (their links came with those merges), and, when
    ``accounts`` can read guardian accounts, a guardian the synced student
    had at planning that has since been merged into another account it now
    has (a guardian merge) is the same guardian.
    """
    a, s = merge.archived_id, merge.synced_id
    if not merge.archived_hash or not merge.synced_hash:
        return f"the plan's merge of {a} has no record hashes; re-plan to merge it"
    arch, sync = stored.get(a), stored.get(s)
    if arch is None:
        return f"archived student {a} no longer exists"
    if sync is None:
        return f"synced student {s} no longer exists"
    if not arch.archived:
        return f"archived student {a} is no longer archived (restored since planning)"
    if arch.merged_into is not None:
        return f"archived student {a} is already merged into {arch.merged_into}"
    if sync.archived:
        return f"synced student {s} is archived"
    if sync.merged_into is not None:
        return f"synced student {s} is merged into {sync.merged_into}"
    if student_hash(arch.student) != merge.archived_hash:
        return f"archived student {a} changed since planning; re-plan to merge it"
    if student_hash(sync.student, contacts=False) != merge.synced_hash:
        return f"synced student {s} changed since planning; re-plan to merge it"
    return _guardians_changed(merge, sync, merged_links, accounts)


def _guardians_changed(
    merge: Merge,
    sync: StoredStudent,
    merged_links: frozenset[str],
    accounts: Transaction | None,
) -> str | None:
    """Why the synced student's guardian accounts differ from planning beyond the engine's work."""
    now = {c.guardian_id for c in sync.student.contacts}
    planned = set(merge.synced_guardians)
    missing = planned - now
    extra = now - planned - merged_links
    if missing and accounts is not None and Capability.ACCOUNTS in capabilities_of(accounts):
        for g in sorted(missing):
            into = final_account(cast(AccountTransaction, accounts), g)
            if into is not None and into != g and into in now:
                missing.discard(g)  # merged into an account the student has: same guardian
                extra.discard(into)
    s = merge.synced_id
    if missing:
        return (
            f"synced student {s} changed since planning (guardian account "
            f"{min(missing)} was unlinked); re-plan to merge it"
        )
    if extra:
        return (
            f"synced student {s} changed since planning (guardian account "
            f"{min(extra)} was linked); re-plan to merge it"
        )
    return None


def links_of_merged_siblings(
    tx: Transaction, merge: Merge, siblings: Sequence[str]
) -> frozenset[str]:
    """Guardian ids of archived records already merged into the synced id.

    Candidates are ``siblings`` (the plan's other merges into that synced
    student) and the merge's ``duplicates`` (the child's other archived
    records, which another plan may have merged).
    """
    others = sorted({*siblings, *merge.duplicates} - {merge.archived_id})
    if not others:
        return frozenset()
    merged = [i for i, st in tx.students(others).items() if st.merged_into == merge.synced_id]
    return frozenset(link.guardian_id for i in merged for link in tx.guardian_links(i))


def check_safety(
    plan: PlanSource,
    storage: StorageAdapter,
    fingerprint: str,
    merges: Iterable[Merge],
    *,
    force: bool,
    raise_on_trip: bool = True,
    max_retries: int = 5,
    checked: Callable[[int], None] | None = None,
) -> tuple[str, ...]:
    """Check the database as a whole before anything is written.

    ``merges`` (the merges to apply) is read once, a chunk at a time;
    ``checked`` is called with how many were checked so far after each chunk.
    Returns the tripped checks as messages (empty when all is well). Raises
    :class:`SafetyValveError` if any tripped, unless ``force`` is set or
    ``raise_on_trip`` is false (a dry run reports instead of refusing).
    """
    # A busy database or a deadlock with a concurrent applier is retried, as in batches.
    synced_now = retrying(lambda: _roster_size(storage, "synced"), max_retries)
    archived_planned, synced_planned = plan.planned()
    trips: list[str] = []
    if synced_now == 0:
        trips.append("the stored synced roster is empty; was the sync loaded?")
    elif synced_now < MIN_SYNCED_RATIO * archived_planned:
        trips.append(
            f"the stored synced roster ({synced_now} students) is less than "
            f"{MIN_SYNCED_RATIO:.0%} of the plan's archived roster ({archived_planned})"
        )
    lost = synced_planned - synced_now
    if lost >= MIN_SYNCED_LOSS and lost > MAX_SYNCED_LOSS * synced_planned:
        trips.append(
            f"{lost} of the {synced_planned} synced students present at planning are gone "
            f"(more than {MAX_SYNCED_LOSS:.0%})"
        )
    count = _count_stale(storage, merges, plan.shared, max_retries, checked)
    if synced_now >= MIN_COVERAGE_POPULATION and count.targets > MAX_COVERAGE * synced_now:
        trips.append(
            f"the plan would merge into {count.targets} of the {synced_now} synced students "
            f"(more than {MAX_COVERAGE:.0%}); is the sync a copy of the archive?"
        )
    if count.stale >= MIN_STALE and count.stale > MAX_STALE_SHARE * count.merges:
        trips.append(
            f"{count.stale} of the {count.merges} merges to apply are stale (more than "
            f"{MAX_STALE_SHARE:.0%}): the data changed since planning; re-plan"
        )
    if trips:
        log.warning("safety_valve", plan=fingerprint, checks=len(trips), forced=force)
        if raise_on_trip and not force:
            raise SafetyValveError(
                f"refusing to apply ({'; '.join(trips)}). If this is expected, pass --force "
                "(force=True) to apply anyway."
            )
    return tuple(trips)


def _roster_size(storage: StorageAdapter, side: Side) -> int:
    """How many students ``read_roster(side)`` would give, counted by the database when the
    adapter can (``Capability.STUDENT_COUNTS``)."""
    if Capability.STUDENT_COUNTS in capabilities_of(storage):
        return cast(StudentCounts, storage).count_students(side)
    return len(storage.read_roster(side))


@attrs.define
class _Count:
    """What one pass over the merges to apply finds: how many, into how many synced
    students, and how many are stale."""

    merges: int = 0
    targets: int = 0
    stale: int = 0


def _count_stale(
    storage: StorageAdapter,
    merges: Iterable[Merge],
    siblings: Mapping[str, tuple[str, ...]],
    max_retries: int,
    checked: Callable[[int], None] | None = None,
) -> _Count:
    """How many merges would be refused as stale (already applied ones are not stale).

    Reading locks rows on some databases, so a concurrent applier can make a
    chunk fail with :class:`TransientConflict`; the chunk is then read again.
    Synced students that several merges target are the ``siblings`` groups:
    only those are remembered to count distinct targets.
    """
    count = _Count()
    shared_seen: set[str] = set()
    it = iter(merges)
    while chunk := list(islice(it, _CHUNK)):
        count.merges += len(chunk)
        for m in chunk:
            if m.synced_id not in siblings:
                count.targets += 1
            elif m.synced_id not in shared_seen:
                shared_seen.add(m.synced_id)
                count.targets += 1
        ids = sorted({m.archived_id for m in chunk} | {m.synced_id for m in chunk})
        for attempt in range(max_retries + 1):
            try:
                count.stale += _stale_in(storage, chunk, ids, siblings)
                break
            except TransientConflict:
                if attempt == max_retries:
                    raise
                time.sleep(min(1.0, 0.02 * 2**attempt) * (0.5 + random.random()))
        if checked:
            checked(count.merges)
    return count


def _stale_in(
    storage: StorageAdapter,
    chunk: Sequence[Merge],
    ids: Sequence[str],
    siblings: Mapping[str, tuple[str, ...]],
) -> int:
    stale = 0
    with storage.transaction() as tx:
        stored = tx.students(ids)
        for m in chunk:
            arch = stored.get(m.archived_id)
            if arch is not None and arch.merged_into == m.synced_id:
                continue  # applied already (by this plan or another)
            added = links_of_merged_siblings(tx, m, siblings.get(m.synced_id, ()))
            if refusal(m, stored, added, tx) is not None:
                stale += 1
    return stale
