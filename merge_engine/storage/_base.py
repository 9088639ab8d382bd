"""The storage contract: what the engine needs from a database, and no more.

Adapters only read and write; every decision (what is stale, what
collides, what to journal, how to undo) lives in the engine
(:mod:`merge_engine.applying._apply`). A history table is configuration, not code:
adding one (backpacks, interaction logs) needs no new adapter code.

Values crossing this boundary are plain and typed: ids are strings, rows
are ``HistoryRow`` values with their primary key and all their columns.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol, runtime_checkable

from attrs import field, frozen

from ..model import Contact, Roster, Student

__all__ = [
    "ACCOUNT_BULK",
    "ACCOUNT_METHODS",
    "BULK_READS",
    "BULK_WRITES",
    "AccountLink",
    "AccountTransaction",
    "AuditLookup",
    "AuditRecord",
    "BulkAccountTransaction",
    "BulkTransaction",
    "GuardianContacts",
    "GuardianLink",
    "HistoryRow",
    "HistoryTable",
    "JournalEntry",
    "PlanLocking",
    "RosterLookup",
    "RowKey",
    "Side",
    "StorageAdapter",
    "StoredGuardian",
    "StoredStudent",
    "StudentCounts",
    "Transaction",
]

Side = Literal["archived", "synced"]
RowKey = tuple[Any, ...]


def _tuple(value: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(value)


@frozen
class HistoryTable:
    """A table whose rows point at a student and move with a merge.

    ``unique`` lists the other columns that, together with the student
    column, must be unique (attendance: one row per student and ``day``).
    ``survivor`` says which row stays on a unique-key collision:
    ``"synced"`` (default: keep the synced row, set the archived one aside
    in the journal) or ``"archived"`` (the reverse). Nothing is ever lost:
    the row set aside is kept in the journal and restored by undo.
    """

    name: str
    student_column: str = "student_id"
    primary_key: tuple[str, ...] = field(default=("id",), converter=_tuple)
    unique: tuple[str, ...] = field(default=(), converter=_tuple)
    survivor: Literal["synced", "archived"] = "synced"


@frozen
class HistoryRow:
    """One row of a history table: its primary key and every column's value."""

    table: str
    key: RowKey = field(converter=_tuple)
    values: Mapping[str, Any]


@frozen
class StoredStudent:
    """A student as stored, with its merge state."""

    student: Student
    archived: bool
    merged_into: str | None = None


@frozen
class GuardianLink:
    """A guardian account linked to a student (``relationship`` may be None).

    ``order`` is the link's position among the student's contacts (the
    mapping's ``links.order`` column; 0 is the primary contact). Reads fill
    it in when the mapping has that column, else leave it None. Adding a
    link with a position stores exactly that position (other links do not
    move), so undo puts a removed link back where it was; ``None`` appends
    the link after the student's other contacts. The position is where the
    link sits, not which link it is: it takes no part in equality.
    """

    student_id: str
    guardian_id: str
    relationship: str | None = None
    order: int | None = field(default=None, eq=False)


@frozen
class StoredGuardian:
    """A guardian account as stored, with its merge state (``merged_into`` another account)."""

    id: str
    merged_into: str | None = None


@frozen
class AccountLink:
    """A record that two accounts belong to one adult (a multiple-role user).

    ``mode`` is ``"link"`` (keep both accounts, know they are one person) or
    ``"merge"`` (the district wants one account: the platform signs the
    person in with ``first_id``, the staff account for ``staff_guardian``).
    """

    kind: Literal["staff_guardian", "guardian_guardian"]
    first_id: str
    second_id: str
    mode: Literal["link", "merge"] = "link"


