"""OneRoster 1.1 CSV: ``users.csv`` plus optional ``demographics.csv``.

Students, guardians and staff share ``users.csv``. Guardian links may be
written on either side (a guardian's ``agentSourcedIds`` lists students, or a
student's lists guardians) and real exports mix both, so both are read and
merged. Birth dates and sex live in ``demographics.csv``.
"""

from __future__ import annotations

import datetime as dt

from merge_engine.exceptions import InputError
from merge_engine.model import Contact, Roster, StaffMember, Student
from merge_engine.readers._csvfile import Folder, Row, Table, Warnings, cell

__all__ = ["GUARDIAN_ROLES", "STAFF_ROLES", "read_oneroster"]

GUARDIAN_ROLES = frozenset({"guardian", "parent", "relative"})
STAFF_ROLES = frozenset(
    {
        "teacher",
        "administrator",
        "aide",
        "proctor",
        # OneRoster 1.2 refinements of "administrator":
        "districtadministrator",
        "principal",
        "siteadministrator",
        "systemadministrator",
    }
)
_STATE_ID_TYPES = frozenset({"state", "stateid", "state_id"})
_HINT = " OneRoster's users.csv (or pass format= for another format)"


def _first(text: str) -> str | None:
    """First item of a comma-separated OneRoster list cell."""
    items = _items(text)
    return items[0] if items else None


def _items(text: str) -> list[str]:
    return [item for item in (part.strip() for part in text.split(",")) if item]


def _state_id(text: str | None) -> str | None:
    """The state id from a ``userIds`` cell such as ``{Fed:123},{State:456}``."""
    for item in _items(text or ""):
        kind, colon, value = item.strip("{}").partition(":")
        if colon and kind.strip().casefold() in _STATE_ID_TYPES and value.strip():
            return value.strip()
    return None


class _Users:
    """Column positions of users.csv and the rows grouped by role."""

    def __init__(self, table: Table, warnings: Warnings) -> None:
        self.table = table
        self.id_pos, self.role_pos, self.first_pos, self.last_pos = table.require(
            ("sourcedId", "role", "givenName", "familyName"), hint=_HINT
        )
        self.agents_pos = table.index("agentSourcedIds")
        self.students: dict[str, Row] = {}
        self.guardians: dict[str, Row] = {}
        self.staff: dict[str, Row] = {}
        self.others: set[str] = set()  # skipped users: links to them are not errors
        status_pos = table.index("status")
        seen: dict[str, int] = {}
        self.known = seen  # every sourcedId -> line
        for row in table.rows:
            user_id = table.required_value(row, self.id_pos)
            if user_id in seen:
                raise InputError(
                    f"duplicate sourcedId {user_id!r} (also on line {seen[user_id]}); "
                    "remove or renumber one of the rows",
                    path=table.path,
                    line=row.line,
                    column=table.column_name(self.id_pos),
                )
            seen[user_id] = row.line
            role = table.required_value(row, self.role_pos).casefold()
            status = (cell(row.cells, status_pos) or "").casefold()
            if status == "tobedeleted":
                warnings.add(
                    table.path,
                    row.line,
                    table.column_name(status_pos or 0),
                    "user is marked tobedeleted; skipped",
                )
                self.others.add(user_id)
            elif role == "student":
                self.students[user_id] = row
            elif role in GUARDIAN_ROLES:
                self.guardians[user_id] = row
            elif role in STAFF_ROLES:
                self.staff[user_id] = row
            else:
                warnings.add(
                    table.path,
                    row.line,
                    table.column_name(self.role_pos),
                    "unknown role; user skipped (expected student, guardian, parent, relative, "
                    "teacher, administrator or aide)",
                )
                self.others.add(user_id)

    def agents(self, row: Row) -> list[str]:
        return _items(row.cells[self.agents_pos]) if self.agents_pos is not None else []


def read_oneroster(folder: Folder) -> Roster:
    """Read a OneRoster 1.1 CSV folder."""
    table = folder.required(
        "users.csv",
        "OneRoster format: users.csv with columns sourcedId, role, givenName, familyName; "
        "optional demographics.csv",
    )
    users = _Users(table, folder.warnings)
    links = _links(users, folder.warnings)
    demographics: dict[str, tuple[dt.date | None, str | None]] = {}
    demographics_table = folder.optional("demographics.csv")
    if demographics_table is not None:
        demographics = _demographics(demographics_table, users, folder.warnings)
    return Roster(
        students=_students(users, links, demographics, folder.warnings),
        staff=_staff(users),
        source=str(folder.path),
        format="oneroster",
        warnings=folder.warnings,
        has_dob_column=demographics_table is not None and demographics_table.has("birthDate"),
    )


