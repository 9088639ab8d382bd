"""An in-memory adapter for tests and notebooks, with real transactions.

Every write inside a transaction records how to reverse itself, so an
exception restores the state exactly (and cheaply: the cost is the size of
the change, not of the database). It enforces what the SQL adapters'
schemas enforce (primary keys, the history tables' unique columns, links
and moves only to existing students and guardians), so engine tests
written against it hold on a real database.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from .._log import get_logger
from ..exceptions import MappingError, PlanLockedError, StorageError
from ..model import Contact, Roster, StaffMember, Student
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
from ._loading import PreparedRosters, history_key, prepare_rosters
from ._mapping import StorageMapping
from ._schema import (
    DEFAULT_GUARDIAN_HISTORY_TABLES,
    DEFAULT_HISTORY_TABLES,
    STUDENT_FIELDS,
    check_identifier,
)
from .adapter import ALL_TRANSACTION_CAPABILITIES, BaseStorage, BaseTransaction, Capability
from .codec import decode_entry, encode_entry, encode_value

__all__ = ["InMemoryStorage"]

log = get_logger(__name__)
_MISSING = object()
_APPEND = object()


class _UndoLog:
    """Writes that remember how to reverse themselves."""

    def __init__(self) -> None:
        self.ops: list[tuple[Any, Any, Any]] = []

    def put(self, container: dict[Any, Any], key: Any, value: Any) -> None:
        self.ops.append((container, key, container.get(key, _MISSING)))
        container[key] = value

    def pop(self, container: dict[Any, Any], key: Any) -> Any:
        old = container.pop(key)
        self.ops.append((container, key, old))
        return old

    def append(self, items: list[Any], value: Any) -> None:
        items.append(value)
        self.ops.append((items, _APPEND, None))

    def rollback(self) -> None:
        for container, key, old in reversed(self.ops):
            if key is _APPEND:
                container.pop()
            elif old is _MISSING:
                container.pop(key, None)
            else:
                container[key] = old
        self.ops.clear()


@attrs.define
class _State:
    tables: dict[str, HistoryTable]
    guardian_tables: frozenset[str] = frozenset()
    students: dict[str, StoredStudent] = attrs.Factory(dict)  # contacts kept in links
    guardians: dict[str, Contact] = attrs.Factory(dict)
    guardian_merged: dict[str, str] = attrs.Factory(dict)
    links: dict[str, dict[str, tuple[str | None, int]]] = attrs.Factory(dict)
    students_of: dict[str, dict[str, None]] = attrs.Factory(dict)  # guardian -> students
    account_links: dict[tuple[str, str, str], str] = attrs.Factory(dict)
    staff: dict[str, tuple[StaffMember, bool]] = attrs.Factory(dict)
    rows: dict[str, dict[RowKey, dict[str, Any]]] = attrs.Factory(dict)
    by_student: dict[str, dict[str, dict[RowKey, None]]] = attrs.Factory(dict)
    unique: dict[str, dict[RowKey, RowKey]] = attrs.Factory(dict)
    journal: dict[tuple[str, str], str] = attrs.Factory(dict)
    audit: list[AuditRecord] = attrs.Factory(list)


class InMemoryStorage(BaseStorage):
    """A :class:`~merge_engine.storage._base.StorageAdapter` held in dicts.

    ``rows`` gives initial history rows as ``{table: [column dicts]}``
    (student or guardian history tables).
    """

    capabilities = frozenset(
        {Capability.PLAN_LOCK, Capability.STUDENT_COUNTS, Capability.ROSTER_LOOKUP}
    )

    def __init__(
        self,
        archived: Roster | None = None,
        synced: Roster | None = None,
        *,
        history_tables: Sequence[HistoryTable] = DEFAULT_HISTORY_TABLES,
        guardian_history_tables: Sequence[HistoryTable] = DEFAULT_GUARDIAN_HISTORY_TABLES,
        rows: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    ) -> None:
        self.mapping = StorageMapping(
            history=tuple(history_tables), guardian_history=tuple(guardian_history_tables)
        )
        tables = {t.name: t for t in (*self.mapping.history, *self.mapping.guardian_history)}
        self._state = _State(tables, frozenset(t.name for t in self.mapping.guardian_history))
        self._open = False
        self._plan_locks: set[str] = set()
        self._plan_locks_guard = threading.Lock()
        for name in tables:
            self._state.rows[name] = {}
            self._state.by_student[name] = {}
            self._state.unique[name] = {}
        if archived is not None or synced is not None:
            empty = Roster(students=())
            self.load_prepared(prepare_rosters(archived or empty, synced or empty), replace=False)
        if rows:
            with self.transaction() as tx:
                for name, items in rows.items():
                    table = _table(self._state, name)
                    tx.insert_rows([HistoryRow(name, history_key(table, v), v) for v in items])

    def load_prepared(self, data: PreparedRosters, *, replace: bool) -> None:
        """Bulk-load checked rosters (used by the constructor and :func:`load_rosters`)."""
        state = self._state
        if state.students and not replace:
            raise StorageError("the database already holds students; pass replace=True to reload")
        fresh = _State(state.tables, state.guardian_tables, rows={n: {} for n in state.tables})
        fresh.by_student = {n: {} for n in state.tables}
        fresh.unique = {n: {} for n in state.tables}
        for student, archived in data.students:
            fresh.students[student.id] = StoredStudent(
                attrs.evolve(student, contacts=(), line=0), archived
            )
            fresh.links[student.id] = {}
        fresh.guardians.update(data.guardians)
        for student_id, guardian_id, relationship, order in data.links:
            fresh.links[student_id][guardian_id] = (relationship, order)
            fresh.students_of.setdefault(guardian_id, {})[student_id] = None
        fresh.staff.update({m.id: (m, archived) for m, archived in data.staff})
        self._state = fresh

    def read_roster(self, side: Side) -> Roster:
        if side not in ("archived", "synced"):
            raise ValueError(f"side must be 'archived' or 'synced', not {side!r}")
        state = self._state
        archived = side == "archived"
        students = [
            _with_contacts(state, s)
            for _, s in sorted(state.students.items())
            if s.archived == archived and (not archived or s.merged_into is None)
        ]
        staff = [m for _, (m, a) in sorted(state.staff.items()) if a == archived]
        return Roster(
            students=students,
            staff=staff,
            source="memory:",
            format="memory",
            has_dob_column=any(s.dob is not None for s in students),
        )

    def count_students(self, side: Side) -> int:
        if side not in ("archived", "synced"):
            raise ValueError(f"side must be 'archived' or 'synced', not {side!r}")
        archived = side == "archived"
        return sum(
            1
            for s in self._state.students.values()
            if s.archived == archived and (not archived or s.merged_into is None)
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        if self._open:
            raise StorageError("a transaction is already open on this storage; finish it first")
        self._open = True
        undo = _UndoLog()
        tx = _MemoryTransaction(self._state, undo)
        try:
            yield tx
        except BaseException:
            undo.rollback()
            log.debug("transaction_rolled_back", adapter="memory")
            raise
        finally:
            tx.closed = True
            self._open = False

    @contextlib.contextmanager
    def plan_lock(self, plan_fingerprint: str) -> Iterator[None]:
        """The plan's lock, per storage object (its data lives and dies with it)."""
        with self._plan_locks_guard:
            if plan_fingerprint in self._plan_locks:
                raise PlanLockedError.for_plan(plan_fingerprint)
            self._plan_locks.add(plan_fingerprint)
        try:
            yield
        finally:
            with self._plan_locks_guard:
                self._plan_locks.discard(plan_fingerprint)

    def audit_records(self) -> Iterator[AuditRecord]:
        return iter(list(self._state.audit))

    def close(self) -> None:
        """Nothing to release."""

    def snapshot(self) -> dict[str, Any]:
        """The whole state as deterministic plain data, to compare in tests."""
        state = self._state
        return {
            "students": [_student_dict(s) for _, s in sorted(state.students.items())],
            "guardians": [
                {**attrs.asdict(g), "merged_into": state.guardian_merged.get(i)}
                for i, g in sorted(state.guardians.items())
            ],
            "account_links": sorted([*k, mode] for k, mode in state.account_links.items()),
            "links": sorted(
                [s, g, rel, order]
                for s, links in state.links.items()
                for g, (rel, order) in links.items()
            ),
            "staff": [[attrs.asdict(m), a] for _, (m, a) in sorted(state.staff.items())],
            "history": {
                name: [_plain_row(rows[k]) for k in sorted(rows)]
                for name, rows in sorted(state.rows.items())
            },
            "journal": [[*k, v] for k, v in sorted(state.journal.items())],
            "audit": [attrs.asdict(r) for r in state.audit],
        }