@frozen
class JournalEntry:
    """What one applied merge (or account step) changed, enough to undo it exactly.

    ``moved`` maps table name to the primary keys moved from the archived
    to the synced student (or account); ``set_aside`` holds full rows
    removed by a collision rule; ``links_added`` and ``links_removed`` the
    guardian links the step created and deleted; ``accounts_linked`` the
    account links it recorded. ``plan_fingerprint`` identifies the plan;
    ``undone`` marks an undo. Account steps use namespaced ids such as
    ``guardian:<id>`` in ``archived_id`` (see :mod:`merge_engine.applying._account_steps`).
    """

    plan_fingerprint: str
    archived_id: str
    synced_id: str
    moved: Mapping[str, tuple[RowKey, ...]]
    set_aside: tuple[HistoryRow, ...] = field(default=(), converter=_tuple)
    links_added: tuple[GuardianLink, ...] = field(default=(), converter=_tuple)
    undone: bool = False
    links_removed: tuple[GuardianLink, ...] = field(default=(), converter=_tuple)
    accounts_linked: tuple[AccountLink, ...] = field(default=(), converter=_tuple)


@frozen
class AuditRecord:
    """One apply or undo of one merge: ids and counts only, never names or dates."""

    action: Literal["apply", "undo"]
    plan_fingerprint: str
    archived_id: str
    synced_id: str
    at: str  # ISO 8601 UTC timestamp
    rows: Mapping[str, int]  # rows moved (or restored) per table
    note: str = ""


@runtime_checkable
class Transaction(Protocol):
    """Reads and writes inside one database transaction.

    These methods are the whole required contract. An adapter may also offer
    the optional batch-level methods of :class:`BulkTransaction` (reading or
    writing many students' data in a few statements); the engine uses each one
    when the transaction has it and falls back to the methods below when it
    does not, so adapters written against this contract keep working.
    """

    def students(self, ids: Sequence[str]) -> Mapping[str, StoredStudent]:
        """The stored students among ``ids`` (missing ids are absent), locked for update."""
        ...

    def history_tables(self) -> Sequence[HistoryTable]:
        """The configured history tables."""
        ...

    def history_rows(self, table: str, student_id: str) -> list[HistoryRow]:
        """All rows of ``table`` pointing at ``student_id``, ordered by primary key."""
        ...

    def move_rows(self, table: str, keys: Sequence[RowKey], to_student: str) -> int:
        """Point the rows with these primary keys at ``to_student``; returns the count."""
        ...

    def remove_rows(self, table: str, keys: Sequence[RowKey]) -> int:
        """Delete the rows with these primary keys; returns the count."""
        ...

    def insert_rows(self, rows: Sequence[HistoryRow]) -> None:
        """Insert rows exactly as given (used by undo to restore rows set aside)."""
        ...

    def guardian_links(self, student_id: str) -> list[GuardianLink]:
        """The guardian links of a student, ordered by guardian id, each with its ``order``."""
        ...

    def add_guardian_link(self, link: GuardianLink) -> None:
        """Link a guardian account to a student, at ``link.order`` (None: after the others).

        Adapters written before positions existed may ignore ``link.order`` and
        append; the engine then restores which links exist but not their order.
        """
        ...

    def remove_guardian_link(self, link: GuardianLink) -> None:
        """Remove a guardian link."""
        ...

    def set_merged_into(self, archived_id: str, synced_id: str | None) -> None:
        """Mark an archived student merged into a synced one (``None`` clears it)."""
        ...

    def journal(self, plan_fingerprint: str, archived_id: str) -> JournalEntry | None:
        """The latest journal entry of this plan for this archived student, if any."""
        ...

    def write_journal(self, entry: JournalEntry) -> None:
        """Store a journal entry, replacing any earlier one for the same plan and student."""
        ...

    def write_audit(self, record: AuditRecord) -> None:
        """Append an audit record."""
        ...


#: The optional batch-level reads of :class:`BulkTransaction` (each usable on its own).
BULK_READS = ("history_rows_many", "guardian_links_many", "journals")
#: The optional batch-level writes; the engine batches writes only when all of them exist.
BULK_WRITES = (
    "move_rows_many",
    "add_guardian_links",
    "remove_guardian_links",
    "set_merged_into_many",
    "write_journals",
    "write_audits",
)


