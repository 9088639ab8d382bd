"""The contract suite's district and the helpers its tests share (see :mod:`.contract`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import attrs
import pytest
from attrs import field, frozen

from ..model import Contact, Roster, StaffMember, Student
from ..storage import (
    DEFAULT_GUARDIAN_HISTORY_TABLES,
    DEFAULT_HISTORY_TABLES,
    AccountTransaction,
    BaseTransaction,
    Capability,
    HistoryTable,
    StorageAdapter,
    Transaction,
    capabilities_of,
)
from ..storage._base import BulkTransaction
from ..storage._schema import STUDENT_FIELDS

__all__ = ["CONTRACT_DISTRICT", "ContractBase", "ContractDistrict"]

MOTHER = Contact("g1", "Maria", "Lopez", "maria@example.org", "+15555550101", "Mother")
FATHER = Contact("g2", "Jose", "Lopez", None, "+15555550102", "Father", sis_id="P-2")
A1 = Student(
    "a1", "Ana", "Lopez", middle_name="B", dob=dt.date(2015, 3, 4), grade=3, gender="F",
    school_id="sch1", sis_id="100", state_id="ST1", student_number="N1", email="ana@example.org",
    street="1 Main St", city="Springfield", state="IL", zip="62701",
    contacts=(FATHER, MOTHER),  # deliberately not in guardian-id order
    line=2,
)  # fmt: skip
A2 = Student("a2", "Ben", "Ng", grade=0, contacts=(Contact("g3", "Li", "Ng", relationship=None),))
A3 = Student("a3", "Cy", "Oh", grade=-2)
S1 = Student(
    "s1", "Ana", "Lopez", dob=dt.date(2015, 3, 4), grade=4, gender="F", school_id="sch1",
    contacts=(Contact("g4", "Rosa", "Diaz", "rosa@example.org", None, "Grandparent"), MOTHER),
)  # fmt: skip
S2 = Student("s2", "Dee", "Park", dob=dt.date(2010, 12, 31), grade=9)
ARCHIVED = Roster([A1, A2, A3], staff=[StaffMember("t1", "Tom", "Hart", school_id="sch1")])
SYNCED = Roster([S1, S2], staff=[StaffMember("t2", "Una", "Vale", email="u@example.org")])

STAMP = "2024-01-05T08:00:00+00:00"
ROWS: dict[str, list[dict[str, Any]]] = {
    "messages": [
        {"id": 3, "student_id": "a1", "sent_at": STAMP, "body": "second"},
        {"id": 1, "student_id": "a1", "sent_at": STAMP, "body": "first"},
        {"id": 2, "student_id": "s1", "sent_at": STAMP, "body": "synced"},
        {"id": 7, "student_id": "a1", "sent_at": STAMP, "body": "third"},
    ],
    "notes": [{"id": 1, "student_id": "a2", "created_at": STAMP, "body": "note"}],
    "attendance": [
        {"id": 1, "student_id": "a1", "day": "2024-01-05", "status": "present"},
        {"id": 2, "student_id": "a1", "day": "2024-01-06", "status": "absent"},
        {"id": 3, "student_id": "s1", "day": "2024-01-05", "status": "present"},
    ],
    "backpack_items": [
        {"id": 1, "student_id": "a1", "kind": "form", "title": "permission", "added_at": STAMP}
    ],
    "guardian_messages": [
        {"id": 1, "guardian_id": "g1", "sent_at": STAMP, "body": "old account"},
        {"id": 2, "guardian_id": "g4", "sent_at": STAMP, "body": "new account"},
    ],
}


def _tables(tables: Sequence[HistoryTable]) -> tuple[HistoryTable, ...]:
    return tuple(tables)


@frozen
class ContractDistrict:
    """What a contract test's storage must hold when the test starts.

    ``archived`` and ``synced`` students (with their guardian accounts as
    contacts, in this order), their staff, and ``rows`` of the ``history``
    and ``guardian_history`` tables (``{table: [column dicts]}``). Every
    column of every row is an integer or text (dates as ISO text).
    """

    archived: Roster
    synced: Roster
    rows: Mapping[str, Sequence[Mapping[str, Any]]]
    history: tuple[HistoryTable, ...] = field(converter=_tables)
    guardian_history: tuple[HistoryTable, ...] = field(converter=_tables)


#: The tiny district every contract test starts from.
CONTRACT_DISTRICT = ContractDistrict(
    ARCHIVED, SYNCED, ROWS, DEFAULT_HISTORY_TABLES, DEFAULT_GUARDIAN_HISTORY_TABLES
)
STUDENT_IDS = ("a1", "a2", "a3", "s1", "s2")
GUARDIAN_IDS = ("g1", "g2", "g3", "g4")
STAFF_IDS = ("t1", "t2")

T = TypeVar("T")


def text(value: Any) -> str:
    """A value as comparable text across adapters (DATE vs ISO text)."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class ContractBase:
    """The storage fixture and helpers; see :class:`~.contract.AdapterContract`."""

    #: The optional ``Student`` fields the adapter stores (others read back as None).
    student_fields: ClassVar[Sequence[str]] = tuple(STUDENT_FIELDS)
    #: The optional ``Contact`` fields it stores (guardian accounts' details).
    contact_fields: ClassVar[Sequence[str]] = ("email", "phone", "relationship", "sis_id")
    #: Whether ``read_roster`` reads staff (needed only for multiple-role links).
    reads_staff: ClassVar[bool] = True

    def make_storage(self, district: ContractDistrict, tmp_path: Path) -> StorageAdapter:
        """A fresh storage holding ``district`` (override: ``staticmethod(factory)`` will do)."""
        raise NotImplementedError("set make_storage on your AdapterContract subclass")

    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[StorageAdapter]:
        """The contract district in a fresh storage, closed afterwards."""
        adapter = self.make_storage(CONTRACT_DISTRICT, tmp_path)
        try:
            yield adapter
        finally:
            adapter.close()

    # -- Helpers ---------------------------------------------------------------------------

    def stored(self, value: T) -> T:
        """``value`` (a student, contact or staff member) as the adapter reads it back."""
        if isinstance(value, Student):
            names = (f for f in STUDENT_FIELDS if f not in ("first_name", "last_name"))
            blank: dict[str, Any] = {f: None for f in names if f not in self.student_fields}
            blank["contacts"] = tuple(self.stored(c) for c in value.contacts)
            return cast(T, attrs.evolve(cast(Any, value), line=0, **blank))
        if isinstance(value, Contact):
            optional = ("email", "phone", "relationship", "sis_id")
            gone = {f: None for f in optional if f not in self.contact_fields}
            return cast(T, attrs.evolve(cast(Any, value), **gone))
        return value

    def staff(self, roster: Roster) -> tuple[StaffMember, ...]:
        """The staff ``read_roster`` gives back for ``roster`` (none when it reads none)."""
        return roster.staff if self.reads_staff else ()

    def bulk(self, tx: Transaction) -> BulkTransaction:
        """``tx`` with its batch-level methods (its own or :class:`BaseTransaction`'s)."""
        declared = capabilities_of(tx) & {Capability.BULK_READS, Capability.BULK_WRITES}
        if not declared and not isinstance(tx, BaseTransaction):
            pytest.skip("the transaction neither declares nor inherits batch-level methods")
        return cast(BulkTransaction, tx)

    def accounts(self, tx: Transaction) -> AccountTransaction:
        """``tx`` as an account transaction (the test skips without Capability.ACCOUNTS)."""
        if Capability.ACCOUNTS not in capabilities_of(tx):
            pytest.skip("the adapter does not declare Capability.ACCOUNTS")
        return cast(AccountTransaction, tx)

    def require_accounts(self, storage: StorageAdapter) -> None:
        """Skip the test unless the adapter's transactions declare Capability.ACCOUNTS."""
        with storage.transaction() as tx:
            self.accounts(tx)

    def state(self, storage: StorageAdapter) -> Any:
        """Everything the contract can read of the district, to compare before and after."""
        ids = list(STUDENT_IDS)
        keys = [*ids, *(f"{kind}:{g}" for kind in ("guardian", "fold") for g in GUARDIAN_IDS)]
        with storage.transaction() as tx:
            out: dict[str, Any] = {
                "students": dict(tx.students(ids)),
                "rows": {
                    t.name: {i: tx.history_rows(t.name, i) for i in ids}
                    for t in tx.history_tables()
                },
                "links": {i: [(x, x.order) for x in tx.guardian_links(i)] for i in ids},
                "journal": {(p, k): tx.journal(p, k) for p in ("plan-1", "plan-2") for k in keys},
            }
            if Capability.ACCOUNTS in capabilities_of(tx):
                acc = cast(AccountTransaction, tx)
                gids = list(GUARDIAN_IDS)
                out["guardians"] = dict(acc.guardians(gids))
                out["links_of"] = {
                    g: [(x, x.order) for x in acc.links_of_guardian(g)] for g in gids
                }
                out["account_links"] = {a: acc.account_links(a) for a in (*gids, *STAFF_IDS)}
                out["guardian_rows"] = {
                    t.name: {g: tx.history_rows(t.name, g) for g in gids}
                    for t in acc.guardian_history_tables()
                }
        out["rosters"] = [storage.read_roster("archived"), storage.read_roster("synced")]
        out["audit"] = list(storage.audit_records())
        return out
