"""Turning database rows into students and back, shared by the SQL adapters.

Platforms store values their own way (dates as text or DATE, grades as
text or integers, ids as integers), so reading coerces to the model's
types, and a value that cannot be coerced is dropped with a warning that
names the student id, never the value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..model import Contact, InputWarning, Roster, StaffMember, Student
from ._mapping import StorageMapping
from ._schema import GUARDIAN_FIELDS, STAFF_FIELDS, STUDENT_FIELDS
from .codec import encode_value

__all__ = [
    "build_contact",
    "build_roster",
    "build_staff",
    "build_student",
    "guardian_field_names",
    "link_order",
    "mapped",
    "now_iso",
    "plain_row",
    "roster_subset",
    "staff_field_names",
    "student_field_names",
]


def link_order(value: Any) -> int | None:
    """A link's position as read (None when the mapping has no order column)."""
    return None if value is None else int(value)


def mapped(fields: Mapping[str, str | None], names: Sequence[str]) -> list[tuple[str, str]]:
    """``(attribute, column)`` for every attribute the mapping stores, in model order."""
    return [(name, column) for name in names if (column := fields.get(name)) is not None]


def now_iso() -> str:
    """The current UTC time as ISO 8601 text with milliseconds (``...Z``)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _grade(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


_COERCE = {"dob": _date, "grade": _grade}


def build_student(
    values: Sequence[Any],
    fields: Sequence[str],
    contacts: Iterable[Contact],
    warnings: list[InputWarning] | None = None,
    table: str = "students",
) -> Student:
    """A Student from ``(id, *field values)``; unreadable dob/grade become None."""
    student_id = str(values[0])
    kwargs: dict[str, Any] = {}
    for name, value in zip(fields, values[1:], strict=True):
        coerce = _COERCE.get(name, _text)
        try:
            kwargs[name] = coerce(value)
        except (TypeError, ValueError):
            kwargs[name] = None
            if warnings is not None:
                warnings.append(
                    InputWarning(
                        table, 0, name, f"student {student_id}: unreadable {name}; ignored"
                    )
                )
    kwargs.setdefault("first_name", "")
    kwargs.setdefault("last_name", "")
    kwargs["first_name"] = kwargs["first_name"] or ""
    kwargs["last_name"] = kwargs["last_name"] or ""
    return Student(id=student_id, contacts=tuple(contacts), **kwargs)


def build_contact(values: Sequence[Any], fields: Sequence[str], relationship: Any) -> Contact:
    """A Contact from ``(guardian id, *field values)`` and the link's relationship."""
    kwargs = {name: _text(v) for name, v in zip(fields, values[1:], strict=True)}
    return Contact(guardian_id=str(values[0]), relationship=_text(relationship), **kwargs)


def build_staff(values: Sequence[Any], fields: Sequence[str]) -> StaffMember:
    kwargs: dict[str, Any] = {name: _text(v) for name, v in zip(fields, values[1:], strict=True)}
    kwargs["first_name"] = kwargs.get("first_name") or ""
    kwargs["last_name"] = kwargs.get("last_name") or ""
    return StaffMember(id=str(values[0]), **kwargs)


def build_roster(
    student_rows: Iterable[Sequence[Any]],
    staff_rows: Iterable[Sequence[Any]],
    fields: tuple[Sequence[str], Sequence[str]],
    contacts: Mapping[str, list[Contact]],
    table: str,
    source: tuple[str, str],
) -> Roster:
    """A roster from fetched rows; ``fields``: student, staff; ``source``: where, format."""
    warnings: list[InputWarning] = []
    student_fields, staff_fields = fields
    students = [
        build_student(r, student_fields, contacts.get(str(r[0]), ()), warnings, table)
        for r in student_rows
    ]
    return Roster(
        students=students,
        staff=[build_staff(r, staff_fields) for r in staff_rows],
        source=source[0],
        format=source[1],
        warnings=warnings,
        has_dob_column=any(s.dob is not None for s in students),
    )


def roster_subset(roster: Roster, ids: Collection[str]) -> Roster:
    """``roster`` with only the students and staff whose id is in ``ids`` and the students
    linked to a guardian account in ``ids`` (what ``read_roster_of`` reads)."""
    wanted = set(ids)
    return attrs.evolve(
        roster,
        students=[
            s
            for s in roster.students
            if s.id in wanted or any(c.guardian_id in wanted for c in s.contacts)
        ],
        staff=[m for m in roster.staff if m.id in wanted],
    )


def plain_row(columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """One row as JSON-ready plain data, for snapshots."""
    return {c: encode_value(v) for c, v in zip(columns, values, strict=True)}


def student_field_names(mapping: StorageMapping) -> list[tuple[str, str]]:
    return mapped(mapping.students.fields, STUDENT_FIELDS)


def guardian_field_names(mapping: StorageMapping) -> list[tuple[str, str]]:
    return mapped(mapping.guardians.fields, GUARDIAN_FIELDS)


def staff_field_names(mapping: StorageMapping) -> list[tuple[str, str]]:
    if mapping.staff is None:
        return []
    return mapped(mapping.staff.fields, STAFF_FIELDS)