def _table(state: _State, name: str) -> HistoryTable:
    table = state.tables.get(name)
    if table is None:
        raise MappingError(f"{name!r} is not a configured history table; add it to the mapping")
    return table


def _with_contacts(state: _State, stored: StoredStudent) -> Student:
    links = state.links.get(stored.student.id, {})
    ordered = sorted(links.items(), key=lambda item: (item[1][1], item[0]))
    contacts = [attrs.evolve(state.guardians[gid], relationship=rel) for gid, (rel, _) in ordered]
    return attrs.evolve(stored.student, contacts=contacts)


def _plain_row(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: encode_value(v) for k, v in sorted(values.items())}


def _student_dict(stored: StoredStudent) -> dict[str, Any]:
    s = stored.student
    data: dict[str, Any] = {
        "id": s.id,
        "archived": stored.archived,
        "merged_into": stored.merged_into,
    }
    for name in STUDENT_FIELDS:
        data[name] = encode_value(getattr(s, name))
    return data


class _MemoryTransaction(BaseTransaction):
    """The transaction of :class:`InMemoryStorage` (its batch-level methods are the defaults)."""

    # The batch-level methods are the base's loops (as fast as anything in memory),
    # declared so the engine's batching runs on the in-memory adapter too.
    capabilities = ALL_TRANSACTION_CAPABILITIES

    def __init__(self, state: _State, undo: _UndoLog) -> None:
        self._state = state
        self._undo = undo
        self.closed = False

    def _check(self) -> _State:
        if self.closed:
            raise StorageError("this transaction is finished; open a new one")
        return self._state

    def _require_student(self, student_id: str) -> None:
        if student_id not in self._state.students:
            raise StorageError(f"no student with id {student_id!r}")

    def _require_guardian(self, guardian_id: str) -> None:
        if guardian_id not in self._state.guardians:
            raise StorageError(f"no guardian with id {guardian_id!r}")

    def _require_owner(self, table: HistoryTable, owner: str) -> None:
        if table.name in self._state.guardian_tables:
            self._require_guardian(owner)
        else:
            self._require_student(owner)

    def students(self, ids: Sequence[str]) -> Mapping[str, StoredStudent]:
        state = self._check()
        return {
            i: attrs.evolve(state.students[i], student=_with_contacts(state, state.students[i]))
            for i in sorted(set(ids))
            if i in state.students
        }

    def history_tables(self) -> Sequence[HistoryTable]:
        state = self._check()
        return tuple(t for n, t in state.tables.items() if n not in state.guardian_tables)

    def history_rows(self, table: str, student_id: str) -> list[HistoryRow]:
        state = self._check()
        _table(state, table)
        keys = state.by_student[table].get(student_id, {})
        rows = state.rows[table]
        return [HistoryRow(table, k, dict(rows[k])) for k in sorted(keys)]

    def _unique_key(self, table: HistoryTable, values: Mapping[str, Any]) -> RowKey | None:
        if not table.unique:
            return None
        return (values[table.student_column], *(values[c] for c in table.unique))

    def _index(self, table: HistoryTable, key: RowKey, values: dict[str, Any]) -> None:
        state, undo = self._state, self._undo
        student = values[table.student_column]
        self._require_owner(table, student)
        unique_key = self._unique_key(table, values)
        if unique_key is not None:
            holder = state.unique[table.name].get(unique_key)
            if holder is not None and holder != key:
                raise StorageError(
                    f"{table.name}: the move or insert would give student {student!r} two rows "
                    f"with the same {', '.join(table.unique)}; set one aside first"
                )
            undo.put(state.unique[table.name], unique_key, key)
        per_student = state.by_student[table.name]
        if student not in per_student:
            undo.put(per_student, student, {})
        undo.put(per_student[student], key, None)
        undo.put(state.rows[table.name], key, values)

    def _unindex(self, table: HistoryTable, key: RowKey) -> dict[str, Any]:
        state, undo = self._state, self._undo
        values: dict[str, Any] = undo.pop(state.rows[table.name], key)
        undo.pop(state.by_student[table.name][values[table.student_column]], key)
        unique_key = self._unique_key(table, values)
        if unique_key is not None:
            undo.pop(state.unique[table.name], unique_key)
        return values

    def move_rows(self, table: str, keys: Sequence[RowKey], to_student: str) -> int:
        state = self._check()
        spec = _table(state, table)
        self._require_owner(spec, to_student)
        moved = 0
        for given in keys:
            key = tuple(given)
            if key not in state.rows[table]:
                continue
            values = self._unindex(spec, key)
            self._index(spec, key, {**values, spec.student_column: to_student})
            moved += 1
        return moved

    def remove_rows(self, table: str, keys: Sequence[RowKey]) -> int:
        state = self._check()
        spec = _table(state, table)
        removed = 0
        for key in keys:
            if tuple(key) in state.rows[table]:
                self._unindex(spec, tuple(key))
                removed += 1
        return removed

    def insert_rows(self, rows: Sequence[HistoryRow]) -> None:
        state = self._check()
        for row in rows:
            spec = _table(state, row.table)
            values = dict(row.values)
            for column in values:
                check_identifier(column, f"a {row.table!r} row's column")
            key = history_key(spec, values)
            if spec.student_column not in values:
                raise StorageError(f"a {row.table!r} row lacks its student column")
            if key in state.rows[row.table]:
                raise StorageError(f"{row.table}: a row with key {key!r} already exists")
            self._index(spec, key, values)

    def guardian_links(self, student_id: str) -> list[GuardianLink]:
        links = self._check().links.get(student_id, {})
        return [GuardianLink(student_id, g, *links[g]) for g in sorted(links)]

    def add_guardian_link(self, link: GuardianLink) -> None:
        state = self._check()
        self._require_student(link.student_id)
        if link.guardian_id not in state.guardians:
            raise StorageError(f"no guardian with id {link.guardian_id!r}")
        links = state.links.setdefault(link.student_id, {})
        if link.guardian_id in links:
            raise StorageError(
                f"guardian {link.guardian_id!r} is already linked to student {link.student_id!r}"
            )
        order = link.order
        if order is None:
            order = max((o for _, o in links.values()), default=-1) + 1
        self._undo.put(links, link.guardian_id, (link.relationship, order))
        if link.guardian_id not in state.students_of:
            self._undo.put(state.students_of, link.guardian_id, {})
        self._undo.put(state.students_of[link.guardian_id], link.student_id, None)

    def remove_guardian_link(self, link: GuardianLink) -> None:
        state = self._check()
        links = state.links.get(link.student_id, {})
        if link.guardian_id in links:
            self._undo.pop(links, link.guardian_id)
            self._undo.pop(state.students_of[link.guardian_id], link.student_id)

    # -- Guardian accounts (AccountTransaction) ----------------------------------------------

    def guardians(self, ids: Sequence[str]) -> Mapping[str, StoredGuardian]:
        state = self._check()
        return {
            i: StoredGuardian(i, state.guardian_merged.get(i))
            for i in sorted(set(ids))
            if i in state.guardians
        }

    def guardian_contacts(self, ids: Sequence[str]) -> Mapping[str, Contact]:
        state = self._check()
        return {i: state.guardians[i] for i in sorted(set(ids)) if i in state.guardians}

    def guardian_history_tables(self) -> Sequence[HistoryTable]:
        state = self._check()
        return tuple(t for n, t in state.tables.items() if n in state.guardian_tables)

    def links_of_guardian(self, guardian_id: str) -> list[GuardianLink]:
        state = self._check()
        students = state.students_of.get(guardian_id, {})
        return [
            GuardianLink(s, guardian_id, *state.links[s][guardian_id]) for s in sorted(students)
        ]

    def set_guardian_merged_into(self, guardian_id: str, into_id: str | None) -> None:
        state = self._check()
        self._require_guardian(guardian_id)
        if into_id is None:
            if guardian_id in state.guardian_merged:
                self._undo.pop(state.guardian_merged, guardian_id)
            return
        self._require_guardian(into_id)
        self._undo.put(state.guardian_merged, guardian_id, into_id)

    def account_links(self, account_id: str) -> list[AccountLink]:
        state = self._check()
        return [
            AccountLink(kind, first, second, mode)  # type: ignore[arg-type]
            for (kind, first, second), mode in sorted(state.account_links.items())
            if account_id in (first, second)
        ]

    def add_account_link(self, link: AccountLink) -> None:
        state = self._check()
        if link.kind == "staff_guardian":
            if link.first_id not in state.staff:
                raise StorageError(f"no staff member with id {link.first_id!r}")
        else:
            self._require_guardian(link.first_id)
        self._require_guardian(link.second_id)
        key = (link.kind, link.first_id, link.second_id)
        if key in state.account_links:
            raise StorageError(
                f"accounts {link.first_id!r} and {link.second_id!r} are already linked"
            )
        self._undo.put(state.account_links, key, link.mode)

    def remove_account_link(self, link: AccountLink) -> None:
        state = self._check()
        key = (link.kind, link.first_id, link.second_id)
        if key in state.account_links:
            self._undo.pop(state.account_links, key)

    def set_merged_into(self, archived_id: str, synced_id: str | None) -> None:
        state = self._check()
        self._require_student(archived_id)
        if synced_id is not None:
            self._require_student(synced_id)
        stored = state.students[archived_id]
        self._undo.put(state.students, archived_id, attrs.evolve(stored, merged_into=synced_id))

    def audit_records_of(self, archived_ids: Sequence[str]) -> Sequence[AuditRecord]:
        wanted = set(archived_ids)
        return [r for r in self._check().audit if r.archived_id in wanted]

    def journal(self, plan_fingerprint: str, archived_id: str) -> JournalEntry | None:
        text = self._check().journal.get((plan_fingerprint, archived_id))
        return None if text is None else decode_entry(text)

    def write_journal(self, entry: JournalEntry) -> None:
        state = self._check()
        self._undo.put(
            state.journal, (entry.plan_fingerprint, entry.archived_id), encode_entry(entry)
        )

    def write_audit(self, record: AuditRecord) -> None:
        state = self._check()
        if record.action not in ("apply", "undo"):
            raise StorageError("audit action must be 'apply' or 'undo'")
        self._undo.append(state.audit, attrs.evolve(record, rows=dict(record.rows)))
