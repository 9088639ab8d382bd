"""Import an archived and a synced roster (and history rows) into a database.

Loading is for the reference schema, demos, tests and benchmarks: the real
platform already holds its students. The rosters are checked first (one id
per student across both sides, one set of details per guardian account,
no guardian listed twice for a student), then written in one transaction.

Re-loading: a database that already holds students is refused unless
``replace=True``, which first empties every mapped table (roster, history,
journal and audit) and is only allowed on the reference schema's tables.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

import attrs
from attrs import frozen

from .._log import get_logger
from ..exceptions import StorageError
from ..model import Contact, Roster, StaffMember, Student
from ._base import AccountTransaction, HistoryRow, HistoryTable, StorageAdapter
from .adapter import Capability, capabilities_of

if TYPE_CHECKING:
    from ._mapping import StorageMapping

__all__ = ["LoadReport", "PreparedRosters", "load_history", "load_rosters", "prepare_rosters"]

log = get_logger(__name__)


@frozen
class PreparedRosters:
    """Both rosters as plain rows, checked and ready for any adapter to write.

    ``links`` are ``(student_id, guardian_id, relationship, order)`` where
    ``order`` is the contact's position on its student.
    """

    students: tuple[tuple[Student, bool], ...]  # (student, archived)
    guardians: Mapping[str, Contact]  # guardian id -> account details (no relationship)
    links: tuple[tuple[str, str, str | None, int], ...]
    staff: tuple[tuple[StaffMember, bool], ...]


@frozen
class LoadReport:
    """What :func:`load_rosters` wrote."""

    archived_students: int
    synced_students: int
    guardians: int
    links: int
    staff: int
    replaced: bool
    seconds: float


@runtime_checkable
class RosterLoader(Protocol):
    """Adapters that can bulk-load prepared rosters (all three built-in ones)."""

    mapping: StorageMapping

    def load_prepared(self, data: PreparedRosters, *, replace: bool) -> None: ...


@runtime_checkable
class StatisticsRefresher(Protocol):
    """Adapters whose database plans queries from table statistics that a bulk load leaves
    stale (PostgreSQL): refreshed after every load."""

    def refresh_statistics(self) -> None: ...


def _details(contact: Contact) -> tuple[Any, ...]:
    return (contact.first_name, contact.last_name, contact.email, contact.phone, contact.sis_id)


def prepare_rosters(archived: Roster, synced: Roster) -> PreparedRosters:
    """Check both rosters can be stored and flatten them; raise :class:`StorageError`."""
    seen: dict[str, str] = {}
    students: list[tuple[Student, bool]] = []
    guardians: dict[str, Contact] = {}
    links: list[tuple[str, str, str | None, int]] = []
    for side, roster in (("archived", archived), ("synced", synced)):
        for student in roster.students:
            if student.id in seen:
                raise StorageError(
                    f"student id {student.id!r} is on the {seen[student.id]} roster and again "
                    f"on the {side} roster; ids must be unique across both"
                )
            seen[student.id] = side
            students.append((student, side == "archived"))
            listed: set[str] = set()
            for order, contact in enumerate(student.contacts):
                gid = contact.guardian_id
                if gid in listed:
                    raise StorageError(
                        f"student {student.id!r} lists guardian {gid!r} twice; keep one contact row"
                    )
                listed.add(gid)
                known = guardians.setdefault(gid, attrs.evolve(contact, relationship=None))
                if _details(known) != _details(contact):
                    raise StorageError(
                        f"guardian {gid!r} has different names, email, phone or SIS id on "
                        f"student {student.id!r} than on another student; a database keeps one "
                        "set per guardian account, so make the contact rows agree"
                    )
                links.append((student.id, gid, contact.relationship, order))
    staff: list[tuple[StaffMember, bool]] = []
    staff_seen: set[str] = set()
    for side, roster in (("archived", archived), ("synced", synced)):
        for member in roster.staff:
            if member.id in staff_seen:
                raise StorageError(
                    f"staff id {member.id!r} appears twice across the rosters; ids must be unique"
                )
            staff_seen.add(member.id)
            staff.append((member, side == "archived"))
    return PreparedRosters(tuple(students), guardians, tuple(links), tuple(staff))


def load_rosters(
    storage_or_url: StorageAdapter | str, archived: Roster, synced: Roster, *, replace: bool = False
) -> LoadReport:
    """Write both rosters into an (empty) database; see the module docstring.

    A URL is opened with ``create=True`` (the reference schema is created if
    missing) and closed afterwards.
    """
    start = time.perf_counter()
    data = prepare_rosters(archived, synced)
    if isinstance(storage_or_url, str):
        from . import open_storage  # noqa: PLC0415  (the package imports this module)

        storage = open_storage(storage_or_url, create=True)
        try:
            _load(storage, data, replace)
        finally:
            storage.close()
    else:
        _load(storage_or_url, data, replace)
    report = LoadReport(
        archived_students=sum(1 for _, a in data.students if a),
        synced_students=sum(1 for _, a in data.students if not a),
        guardians=len(data.guardians),
        links=len(data.links),
        staff=len(data.staff),
        replaced=replace,
        seconds=round(time.perf_counter() - start, 3),
    )
    log.info("rosters_loaded", **attrs.asdict(report))
    return report


def _load(storage: object, data: PreparedRosters, replace: bool) -> None:
    if not isinstance(storage, RosterLoader):
        raise StorageError(
            f"{type(storage).__name__} cannot bulk-load rosters; use one of the built-in adapters"
        )
    if replace and not storage.mapping.is_reference:
        raise StorageError(
            "replace=True empties every mapped table, so it only runs on the reference schema's "
            "tables; load into an empty database instead"
        )
    storage.load_prepared(data, replace=replace)


def history_key(table: HistoryTable, values: Mapping[str, Any]) -> tuple[Any, ...]:
    """The primary key of a history row given as a dict of column values."""
    try:
        return tuple(values[c] for c in table.primary_key)
    except KeyError as exc:
        raise StorageError(
            f"a {table.name!r} row lacks primary-key column {exc.args[0]!r}; give every row its key"
        ) from None


def load_history(storage: StorageAdapter, rows: Mapping[str, Iterable[Mapping[str, Any]]]) -> int:
    """Insert history rows (``{table: [row dicts]}``) in one transaction; returns the count."""
    total = 0
    with storage.transaction() as tx:
        tables = {t.name: t for t in tx.history_tables()}
        if Capability.ACCOUNTS in capabilities_of(tx):
            guardian_tables = cast(AccountTransaction, tx).guardian_history_tables()
            tables.update({t.name: t for t in guardian_tables})
        for name, items in rows.items():
            table = tables.get(name)
            if table is None:
                raise StorageError(
                    f"{name!r} is not a configured history table; add it to the mapping"
                )
            batch = [HistoryRow(name, history_key(table, v), dict(v)) for v in items]
            tx.insert_rows(batch)
            total += len(batch)
    if isinstance(storage, StatisticsRefresher):
        storage.refresh_statistics()
    return total