@runtime_checkable
class BulkTransaction(Transaction, Protocol):
    """A :class:`Transaction` with the OPTIONAL batch-level methods (all built-in adapters).

    Each does what a loop over the matching required method would do, with
    the same checks and errors, in as few statements as the database allows.
    A write raising leaves the transaction unusable for the engine, which
    rolls it back: which item failed need not be known (the engine redoes the
    batch one merge at a time with the required methods to find out).
    ``remove_rows`` and ``insert_rows`` already take many rows.
    """

    def history_rows_many(
        self, table: str, student_ids: Sequence[str]
    ) -> Mapping[str, list[HistoryRow]]:
        """``history_rows(table, i)`` for each of ``student_ids`` (every id is a key)."""
        ...

    def guardian_links_many(self, student_ids: Sequence[str]) -> Mapping[str, list[GuardianLink]]:
        """``guardian_links(i)`` for each of ``student_ids`` (every id is a key)."""
        ...

    def journals(
        self, plan_fingerprint: str, archived_ids: Sequence[str]
    ) -> Mapping[str, JournalEntry]:
        """``journal(plan_fingerprint, i)`` for each of ``archived_ids`` that has one."""
        ...

    def move_rows_many(self, table: str, moves: Sequence[tuple[Sequence[RowKey], str]]) -> int:
        """``move_rows(table, keys, to_student)`` for each ``(keys, to_student)``; the total."""
        ...

    def add_guardian_links(self, links: Sequence[GuardianLink]) -> None:
        """``add_guardian_link`` for each link, in order."""
        ...

    def remove_guardian_links(self, links: Sequence[GuardianLink]) -> None:
        """``remove_guardian_link`` for each link."""
        ...

    def set_merged_into_many(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        """``set_merged_into(archived_id, synced_id)`` for each pair."""
        ...

    def write_journals(self, entries: Sequence[JournalEntry]) -> None:
        """``write_journal`` for each entry, in order (a later one replaces an earlier one)."""
        ...

    def write_audits(self, records: Sequence[AuditRecord]) -> None:
        """``write_audit`` for each record, in order."""
        ...


@runtime_checkable
class AccountTransaction(Transaction, Protocol):
    """A :class:`Transaction` that can also change guardian accounts (all built-in adapters).

    Needed only to apply or undo a plan's guardian merges, old-guardian
    detaches and multiple-role links; an adapter without these methods can
    still apply student merges (``apply_plan(..., accounts=False)``).
    Guardian history tables are read and written with the same row methods
    as student ones (``history_rows``, ``move_rows``, ...), by table name.
    """

    def guardians(self, ids: Sequence[str]) -> Mapping[str, StoredGuardian]:
        """The stored guardian accounts among ``ids`` (missing ids are absent), locked."""
        ...

    def guardian_history_tables(self) -> Sequence[HistoryTable]:
        """Tables whose rows belong to a guardian account (``student_column`` names its column)."""
        ...

    def links_of_guardian(self, guardian_id: str) -> list[GuardianLink]:
        """Every student link of one guardian account, ordered by student id, with ``order``."""
        ...

    def set_guardian_merged_into(self, guardian_id: str, into_id: str | None) -> None:
        """Mark a guardian account merged into another (``None`` clears it)."""
        ...

    def account_links(self, account_id: str) -> list[AccountLink]:
        """The account links naming ``account_id`` first or second, ordered."""
        ...

    def add_account_link(self, link: AccountLink) -> None:
        """Record an account link; raises StorageError if it exists or an account does not."""
        ...

    def remove_account_link(self, link: AccountLink) -> None:
        """Delete an account link (nothing happens if it is absent)."""
        ...


@runtime_checkable
class GuardianContacts(Protocol):
    """The OPTIONAL read of guardian accounts' details by id (all built-in adapters).

    Used to show planning the district as the sync left it after an apply
    (:mod:`merge_engine.planning._replan`): a link a guardian merge removed is put
    back with its account's details. Without it the link comes back with
    the account id alone.
    """

    def guardian_contacts(self, ids: Sequence[str]) -> Mapping[str, Contact]:
        """The details of the guardian accounts among ``ids`` (missing ids are absent)."""
        ...


#: Optional batch-level account methods (see :class:`BulkAccountTransaction`).
ACCOUNT_BULK = ("links_of_guardians", "set_guardian_merged_into_many")


@runtime_checkable
class BulkAccountTransaction(AccountTransaction, Protocol):
    """The OPTIONAL batch-level account methods (all built-in adapters), as for students."""

    def links_of_guardians(self, guardian_ids: Sequence[str]) -> Mapping[str, list[GuardianLink]]:
        """``links_of_guardian(i)`` for each of ``guardian_ids`` (every id is a key)."""
        ...

    def set_guardian_merged_into_many(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        """``set_guardian_merged_into(guardian_id, into_id)`` for each pair, in order."""
        ...


#: The methods of :class:`AccountTransaction` beyond :class:`Transaction`.
ACCOUNT_METHODS = (
    "guardians",
    "guardian_history_tables",
    "links_of_guardian",
    "set_guardian_merged_into",
    "account_links",
    "add_account_link",
    "remove_account_link",
)


@runtime_checkable
class StorageAdapter(Protocol):
    """A database the engine can read rosters from and apply plans to."""

    def read_roster(self, side: Side) -> Roster:
        """The archived students (archived and not merged) or the synced students."""
        ...

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A transaction that commits on a clean exit and rolls back on an exception."""
        ...

    def audit_records(self) -> Iterator[AuditRecord]:
        """Every audit record, oldest first."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class AuditLookup(Protocol):
    """The OPTIONAL audit read by student (all built-in adapters; ``Capability.AUDIT_LOOKUP``).

    Apply and undo read the audit records of each batch's students with it,
    instead of the whole audit log once, so their memory does not grow with
    the log. Without it they read the whole log (``audit_records``).
    """

    def audit_records_of(self, archived_ids: Sequence[str]) -> Sequence[AuditRecord]:
        """Every audit record whose ``archived_id`` is one of ``archived_ids``, oldest first
        (in the order of ``audit_records``)."""
        ...


@runtime_checkable
class RosterLookup(Protocol):
    """The OPTIONAL read of part of a roster (``Capability.ROSTER_LOOKUP``; all built-in
    adapters)."""

    def read_roster_of(self, side: Side, ids: Collection[str]) -> Roster:
        """``read_roster(side)`` with only the students and staff whose id is in ``ids`` and
        the students linked to a guardian account in ``ids``, in the same order (a few
        thousand records of a roster of hundreds of thousands, read in batches)."""
        ...


@runtime_checkable
class StudentCounts(Protocol):
    """The OPTIONAL roster count (all built-in adapters; ``Capability.STUDENT_COUNTS``)."""

    def count_students(self, side: Side) -> int:
        """``len(read_roster(side))``, without reading the roster."""
        ...


@runtime_checkable
class PlanLocking(Protocol):
    """The OPTIONAL per-plan lock (all built-in adapters): one apply or undo of a plan at a time.

    ``plan_lock(fingerprint)`` returns a context manager held for a whole
    apply or undo. Entering it raises
    :class:`~merge_engine.exceptions.PlanLockedError` at once (it never waits)
    when another apply or undo of the same plan holds it, in this process or
    another; the lock must go away with the process that holds it, so a killed
    apply never leaves its plan locked. Adapters without it run unlocked:
    row locks still keep every merge all-or-nothing, but an apply and an undo
    of one plan may then interleave.
    """

    def plan_lock(self, plan_fingerprint: str) -> AbstractContextManager[None]:
        """Hold the lock of plan ``plan_fingerprint`` (raise PlanLockedError if taken)."""
        ...