def _links(users: _Users, warnings: Warnings) -> dict[str, list[str]]:
    """Guardian ids per student: the student's own list first, then guardians naming it."""
    table = users.table
    column = "agentSourcedIds"
    links: dict[str, list[str]] = {student_id: [] for student_id in users.students}
    for student_id, row in users.students.items():
        for agent in users.agents(row):
            if agent in users.guardians:
                if agent not in links[student_id]:
                    links[student_id].append(agent)
            elif agent not in users.others:
                warnings.add(
                    table.path,
                    row.line,
                    column,
                    f"lists {agent!r}, which is not a guardian, parent or relative in users.csv; "
                    "link ignored",
                )
    for guardian_id, row in users.guardians.items():
        for agent in users.agents(row):
            if agent in users.students:
                if guardian_id not in links[agent]:
                    links[agent].append(guardian_id)
            elif agent not in users.others:
                warnings.add(
                    table.path,
                    row.line,
                    column,
                    f"lists {agent!r}, which is not a student in users.csv; link ignored",
                )
    return links


def _demographics(
    table: Table, users: _Users, warnings: Warnings
) -> dict[str, tuple[dt.date | None, str | None]]:
    (id_pos,) = table.require(("sourcedId",), hint=" OneRoster's demographics.csv")
    dob_pos, sex_pos = table.index("birthDate"), table.index("sex")
    seen: dict[str, int] = {}
    result: dict[str, tuple[dt.date | None, str | None]] = {}
    for row in table.rows:
        user_id = table.required_value(row, id_pos)
        if user_id in seen:
            raise InputError(
                f"duplicate sourcedId {user_id!r} (also on line {seen[user_id]}); "
                "remove one of the rows",
                path=table.path,
                line=row.line,
                column=table.column_name(id_pos),
            )
        seen[user_id] = row.line
        if user_id not in users.students:
            if user_id not in users.known:
                warnings.add(
                    table.path,
                    row.line,
                    table.column_name(id_pos),
                    f"user {user_id!r} is not in users.csv; row ignored",
                )
            continue
        dob = sex = None
        if dob_pos is not None and row.cells[dob_pos]:
            dob = warnings.date(table.path, row.line, table.header[dob_pos], row.cells[dob_pos])
        if sex_pos is not None and row.cells[sex_pos]:
            sex = warnings.gender(table.path, row.line, table.header[sex_pos], row.cells[sex_pos])
        result[user_id] = (dob, sex)
    return result


def _students(
    users: _Users,
    links: dict[str, list[str]],
    demographics: dict[str, tuple[dt.date | None, str | None]],
    warnings: Warnings,
) -> list[Student]:
    table = users.table
    pos = {
        name: table.index(name)
        for name in ("middleName", "email", "identifier", "orgSourcedIds", "grades", "userIds")
    }
    contacts = {gid: _contact(users, gid, row) for gid, row in users.guardians.items()}
    grades_pos = pos["grades"]
    students = []
    for student_id, row in users.students.items():
        cells = row.cells
        grade = None
        first_grade = _first(cells[grades_pos]) if grades_pos is not None else None
        if first_grade is not None:
            grade = warnings.grade(table.path, row.line, table.header[grades_pos or 0], first_grade)
        orgs = cell(cells, pos["orgSourcedIds"])
        dob, gender = demographics.get(student_id, (None, None))
        students.append(
            Student(
                id=student_id,
                first_name=warnings.name(table.path, row.line, "givenName", cells[users.first_pos]),
                last_name=warnings.name(table.path, row.line, "familyName", cells[users.last_pos]),
                middle_name=cell(cells, pos["middleName"]),
                dob=dob,
                grade=grade,
                gender=gender,
                school_id=_first(orgs) if orgs else None,
                sis_id=cell(cells, pos["identifier"]),
                state_id=_state_id(cell(cells, pos["userIds"])),
                email=cell(cells, pos["email"]),
                contacts=[contacts[gid] for gid in links[student_id]],
                line=row.line,
            )
        )
    return students


def _contact(users: _Users, guardian_id: str, row: Row) -> Contact:
    table, cells = users.table, row.cells
    return Contact(
        guardian_id=guardian_id,
        first_name=cells[users.first_pos] or None,
        last_name=cells[users.last_pos] or None,
        email=cell(cells, table.index("email")),
        phone=cell(cells, table.index("phone")) or cell(cells, table.index("sms")),
        relationship=cells[users.role_pos].casefold(),
        sis_id=cell(cells, table.index("identifier")),
    )


def _staff(users: _Users) -> list[StaffMember]:
    table = users.table
    email_pos, phone_pos, sms_pos = table.index("email"), table.index("phone"), table.index("sms")
    org_pos, identifier_pos = table.index("orgSourcedIds"), table.index("identifier")
    staff = []
    for staff_id, row in users.staff.items():
        cells = row.cells
        orgs = cell(cells, org_pos)
        staff.append(
            StaffMember(
                id=staff_id,
                first_name=table.required_value(row, users.first_pos),
                last_name=table.required_value(row, users.last_pos),
                email=cell(cells, email_pos),
                phone=cell(cells, phone_pos) or cell(cells, sms_pos),
                school_id=_first(orgs) if orgs else None,
                sis_id=cell(cells, identifier_pos),
            )
        )
    return staff
