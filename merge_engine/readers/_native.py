"""The native roster format: ``students.csv`` plus optional ``contacts.csv``, ``staff.csv``.

This is the format :func:`merge_engine.readers.write_roster` writes and the
one admins fill by hand, so headers are matched case-insensitively, unknown
columns are ignored, and contacts may give one ``name`` instead of a split one.
"""

from __future__ import annotations

from merge_engine.exceptions import InputError
from merge_engine.model import Contact, Roster, StaffMember, Student
from merge_engine.readers._csvfile import Folder, Row, Table, Warnings, cell
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

_HINT = " the native format (or pass format= for a Clever or OneRoster export)"


def read_native(folder: Folder) -> Roster:
    """Read a native roster folder; see the module docstring for the columns."""
    table = folder.required(
        "students.csv",
        "native format: students.csv with columns id, first_name, last_name; "
        "optional contacts.csv and staff.csv",
    )
    rows = _read_students(table)
    contacts: dict[str, list[Contact]] = {student_id: [] for student_id in rows}
    contact_table = folder.optional("contacts.csv")
    if contact_table is not None:
        _read_contacts(contact_table, contacts)
    students = _build_students(table, rows, contacts, folder.warnings)
    staff_table = folder.optional("staff.csv")
    return Roster(
        students=students,
        staff=_read_staff(staff_table) if staff_table is not None else (),
        source=str(folder.path),
        format="native",
        warnings=folder.warnings,
        has_dob_column=table.has("dob"),
    )


def _read_students(table: Table) -> dict[str, Row]:
    """Rows by student id, rejecting duplicates (they would merge two children)."""
    [id_pos, *_] = table.require(("id", "first_name", "last_name"), hint=_HINT)
    rows: dict[str, Row] = {}
    for row in table.rows:
        student_id = table.required_value(row, id_pos)
        previous = rows.get(student_id)
        if previous is not None:
            raise InputError(
                f"duplicate student id {student_id!r} (also on line {previous.line}); "
                "ids must be unique, so remove or renumber one of the rows",
                path=table.path,
                line=row.line,
                column=table.column_name(id_pos),
            )
        rows[student_id] = row
    return rows


def _build_students(
    table: Table,
    rows: dict[str, Row],
    contacts: dict[str, list[Contact]],
    warnings: Warnings,
) -> list[Student]:
    pos = {name: table.index(name) for name in STUDENT_COLUMNS}
    dob_pos, grade_pos, gender_pos = pos["dob"], pos["grade"], pos["gender"]
    path = table.path
    students = []
    for student_id, row in rows.items():
        cells = row.cells
        dob = grade = gender = None
        if dob_pos is not None and cells[dob_pos]:
            dob = warnings.date(path, row.line, table.header[dob_pos], cells[dob_pos])
        if grade_pos is not None and cells[grade_pos]:
            grade = warnings.grade(path, row.line, table.header[grade_pos], cells[grade_pos])
        if gender_pos is not None and cells[gender_pos]:
            gender = warnings.gender(path, row.line, table.header[gender_pos], cells[gender_pos])
        students.append(
            Student(
                id=student_id,
                first_name=warnings.name(
                    path, row.line, "first_name", cells[pos["first_name"] or 0]
                ),
                last_name=warnings.name(path, row.line, "last_name", cells[pos["last_name"] or 0]),
                middle_name=cell(cells, pos["middle_name"]),
                dob=dob,
                grade=grade,
                gender=gender,
                school_id=cell(cells, pos["school_id"]),
                sis_id=cell(cells, pos["sis_id"]),
                state_id=cell(cells, pos["state_id"]),
                student_number=cell(cells, pos["student_number"]),
                email=cell(cells, pos["email"]),
                street=cell(cells, pos["street"]),
                city=cell(cells, pos["city"]),
                state=cell(cells, pos["state"]),
                zip=cell(cells, pos["zip"]),
                contacts=contacts[student_id],
                line=row.line,
            )
        )
    return students


def _read_contacts(table: Table, contacts: dict[str, list[Contact]]) -> None:
    """Append each row's contact to its student, in file order."""
    student_pos, id_pos = table.require(("student_id", "id"), hint=_HINT)
    first_pos, last_pos = table.index("first_name"), table.index("last_name")
    name_pos = table.index("name")
    email_pos, phone_pos = table.index("email"), table.index("phone")
    relationship_pos, sis_pos = table.index("relationship"), table.index("sis_id")
    for row in table.rows:
        cells = row.cells
        student_id = table.required_value(row, student_pos)
        guardian_id = table.required_value(row, id_pos)
        linked = contacts.get(student_id)
        if linked is None:
            raise InputError(
                f"contact for student id {student_id!r}, which is not in students.csv; "
                "add the student or delete the contact row",
                path=table.path,
                line=row.line,
                column=table.column_name(student_pos),
            )
        first, last = cell(cells, first_pos), cell(cells, last_pos)
        if first is None and last is None:
            first, last = split_name(cell(cells, name_pos))
        linked.append(
            Contact(
                guardian_id=guardian_id,
                first_name=first,
                last_name=last,
                email=cell(cells, email_pos),
                phone=cell(cells, phone_pos),
                relationship=cell(cells, relationship_pos),
                sis_id=cell(cells, sis_pos),
            )
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
