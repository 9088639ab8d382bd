"""Clever SFTP exports: ``students.csv`` with one row per (student, contact).

Clever repeats the student's own columns on every contact row, so a student
spans several rows, not necessarily adjacent. Those repeats must agree: if
they differ the export is inconsistent and guessing would attach one
child's birth date to another. Clever contacts have no account id, so one is
derived from the email (else phone, else name) to let siblings share it.
Optional ``teachers.csv`` / ``staff.csv`` become staff.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from operator import itemgetter

from merge_engine.exceptions import InputError
from merge_engine.model import Contact, Roster, StaffMember, Student
from merge_engine.readers._csvfile import Folder, Table, Warnings, cell
from merge_engine.readers._values import split_name

__all__ = ["STUDENT_FIELDS", "derive_guardian_id", "read_clever"]

#: Student attribute -> Clever column, for the columns repeated on every row.
STUDENT_FIELDS = (
    ("first_name", "First_name"),
    ("last_name", "Last_name"),
    ("middle_name", "Middle_name"),
    ("school_id", "School_id"),
    ("student_number", "Student_number"),
    ("state_id", "State_id"),
    ("grade", "Grade"),
    ("gender", "Gender"),
    ("dob", "DOB"),
    ("email", "Student_email"),
    ("street", "Student_street"),
    ("city", "Student_city"),
    ("state", "Student_state"),
    ("zip", "Student_zip"),
)
_FIRST, _LAST, _GRADE, _GENDER, _DOB = 0, 1, 6, 7, 8
_HINT = " Clever's students.csv (or pass format= for another format)"


def derive_guardian_id(
    email: str | None, phone: str | None, name: str | None, student_id: str
) -> str:
    """A stable guardian id for a contact without one: same email, same id.

    Keyed on the case-folded email, else the phone digits, else the name
    (scoped to the student, since names alone do not identify a parent).
    The normalisation is deliberately local and simple so ids never change
    when matching rules do.
    """
    if email:
        key = "email:" + email.strip().casefold()
    else:
        digits = "".join(ch for ch in phone or "" if ch.isdigit())
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        if digits:
            key = "phone:" + digits
        elif name:
            key = f"name:{student_id}:{' '.join(name.casefold().split())}"
        else:
            key = "phone:" + (phone or "").strip().casefold()
    return "contact:" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


class _Group:
    """The rows of one student seen so far."""

    __slots__ = ("contacts", "line", "lines", "values")

    def __init__(self, line: int, values: tuple[str, ...]) -> None:
        self.line = line
        self.values = values
        self.lines = [line] * len(values)
        self.contacts: list[Contact] = []


def read_clever(folder: Folder) -> Roster:
    """Read a Clever SFTP folder (``students.csv``, optional teachers/staff files)."""
    table = folder.required(
        "students.csv",
        "Clever format: students.csv with columns School_id, Student_id, First_name, Last_name",
    )
    groups = _group_rows(table, folder.warnings)
    students = _build_students(table, groups, folder.warnings)
    staff: dict[str, tuple[StaffMember, str, int]] = {}
    for name, prefix in (("teachers.csv", "Teacher"), ("staff.csv", "Staff")):
        staff_table = folder.optional(name)
        if staff_table is not None:
            _read_staff(staff_table, prefix, staff, folder.warnings)
    return Roster(
        students=students,
        staff=[member for member, _, _ in staff.values()],
        source=str(folder.path),
        format="clever",
        warnings=folder.warnings,
        has_dob_column=table.has("DOB"),
    )


def _group_rows(table: Table, warnings: Warnings) -> dict[str, _Group]:
    (id_pos,) = table.require(("Student_id",), hint=_HINT)
    table.require(("First_name", "Last_name"), hint=_HINT)
    # Absent columns read the blank cell appended to every row: one C-level getter per row.
    blank = len(table.header)

    def getter(*columns: str) -> Callable[[list[str]], tuple[str, ...]]:
        index = [table.index(column) for column in columns]
        return itemgetter(*(blank if position is None else position for position in index))

    student_values = getter(*(column for _, column in STUDENT_FIELDS))
    contact_values = getter(
        "Contact_name",
        "Contact_email",
        "Contact_phone",
        "Contact_relationship",
        "Contact_sis_id",
        "Contact_type",
    )
    name_column = table.column_name(table.index("Contact_name") or id_pos)
    groups: dict[str, _Group] = {}
    for row in table.rows:
        student_id = table.required_value(row, id_pos)
        cells = [*row.cells, ""]
        values = student_values(cells)
        group = groups.get(student_id)
        if group is None:
            group = groups[student_id] = _Group(row.line, values)
        elif values != group.values:
            _agree(table, group, values, row.line, student_id)
        name, email, phone, relationship, sis_id, kind = contact_values(cells)
        if not (name or email or phone):
            if relationship or sis_id or kind:
                warnings.add(
                    table.path,
                    row.line,
                    name_column,
                    "contact has no name, email or phone; no contact recorded for this row",
                )
            continue
        first, last = split_name(name)
        contact = Contact(
            guardian_id=sis_id or derive_guardian_id(email, phone, name, student_id),
            first_name=first,
            last_name=last,
            email=email or None,
            phone=phone or None,
            relationship=relationship or None,
            sis_id=sis_id or None,
        )
        if contact not in group.contacts:  # an exact repeat adds nothing
            group.contacts.append(contact)
    return groups


def _agree(
    table: Table, group: _Group, values: tuple[str, ...], line: int, student_id: str
) -> None:
    """Fill blanks from a later row; refuse rows that contradict earlier ones."""
    merged = list(group.values)
    for index, value in enumerate(values):
        if not value:
            continue
        known = merged[index]
        if not known:
            merged[index] = value
            group.lines[index] = line
        elif known != value:
            column = STUDENT_FIELDS[index][1]
            raise InputError(
                f"student {student_id!r} has a different {column} here than on line "
                f"{group.lines[index]}; a student's columns must be the same on all their rows, "
                "so correct one of the two lines",
                path=table.path,
                line=line,
                column=table.column_name(table.index(column) or 0),
            )
    group.values = tuple(merged)


def _build_students(table: Table, groups: dict[str, _Group], warnings: Warnings) -> list[Student]:
    path = table.path
    columns = [table.column_name(table.index(column) or 0) for _, column in STUDENT_FIELDS]
    students = []
    for student_id, group in groups.items():
        values = group.values
        for index in (_FIRST, _LAST):
            warnings.name(path, group.line, columns[index], values[index] or "")
        dob = grade = gender = None
        if values[_DOB]:
            dob = warnings.date(path, group.lines[_DOB], columns[_DOB], values[_DOB])
        if values[_GRADE]:
            grade = warnings.grade(path, group.lines[_GRADE], columns[_GRADE], values[_GRADE])
        if values[_GENDER]:
            gender = warnings.gender(path, group.lines[_GENDER], columns[_GENDER], values[_GENDER])
        students.append(
            Student(
                id=student_id,
                first_name=values[_FIRST],
                last_name=values[_LAST],
                middle_name=values[2] or None,
                dob=dob,
                grade=grade,
                gender=gender,
                school_id=values[3] or None,
                sis_id=student_id,
                state_id=values[5] or None,
                student_number=values[4] or None,
                email=values[9] or None,
                street=values[10] or None,
                city=values[11] or None,
                state=values[12] or None,
                zip=values[13] or None,
                contacts=group.contacts,
                line=group.line,
            )
        )
    return students


def _read_staff(
    table: Table,
    prefix: str,
    staff: dict[str, tuple[StaffMember, str, int]],
    warnings: Warnings,
) -> None:
    """Clever lists a teacher once per school: keep the first row of each id."""
    id_pos, first_pos, last_pos = table.require(
        (f"{prefix}_id", "First_name", "Last_name"), hint=f" Clever's {prefix.lower()} file"
    )
    email_pos, school_pos = table.index(f"{prefix}_email"), table.index("School_id")
    number_pos = table.index(f"{prefix}_number")
    for row in table.rows:
        cells = row.cells
        staff_id = table.required_value(row, id_pos)
        member = StaffMember(
            id=staff_id,
            first_name=table.required_value(row, first_pos),
            last_name=table.required_value(row, last_pos),
            email=cell(cells, email_pos),
            school_id=cell(cells, school_pos),
            sis_id=cell(cells, number_pos),
        )
        known = staff.get(staff_id)
        if known is None:
            staff[staff_id] = (member, table.path, row.line)
        elif (known[0].first_name, known[0].last_name) != (member.first_name, member.last_name):
            warnings.add(
                table.path,
                row.line,
                table.column_name(id_pos),
                f"staff id {staff_id!r} appears again with a different name (first at "
                f"{known[1]} line {known[2]}); the first row was kept",
            )
