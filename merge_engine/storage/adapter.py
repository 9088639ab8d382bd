"""The base classes an adapter derives from: a few required methods, the rest given.

A platform writes :class:`BaseStorage` (read a roster, open a transaction,
list the audit) and :class:`BaseTransaction`'s required methods: read
students and their guardian links, read and move history rows, mark a
student merged, keep the journal and the audit. Everything else the engine
can call has a default here, built on those: the batch-level methods loop
over the per-item ones (the built-in adapters override them with a few SQL
statements, for speed only), and the guardian-account methods refuse
until the adapter implements them.

What an adapter can do beyond the required methods is *declared*, in the
class attribute ``capabilities`` (a set of :class:`Capability`), never
guessed from which methods exist: the engine batches writes only for an
adapter that declares :attr:`Capability.BULK_WRITES`, applies guardian
merges only with :attr:`Capability.ACCOUNTS`, and so on.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import ClassVar

from ..exceptions import StorageError
from ..model import Contact, Roster
from ._base import (
    AccountLink,
    AuditRecord,
    GuardianLink,
    HistoryRow,
    HistoryTable,
    JournalEntry,
    RowKey,
    Side,
    StoredGuardian,
    StoredStudent,
    Transaction,
)
from ._rows import roster_subset

__all__ = [
    "ALL_TRANSACTION_CAPABILITIES",
    "BaseStorage",
    "BaseTransaction",
    "Capability",
    "UnsupportedOperation",
    "capabilities_of",
]


class Capability(enum.StrEnum):
    """What an adapter offers beyond the required methods (declared in ``capabilities``)."""

    #: ``history_rows_many``, ``guardian_links_many`` and ``journals`` are worth
    #: calling: the engine then reads a batch's data with them (a transaction).
    BULK_READS = "bulk_reads"
    #: The batch-level writes (``move_rows_many``, ``write_journals``...) are worth
    #: calling: the engine then buffers a batch's writes and sends them together.
    BULK_WRITES = "bulk_writes"
    #: The guardian-account methods work: guardian merges, detaches and
    #: multiple-role links can be applied and undone (a transaction).
    ACCOUNTS = "accounts"
    #: ``guardian_contacts(ids)`` reads guardian accounts' details (a transaction).
    GUARDIAN_CONTACTS = "guardian_contacts"
    #: ``plan_lock(fingerprint)`` keeps two applies of one plan apart (the storage).
    PLAN_LOCK = "plan_lock"
    #: ``audit_records_of(archived_ids)`` reads the audit records of some students (a
    #: transaction): apply and undo then read the audit log a batch at a time, not whole.
    AUDIT_LOOKUP = "audit_lookup"
    #: ``count_students(side)`` counts a roster without reading it (the storage): the
    #: safety valve then holds no roster in memory.
    STUDENT_COUNTS = "student_counts"
    #: ``read_roster_of(side, ids)`` reads the part of a roster some ids name, in batches
    #: (the storage): the review sheet then never holds a whole roster.
    ROSTER_LOOKUP = "roster_lookup"


#: Every capability a transaction can declare (the built-in adapters declare them all).
ALL_TRANSACTION_CAPABILITIES: frozenset[str] = frozenset(
    {
        Capability.BULK_READS,
        Capability.BULK_WRITES,
        Capability.ACCOUNTS,
        Capability.GUARDIAN_CONTACTS,
        Capability.AUDIT_LOOKUP,
    }
)


def capabilities_of(obj: object) -> frozenset[str]:
    """What a storage or transaction declares (nothing, for one written before declarations)."""
    declared = getattr(obj, "capabilities", None)
    return frozenset(declared) if declared is not None else frozenset()


class UnsupportedOperation(StorageError):
    """The adapter does not offer this operation (it does not declare the capability)."""


def _unsupported(what: str) -> UnsupportedOperation:
    return UnsupportedOperation(
        f"this storage adapter cannot {what} (it does not declare Capability.ACCOUNTS); "
        "apply with accounts=False (CLI: --students-only) to apply the student merges alone"
    )


class BaseTransaction(abc.ABC):
    """One database transaction: the required methods, and defaults for the rest.

    Subclasses implement the abstract methods (see
    :class:`~merge_engine.storage._base.Transaction` for what each must do) and
    declare in ``capabilities`` what they offer beyond them. ``history`` and
    ``guardian_history`` are the configured history tables (a class or instance
    attribute), returned by the default ``history_tables`` and
    ``guardian_history_tables``.
    """

    capabilities: ClassVar[frozenset[str]] = frozenset()
    history: Sequence[HistoryTable] = ()
    guardian_history: Sequence[HistoryTable] = ()

    # -- Required ------------------------------------------------------------------------------

    @abc.abstractmethod
    def students(self, ids: Sequence[str]) -> Mapping[str, StoredStudent]:
        """The stored students among ``ids`` (missing ids are absent), locked for update."""

    @abc.abstractmethod
    def history_rows(self, table: str, student_id: str) -> list[HistoryRow]:
        """All rows of ``table`` pointing at ``student_id``, ordered by primary key."""

    @abc.abstractmethod
    def move_rows(self, table: str, keys: Sequence[RowKey], to_student: str) -> int:
        """Point the rows with these primary keys at ``to_student``; returns the count."""

    @abc.abstractmethod
    def remove_rows(self, table: str, keys: Sequence[RowKey]) -> int:
        """Delete the rows with these primary keys; returns the count."""

    @abc.abstractmethod
    def insert_rows(self, rows: Sequence[HistoryRow]) -> None:
        """Insert rows exactly as given (undo restores rows set aside with it)."""

    @abc.abstractmethod
    def guardian_links(self, student_id: str) -> list[GuardianLink]:
        """The guardian links of a student, ordered by guardian id, each with its ``order``."""

    @abc.abstractmethod
    def add_guardian_link(self, link: GuardianLink) -> None:
        """Link a guardian account to a student, at ``link.order`` (None: after the others)."""

    @abc.abstractmethod
    def remove_guardian_link(self, link: GuardianLink) -> None:
        """Remove a guardian link (nothing happens when it is absent)."""

    @abc.abstractmethod
    def set_merged_into(self, archived_id: str, synced_id: str | None) -> None:
        """Mark an archived student merged into a synced one (``None`` clears it)."""

    @abc.abstractmethod
    def journal(self, plan_fingerprint: str, archived_id: str) -> JournalEntry | None:
        """The journal entry of this plan for this archived student, if any."""

    @abc.abstractmethod
    def write_journal(self, entry: JournalEntry) -> None:
        """Store a journal entry, replacing any earlier one for the same plan and student."""

    @abc.abstractmethod
    def write_audit(self, record: AuditRecord) -> None:
        """Append an audit record."""

    # -- Configuration -------------------------------------------------------------------------

    def history_tables(self) -> Sequence[HistoryTable]:
        """The student history tables (default: ``self.history``)."""
        return tuple(self.history)

    def guardian_history_tables(self) -> Sequence[HistoryTable]:
        """The guardian history tables (default: ``self.guardian_history``)."""
        return tuple(self.guardian_history)

    # -- Batch-level reads and writes: loops here, a few statements in the built-in adapters ----

    def history_rows_many(
        self, table: str, student_ids: Sequence[str]
    ) -> Mapping[str, list[HistoryRow]]:
        """``history_rows(table, i)`` for each of ``student_ids`` (every id is a key)."""
        return {i: self.history_rows(table, i) for i in student_ids}

    def guardian_links_many(self, student_ids: Sequence[str]) -> Mapping[str, list[GuardianLink]]:
        """``guardian_links(i)`` for each of ``student_ids`` (every id is a key)."""
        return {i: self.guardian_links(i) for i in student_ids}

    def journals(
        self, plan_fingerprint: str, archived_ids: Sequence[str]
    ) -> Mapping[str, JournalEntry]:
        """``journal(plan_fingerprint, i)`` for each of ``archived_ids`` that has one."""
        found = ((i, self.journal(plan_fingerprint, i)) for i in archived_ids)
        return {i: e for i, e in found if e is not None}

    def move_rows_many(self, table: str, moves: Sequence[tuple[Sequence[RowKey], str]]) -> int:
        """``move_rows(table, keys, to_student)`` for each ``(keys, to_student)``; the total."""
        return sum(self.move_rows(table, keys, to) for keys, to in moves)

    def add_guardian_links(self, links: Sequence[GuardianLink]) -> None:
        """``add_guardian_link`` for each link, in order."""
        for link in links:
            self.add_guardian_link(link)

    def remove_guardian_links(self, links: Sequence[GuardianLink]) -> None:
        """``remove_guardian_link`` for each link."""
        for link in links:
            self.remove_guardian_link(link)

    def set_merged_into_many(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        """``set_merged_into(archived_id, synced_id)`` for each pair."""
        for archived_id, synced_id in pairs:
            self.set_merged_into(archived_id, synced_id)

    def write_journals(self, entries: Sequence[JournalEntry]) -> None:
        """``write_journal`` for each entry, in order (a later one replaces an earlier one)."""
        for entry in entries:
            self.write_journal(entry)

    def write_audits(self, records: Sequence[AuditRecord]) -> None:
        """``write_audit`` for each record, in order."""
        for record in records:
            self.write_audit(record)

    # -- Guardian accounts (Capability.ACCOUNTS): refused until implemented ---------------------

    def guardians(self, ids: Sequence[str]) -> Mapping[str, StoredGuardian]:
        """The stored guardian accounts among ``ids`` (missing ids are absent), locked."""
        raise _unsupported("read guardian accounts")

    def links_of_guardian(self, guardian_id: str) -> list[GuardianLink]:
        """Every student link of one guardian account, ordered by student id, with ``order``."""
        raise _unsupported("read a guardian's links")

    def set_guardian_merged_into(self, guardian_id: str, into_id: str | None) -> None:
        """Mark a guardian account merged into another (``None`` clears it)."""
        raise _unsupported("merge guardian accounts")

    def account_links(self, account_id: str) -> list[AccountLink]:
        """The account links naming ``account_id`` first or second, ordered."""
        raise _unsupported("read account links")

    def add_account_link(self, link: AccountLink) -> None:
        """Record an account link; raises StorageError if it exists or an account does not."""
        raise _unsupported("link accounts")

    def remove_account_link(self, link: AccountLink) -> None:
        """Delete an account link (nothing happens if it is absent)."""
        raise _unsupported("unlink accounts")

    def links_of_guardians(self, guardian_ids: Sequence[str]) -> Mapping[str, list[GuardianLink]]:
        """``links_of_guardian(i)`` for each of ``guardian_ids`` (every id is a key)."""
        return {g: self.links_of_guardian(g) for g in guardian_ids}

    def set_guardian_merged_into_many(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        """``set_guardian_merged_into(guardian_id, into_id)`` for each pair, in order."""
        for guardian_id, into_id in pairs:
            self.set_guardian_merged_into(guardian_id, into_id)

    def guardian_contacts(self, ids: Sequence[str]) -> Mapping[str, Contact]:
        """Guardian accounts' details (Capability.GUARDIAN_CONTACTS); default: none known."""
        return {}

    def audit_records_of(self, archived_ids: Sequence[str]) -> Sequence[AuditRecord]:
        """The audit records of ``archived_ids``, oldest first (Capability.AUDIT_LOOKUP)."""
        raise UnsupportedOperation(
            "this storage adapter cannot read the audit records of given students (it does "
            "not declare Capability.AUDIT_LOOKUP)"
        )


