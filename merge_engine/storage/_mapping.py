"""Where a platform keeps students, guardians, staff and history: a declared mapping.

Platforms already have their own tables, so the SQL adapters never assume
names: a :class:`StorageMapping` says which table and columns hold what.
The default mapping *is* the reference schema (:mod:`.schema`). Mappings
load from TOML or JSON (:meth:`StorageMapping.from_file`) and are checked
when built: every name against the identifier allow-list, every key
against the known ones, so a typo fails before any SQL runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import field, frozen

from .._config import read_config
from ..exceptions import MappingError
from ._base import HistoryTable
from ._schema import (
    DEFAULT_GUARDIAN_HISTORY_TABLES,
    DEFAULT_HISTORY_TABLES,
    GUARDIAN_FIELDS,
    STAFF_FIELDS,
    STUDENT_FIELDS,
    check_identifier,
    validate_history_tables,
)

__all__ = [
    "AccountLinkTable",
    "GuardianTable",
    "LinkTable",
    "StaffTable",
    "StorageMapping",
    "StudentTable",
]

FlagValue = str | int | bool
_REQUIRED_FIELDS = ("first_name", "last_name")


def _tables(value: Iterable[HistoryTable]) -> tuple[HistoryTable, ...]:
    return tuple(value)


def _student_fields() -> dict[str, str | None]:
    return {n: n for n in STUDENT_FIELDS}


def _guardian_fields() -> dict[str, str | None]:
    return {n: n for n in GUARDIAN_FIELDS}


def _staff_fields() -> dict[str, str | None]:
    return {n: n for n in STAFF_FIELDS}


@frozen
class StudentTable:
    """The students table. A student is archived when ``archived_column`` equals
    ``archived_value`` and synced (active) when it equals ``active_value``.

    ``fields`` maps each Student attribute to its column, or ``None`` when the
    platform does not store it; when given, it is complete (attributes left out
    are not stored).
    """

    table: str = "students"
    id: str = "id"
    archived_column: str = "archived"
    archived_value: FlagValue = 1
    active_value: FlagValue = 0
    merged_into: str = "merged_into"
    updated_at: str | None = "updated_at"
    fields: dict[str, str | None] = field(factory=_student_fields, converter=dict)


@frozen
class GuardianTable:
    """Guardian accounts (one row per account, shared by siblings).

    ``merged_into`` names the column marking an account merged into another
    (needed to apply guardian merges; ``None`` when the platform has none).
    """

    table: str = "guardians"
    id: str = "id"
    fields: dict[str, str | None] = field(factory=_guardian_fields, converter=dict)
    merged_into: str | None = "merged_into"


@frozen
class AccountLinkTable:
    """Where multiple-role links are recorded: one row per pair of accounts of one adult.

    ``kind`` holds ``staff_guardian`` or ``guardian_guardian``; ``mode``
    ``link`` or ``merge`` (the district asked for one account per person).
    """

    table: str = "account_links"
    kind: str = "kind"
    first_id: str = "first_id"
    second_id: str = "second_id"
    mode: str = "mode"


@frozen
class LinkTable:
    """The student-guardian link table.

    ``order`` (optional) keeps each student's contacts in the order they were
    loaded; without it contacts are read in guardian-id order.
    """

    table: str = "student_guardians"
    student_id: str = "student_id"
    guardian_id: str = "guardian_id"
    relationship: str | None = "relationship"
    order: str | None = "contact_order"


@frozen
class StaffTable:
    """Staff accounts, with the same archived/active convention as students."""

    table: str = "staff"
    id: str = "id"
    archived_column: str = "archived"
    archived_value: FlagValue = 1
    active_value: FlagValue = 0
    fields: dict[str, str | None] = field(factory=_staff_fields, converter=dict)


_SECTIONS: dict[str, tuple[type[Any], tuple[str, ...]]] = {
    "students": (StudentTable, STUDENT_FIELDS),
    "guardians": (GuardianTable, GUARDIAN_FIELDS),
    "links": (LinkTable, ()),
    "staff": (StaffTable, STAFF_FIELDS),
    "account_links": (AccountLinkTable, ()),
}
_HISTORY_KEYS = ("name", "student_column", "primary_key", "unique", "survivor")


@frozen
class StorageMapping:
    """Which tables and columns the engine reads and writes.

    ``staff`` may be ``None`` (no staff table), and so may ``account_links``
    (then multiple-role links cannot be applied). ``guardian_history``
    lists tables whose rows belong to a guardian account and move with a
    guardian merge (``student_column`` names the guardian column there).
    ``journal_table`` and
    ``audit_table`` are created by the adapter if missing. ``schema`` names a
    database schema (PostgreSQL) holding all the tables; ``None`` is the
    connection's default.
    """

    students: StudentTable = field(factory=StudentTable)
    guardians: GuardianTable = field(factory=GuardianTable)
    links: LinkTable = field(factory=LinkTable)
    staff: StaffTable | None = field(factory=StaffTable)
    history: tuple[HistoryTable, ...] = field(default=DEFAULT_HISTORY_TABLES, converter=_tables)
    guardian_history: tuple[HistoryTable, ...] = field(
        default=DEFAULT_GUARDIAN_HISTORY_TABLES, converter=_tables
    )
    account_links: AccountLinkTable | None = field(factory=AccountLinkTable)
    journal_table: str = "merge_journal"
    audit_table: str = "merge_audit"
    schema: str | None = None

    def __attrs_post_init__(self) -> None:
        _validate(self)

    @property
    def is_reference(self) -> bool:
        """True when the roster tables are the reference schema's (history may differ)."""
        default = StorageMapping()
        return (self.students, self.guardians, self.links, self.staff) == (
            default.students,
            default.guardians,
            default.links,
            default.staff,
        )

    def with_schema(self, schema: str | None) -> StorageMapping:
        return attrs.evolve(self, schema=schema)

    def table_names(self) -> tuple[str, ...]:
        """Every table the mapping names, roster tables first."""
        names = [self.students.table, self.guardians.table, self.links.table]
        if self.staff is not None:
            names.append(self.staff.table)
        if self.account_links is not None:
            names.append(self.account_links.table)
        return (
            *names,
            *(t.name for t in self.history),
            *(t.name for t in self.guardian_history),
            self.journal_table,
            self.audit_table,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> StorageMapping:
        """Read a mapping from a ``.toml`` or ``.json`` file (see docs/adapters.md)."""
        data = read_config(path, MappingError, "mapping")
        try:
            return cls.from_dict(data)
        except MappingError as exc:
            raise MappingError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StorageMapping:
        """Build a mapping from plain data; unknown keys are errors, missing ones defaults."""
        top = (
            "students",
            "guardians",
            "links",
            "staff",
            "history",
            "guardian_history",
            "account_links",
            "journal_table",
            "audit_table",
            "schema",
        )
        _no_unknown(data, top, "mapping")
        kwargs: dict[str, Any] = {}
        for section, (kind, field_names) in _SECTIONS.items():
            if section not in data:
                continue
            value = data[section]
            if section in ("staff", "account_links") and value is False:
                kwargs[section] = None
                continue
            kwargs[section] = _section(kind, section, value, field_names)
        for key in ("history", "guardian_history"):
            if key in data:
                kwargs[key] = _history(data[key], key)
        for key in ("journal_table", "audit_table", "schema"):
            if key in data:
                kwargs[key] = data[key]
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back (``None`` columns become ``false``)."""

        def plain(value: Any) -> Any:
            data = attrs.asdict(value)
            if "fields" in data:
                data["fields"] = {k: (False if v is None else v) for k, v in data["fields"].items()}
            return {k: (False if v is None else v) for k, v in data.items()}

        result: dict[str, Any] = {
            "students": plain(self.students),
            "guardians": plain(self.guardians),
            "links": plain(self.links),
            "staff": False if self.staff is None else plain(self.staff),
            "account_links": False if self.account_links is None else plain(self.account_links),
            "history": [_history_dict(t) for t in self.history],
            "guardian_history": [_history_dict(t) for t in self.guardian_history],
            "journal_table": self.journal_table,
            "audit_table": self.audit_table,
        }
        if self.schema is not None:
            result["schema"] = self.schema
        return result


def _history_dict(table: HistoryTable) -> dict[str, Any]:
    return {
        "name": table.name,
        "student_column": table.student_column,
        "primary_key": list(table.primary_key),
        "unique": list(table.unique),
        "survivor": table.survivor,
    }


def _no_unknown(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    if not isinstance(data, Mapping):
        raise MappingError(f"{where}: expected a table of settings, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise MappingError(
            f"{where}: unknown key {unknown[0]!r}; allowed keys are {', '.join(allowed)}"
        )


def _column(value: Any) -> str | None:
    """``false`` or an empty string in a file means: not stored."""
    return None if value is False or value == "" or value is None else value


def _section(kind: type[Any], name: str, value: Any, field_names: tuple[str, ...]) -> Any:
    allowed = tuple(a.name for a in attrs.fields(kind))
    _no_unknown(value, allowed, name)
    kwargs = {k: v for k, v in value.items() if k != "fields"}
    for key in ("updated_at", "relationship", "order", "merged_into"):
        if key in kwargs:
            kwargs[key] = _column(kwargs[key])
    if "fields" in value:
        _no_unknown(value["fields"], field_names, f"{name}.fields")
        kwargs["fields"] = {f: _column(value["fields"].get(f)) for f in field_names}
    return kind(**kwargs)


def _history(value: Any, section: str = "history") -> tuple[HistoryTable, ...]:
    if not isinstance(value, list):
        raise MappingError(f"{section}: expected a list of tables ([[{section}]] in TOML)")
    tables = []
    for i, item in enumerate(value):
        _no_unknown(item, _HISTORY_KEYS, f"{section}[{i}]")
        if "name" not in item:
            raise MappingError(f"{section}[{i}]: every history table needs a name")
        kwargs = dict(item)
        for key in ("primary_key", "unique"):
            if key in kwargs:
                if isinstance(kwargs[key], str):
                    kwargs[key] = (kwargs[key],)
                elif not isinstance(kwargs[key], list | tuple):
                    raise MappingError(f"{section}[{i}].{key}: expected a list of column names")
        tables.append(HistoryTable(**kwargs))
    return tuple(tables)


def _check_flag(value: object, where: str) -> None:
    if not isinstance(value, str | int | bool):
        raise MappingError(f"{where}: expected a string, integer or boolean value")


def _check_fields(
    fields: Mapping[str, str | None], names: tuple[str, ...], where: str, required: tuple[str, ...]
) -> None:
    unknown = sorted(set(fields) - set(names))
    if unknown:
        raise MappingError(
            f"{where}.fields: unknown field {unknown[0]!r}; known: {', '.join(names)}"
        )
    for name in names:
        column = fields.get(name)
        if column is None:
            if name in required:
                raise MappingError(f"{where}.fields.{name}: required; name the column holding it")
            continue
        check_identifier(column, f"{where}.fields.{name}")


def _validate(mapping: StorageMapping) -> None:
    s = mapping.students
    check_identifier(s.table, "students.table")
    for key in ("id", "archived_column", "merged_into"):
        check_identifier(getattr(s, key), f"students.{key}")
    if s.updated_at is not None:
        check_identifier(s.updated_at, "students.updated_at")
    _check_flag(s.archived_value, "students.archived_value")
    _check_flag(s.active_value, "students.active_value")
    if s.archived_value == s.active_value:
        raise MappingError("students: archived_value and active_value must differ")
    _check_fields(s.fields, STUDENT_FIELDS, "students", _REQUIRED_FIELDS)
    g = mapping.guardians
    check_identifier(g.table, "guardians.table")
    check_identifier(g.id, "guardians.id")
    if g.merged_into is not None:
        check_identifier(g.merged_into, "guardians.merged_into")
    _check_fields(g.fields, GUARDIAN_FIELDS, "guardians", ())
    link = mapping.links
    for key in ("table", "student_id", "guardian_id"):
        check_identifier(getattr(link, key), f"links.{key}")
    for key in ("relationship", "order"):
        if getattr(link, key) is not None:
            check_identifier(getattr(link, key), f"links.{key}")
    if mapping.staff is not None:
        st = mapping.staff
        for key in ("table", "id", "archived_column"):
            check_identifier(getattr(st, key), f"staff.{key}")
        _check_flag(st.archived_value, "staff.archived_value")
        _check_flag(st.active_value, "staff.active_value")
        _check_fields(st.fields, STAFF_FIELDS, "staff", _REQUIRED_FIELDS)
    if mapping.account_links is not None:
        al = mapping.account_links
        for key in ("table", "kind", "first_id", "second_id", "mode"):
            check_identifier(getattr(al, key), f"account_links.{key}")
    validate_history_tables((*mapping.history, *mapping.guardian_history))
    check_identifier(mapping.journal_table, "journal_table")
    check_identifier(mapping.audit_table, "audit_table")
    if mapping.schema is not None:
        check_identifier(mapping.schema, "schema")
    names = [n.casefold() for n in mapping.table_names()]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise MappingError(f"table {twice[0]!r} is named for two roles; each role needs its own")
