"""The native roster format: ``students.csv`` plus optional ``contacts.csv``, ``staff.csv``.

This is the format :func:`merge_engine.readers.write_roster` writes and the
one admins fill by hand, so headers are matched case-insensitively, unknown
columns are ignored, and contacts may give one ``name`` instead of a split one.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Sequence
from typing import Any, cast

import attrs

from merge_engine.exceptions import InputError
from merge_engine.model import Contact, InputWarning, Roster, StaffMember, Student
from merge_engine.readers._csvfile import Folder, Table, Warnings, cell
from merge_engine.readers._values import split_name

__all__ = ["CONTACT_COLUMNS", "STAFF_COLUMNS", "STUDENT_COLUMNS", "read_native"]

#: Columns in the order the writer emits them.
STUDENT_COLUMNS = (
    "id",
    "first_name",
    "middle_name",
    "last_name",
    "dob",
    "grade",
    "gender",
    "school_id",
    "sis_id",
    "state_id",
    "student_number",
    "email",
    "street",
    "city",
    "state",
    "zip",
)
CONTACT_COLUMNS = (
    "student_id",
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "relationship",
    "sis_id",
)
STAFF_COLUMNS = ("id", "first_name", "last_name", "email", "phone", "school_id", "sis_id")

#: Columns not pooled: values that differ from row to row (identifiers, streets), and a
#: guardian's own contact details (shared with the whole :class:`Contact` instead).
#: Pooling them costs more time than it saves memory (measured at 150,000 students).
_UNPOOLED_STUDENT_COLUMNS = ("id", "sis_id", "state_id", "student_number", "email", "street")
_UNPOOLED_CONTACT_COLUMNS = ("student_id", "id", "email", "phone", "sis_id")
_HINT = " the native format (or pass format= for a Clever or OneRoster export)"


def read_native(folder: Folder) -> Roster:
    """Read a native roster folder; see the module docstring for the columns.

    The files are read column by column: each distinct date, grade and gender
    is parsed once, each distinct name, place or contact value is held once
    (the folder's pool), and a guardian listed with the same details for
    several children is one shared :class:`Contact`.
    """
    table = folder.required(
        "students.csv",
        "native format: students.csv with columns id, first_name, last_name; "
        "optional contacts.csv and staff.csv",
        pool_except=_UNPOOLED_STUDENT_COLUMNS,
    )
    ids, index = _student_ids(table)
    contact_table = folder.optional("contacts.csv", pool_except=_UNPOOLED_CONTACT_COLUMNS)
    contacts = [()] * len(ids) if contact_table is None else _read_contacts(contact_table, index)
    del contact_table
    students = _build_students(table, ids, contacts, folder.warnings)
    folder.pool.clear()
    staff_table = folder.optional("staff.csv")
    return Roster(
        students=students,
        staff=_read_staff(staff_table) if staff_table is not None else (),
        source=str(folder.path),
        format="native",
        warnings=folder.warnings,
        has_dob_column=table.has("dob"),
    )


def _student_ids(table: Table) -> tuple[Sequence[str], dict[str, int]]:
    """The id of every row, and the row of each id; empty and duplicate ids are refused (they
    would merge two children)."""
    [id_pos, *_] = table.require(("id", "first_name", "last_name"), hint=_HINT)
    ids = table.column(id_pos)
    index = dict(zip(ids, itertools.count()))
    if "" in index or len(index) < len(ids):
        first_line: dict[str, int] = {}
        for row in table.rows:  # the first offending row, as a row by row read finds it
            student_id = table.required_value(row, id_pos)
            if student_id in first_line:
                raise InputError(
                    f"duplicate student id {student_id!r} (also on line "
                    f"{first_line[student_id]}); ids must be unique, so remove or renumber "
                    "one of the rows",
                    path=table.path,
                    line=row.line,
                    column=table.column_name(id_pos),
                )
            first_line[student_id] = row.line
    return ids, index


def _values(table: Table, position: int | None) -> list[str | None]:
    """A column of optional cells: ``None`` when empty."""
    return [value or None for value in table.column(position)]  # faster than a C map of dict.get


def _build_students(
    table: Table,
    ids: Sequence[str],
    contacts: Sequence[tuple[Contact, ...]],
    warnings: Warnings,
) -> list[Student]:
    pos = {name: table.index(name) for name in STUDENT_COLUMNS}
    path = table.path
    lines = table.lines
    problems: list[tuple[int, int, InputWarning]] = []

    def parsed(rank: int, kind: str, name: str, column: str | None = None) -> list[Any]:
        position = pos[name]
        if position is None:
            return [None] * len(ids)
        found, bad = warnings.column(
            kind, path, column or table.header[position], table.column(position), lines
        )
        problems.extend((row, rank, warning) for row, warning in bad)
        return found

    # A row's warnings in the order a row by row read gives them.
    dob = parsed(0, "date", "dob")
    grade = parsed(1, "grade", "grade")
    gender = parsed(2, "gender", "gender")
    first = parsed(3, "name", "first_name", "first_name")
    last = parsed(4, "name", "last_name", "last_name")
    warnings.extend(warning for _, _, warning in sorted(problems, key=lambda p: p[:2]))
    columns: dict[str, Sequence[object]] = {
        "id": ids,
        "first_name": first,
        "last_name": last,
        "dob": dob,
        "grade": grade,
        "gender": gender,
        "contacts": contacts,
        "line": lines,
    }
    for name in STUDENT_COLUMNS:
        if name not in columns:
            columns[name] = _values(table, pos[name])
    # Positional arguments, a column each in the class's field order: a call with eighteen
    # keywords per student costs half as much again.
    fields = (columns[field.name] for field in attrs.fields(Student))
    return list(itertools.starmap(Student, zip(*fields, strict=True)))


def _read_contacts(table: Table, index: dict[str, int]) -> list[tuple[Contact, ...]]:
    """Each student's contacts, in file order; equal rows share one value."""
    student_pos, id_pos = table.require(("student_id", "id"), hint=_HINT)
    found = list(map(index.get, table.column(student_pos)))
    guardian_ids = _values(table, id_pos)
    if None in found or None in guardian_ids:
        _contact_error(table, student_pos, id_pos, index)
    owners = cast(list[int], found)
    del found
    first = _values(table, table.index("first_name"))
    last = _values(table, table.index("last_name"))
    name_pos = table.index("name")
    if name_pos is not None:  # one name column: split it where no split name is given
        for i, name in enumerate(table.column(name_pos)):
            if first[i] is None and last[i] is None:
                given, surname = split_name(name or None)
                first[i], last[i] = given, surname
    # One Contact per distinct row, shared by the equal rows (a guardian's rows for each
    # of their children), each row's in file order.
    made: dict[tuple[str | None, ...], Contact] = {}
    get = made.get
    contacts: list[Contact] = []
    add = contacts.append
    for fields in zip(
        guardian_ids, first, last,
        _values(table, table.index("email")),
        _values(table, table.index("phone")),
        _values(table, table.index("relationship")),
        _values(table, table.index("sis_id")),
        strict=True,
    ):  # fmt: skip
        contact = get(fields)
        if contact is None:
            contact = made[fields] = Contact(*fields)
        add(contact)
    del made, guardian_ids, first, last
    if not all(map(operator.le, owners, itertools.islice(owners, 1, None))):
        order = sorted(range(len(owners)), key=owners.__getitem__)  # stable: file order kept
        contacts = list(map(contacts.__getitem__, order))
        owners = list(map(owners.__getitem__, order))
    bounds = list(map(bisect.bisect_left, itertools.repeat(owners), range(len(index) + 1)))
    ordered: tuple[Contact, ...] = tuple(contacts)
    del contacts, owners
    return [ordered[start:end] for start, end in itertools.pairwise(bounds)]


def _contact_error(table: Table, student_pos: int, id_pos: int, index: dict[str, int]) -> None:
    """Raise for the first contact row without a student id, an id, or a known student."""
    for row in table.rows:
        student_id = table.required_value(row, student_pos)
        table.required_value(row, id_pos)
        if student_id not in index:
            raise InputError(
                f"contact for student id {student_id!r}, which is not in students.csv; "
                "add the student or delete the contact row",
                path=table.path,
                line=row.line,
                column=table.column_name(student_pos),
            )


def _read_staff(table: Table) -> list[StaffMember]:
    id_pos, first_pos, last_pos = table.require(("id", "first_name", "last_name"), hint=_HINT)
    email_pos, phone_pos = table.index("email"), table.index("phone")
    school_pos, sis_pos = table.index("school_id"), table.index("sis_id")
    seen: dict[str, int] = {}
    staff = []
    for row in table.rows:
        staff_id = table.required_value(row, id_pos)
        if staff_id in seen:
            raise InputError(
                f"duplicate staff id {staff_id!r} (also on line {seen[staff_id]}); "
                "remove or renumber one of the rows",
                path=table.path,
                line=row.line,
                column=table.column_name(id_pos),
            )
        seen[staff_id] = row.line
        cells = row.cells
        staff.append(
            StaffMember(
                id=staff_id,
                first_name=table.required_value(row, first_pos),
                last_name=table.required_value(row, last_pos),
                email=cell(cells, email_pos),
                phone=cell(cells, phone_pos),
                school_id=cell(cells, school_pos),
                sis_id=cell(cells, sis_pos),
            )
        )
    return staff
