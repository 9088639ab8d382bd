"""Reading a database for planning: the district as the sync left it.

After an apply, synced students carry links the engine made: the archived
students' guardians carried over by student merges, and old accounts put
in place of sync-created ones by guardian merges. Planning on those would
take the engine's own decisions for evidence (a review pair would seem to
share a guardian because a sibling's guardian merge linked the old
account to it). So the synced roster is read back as the sync left it:
every link that an applied (not undone) journal entry added is dropped,
and every link it removed is put back with its account's details.
Student merges already made are accounted for by the roster itself: a
merged archived student is no longer archived-and-unmerged.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import cast

import attrs

from .._log import get_logger
from ..model import Contact, Roster, Student
from ..plan import MergePlan
from ..settings import Settings
from ..storage._base import (
    AuditRecord,
    BulkTransaction,
    GuardianContacts,
    JournalEntry,
    StorageAdapter,
    Transaction,
)
from ..storage.adapter import Capability, capabilities_of
from ._planner import build_plan, guardian_ids

__all__ = ["plan_from_storage", "rosters_for_planning"]

log = get_logger(__name__)

Link = tuple[str, str]  # (student id, guardian id)


def plan_from_storage(
    storage: StorageAdapter,
    settings: Settings | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    rejected: Collection[tuple[str, str]] = (),
) -> MergePlan:
    """Plan the merges still to make in ``storage``. Read-only.

    Matching sees the district as the sync left it (:func:`rosters_for_planning`);
    each merge records the synced student's guardian accounts as stored now,
    so that apply tells the engine's earlier work from a change since planning.
    """
    archived, view = rosters_for_planning(storage)
    plan = build_plan(archived, view, settings, progress=progress, rejected=rejected)
    stored = {s.id: s for s in storage.read_roster("synced").students}
    merges = [
        m if (now := guardian_ids(stored[m.synced_id])) == m.synced_guardians
        else attrs.evolve(m, synced_guardians=now)
        for m in plan.merges
    ]  # fmt: skip
    return attrs.evolve(plan, merges=merges)


def rosters_for_planning(storage: StorageAdapter) -> tuple[Roster, Roster]:
    """The archived students still to merge and the synced students as the sync left them.

    Read-only. On a database no plan was applied to, this is the same as
    reading both rosters.
    """
    archived, synced = storage.read_roster("archived"), storage.read_roster("synced")
    keys = _applied_keys(storage.audit_records())
    if not keys:
        return archived, synced
    added: set[Link] = set()
    removed: dict[Link, str | None] = {}
    with storage.transaction() as tx:
        for fp, ids in sorted(keys.items()):
            for entry in _journal_entries(tx, fp, sorted(ids)):
                if entry.undone:
                    continue
                added.update((k.student_id, k.guardian_id) for k in entry.links_added)
                for k in entry.links_removed:
                    removed[(k.student_id, k.guardian_id)] = k.relationship
        restored = {link: rel for link, rel in removed.items() if link not in added}
        wanted = sorted({g for _, g in restored})
        contacts = Capability.GUARDIAN_CONTACTS in capabilities_of(tx)
        details = cast(GuardianContacts, tx).guardian_contacts(wanted) if contacts else {}
    if not added and not restored:
        return archived, synced
    back: dict[str, list[Contact]] = {}
    for (sid, g), rel in sorted(restored.items()):
        back.setdefault(sid, []).append(
            attrs.evolve(details.get(g, Contact(g)), guardian_id=g, relationship=rel)
        )
    students = [_as_synced(s, added, back.get(s.id, ())) for s in synced.students]
    log.info("planning_view", links_dropped=len(added), links_restored=len(restored))
    return archived, attrs.evolve(synced, students=students)


def _applied_keys(records: Iterable[AuditRecord]) -> dict[str, set[str]]:
    """Journal keys per plan fingerprint with at least one recorded apply."""
    keys: dict[str, set[str]] = {}
    for r in records:
        if r.action == "apply":
            keys.setdefault(r.plan_fingerprint, set()).add(r.archived_id)
    return keys


def _journal_entries(tx: Transaction, fp: str, ids: Sequence[str]) -> list[JournalEntry]:
    if Capability.BULK_READS in capabilities_of(tx):
        found: Mapping[str, JournalEntry] = cast(BulkTransaction, tx).journals(fp, ids)
        return [found[i] for i in ids if i in found]
    return [e for i in ids if (e := tx.journal(fp, i)) is not None]


def _as_synced(student: Student, added: set[Link], back: Sequence[Contact]) -> Student:
    """``student`` without the links the engine added, with the ones it removed put back."""
    sid = student.id
    kept = [c for c in student.contacts if (sid, c.guardian_id) not in added]
    have = {c.guardian_id for c in kept}
    back = [c for c in back if c.guardian_id not in have]
    if not back and len(kept) == len(student.contacts):
        return student
    return attrs.evolve(student, contacts=[*kept, *back])