class BaseStorage(abc.ABC):
    """A database the engine reads rosters from and applies plans to.

    Subclasses implement the abstract methods and declare ``capabilities``
    (only :attr:`Capability.PLAN_LOCK` is a storage's; with it, ``plan_lock``
    must be implemented too: see :class:`~merge_engine.storage._base.PlanLocking`).
    """

    capabilities: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def read_roster(self, side: Side) -> Roster:
        """The archived students (archived and not merged) or the synced students."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Transaction]:
        """A transaction that commits on a clean exit and rolls back on an exception."""

    @abc.abstractmethod
    def audit_records(self) -> Iterator[AuditRecord]:
        """Every audit record, oldest first."""

    def read_roster_of(self, side: Side, ids: Collection[str]) -> Roster:
        """The part of ``read_roster(side)`` that ``ids`` name (Capability.ROSTER_LOOKUP,
        see :class:`~merge_engine.storage._base.RosterLookup`; the default reads the roster)."""
        return roster_subset(self.read_roster(side), ids)

    def count_students(self, side: Side) -> int:
        """How many students ``read_roster(side)`` holds (Capability.STUDENT_COUNTS; the
        default reads the roster)."""
        return len(self.read_roster(side))

    def close(self) -> None:
        """Release connections (default: nothing to release)."""
        return None
