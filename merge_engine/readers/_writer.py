"""Write a :class:`Roster` as a native roster folder.

The output is data for our own reader, so it favours exact round-trips:
RFC 4180 quoting, UTF-8 without BOM, no spreadsheet-formula escaping (a
leading apostrophe would change names), and a fixed column and row order
so the same roster always produces byte-identical files.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from merge_engine.model import Roster, StaffMember, Student
from merge_engine.readers._native import CONTACT_COLUMNS, STAFF_COLUMNS, STUDENT_COLUMNS
from merge_engine.readers._values import format_grade

__all__ = ["write_roster"]

_GENDERS = frozenset({"F", "M", "X"})


def write_roster(roster: Roster, path: str | os.PathLike[str]) -> None:
    """Write ``students.csv``, ``contacts.csv`` and (if any staff) ``staff.csv`` into ``path``.

    The ``dob`` column is left out when the roster has none
    (``has_dob_column=False`` and no birth dates), so that flag round-trips
    too. The folder is created if needed. Each file is written to a temporary
    name and renamed, so a crash never leaves a half-written file. A stale
    ``staff.csv`` is overwritten (header only) rather than left to be read
    back. Raises :class:`ValueError` for values the native format cannot
    hold (an out-of-range grade, a gender other than F/M/X, an empty id or
    name, a NUL character).
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    rows: Iterable[list[str]] = (_student_row(student) for student in roster.students)
    columns: Sequence[str] = STUDENT_COLUMNS
    if not roster.has_dob_column and all(student.dob is None for student in roster.students):
        # Keep "this source has no birth dates" distinct from "birth dates left blank".
        dob = STUDENT_COLUMNS.index("dob")
        columns = [name for name in STUDENT_COLUMNS if name != "dob"]
        rows = ([*row[:dob], *row[dob + 1 :]] for row in rows)
    _write(folder / "students.csv", columns, rows)
    _write(
        folder / "contacts.csv",
        CONTACT_COLUMNS,
        (
            _check_row(
                [
                    student.id,
                    contact.guardian_id,
                    contact.first_name,
                    contact.last_name,
                    contact.email,
                    contact.phone,
                    contact.relationship,
                    contact.sis_id,
                ],
                required=2,
            )
            for student in roster.students
            for contact in student.contacts
        ),
    )
    staff_path = folder / "staff.csv"
    if roster.staff or staff_path.exists():
        _write(staff_path, STAFF_COLUMNS, (_staff_row(member) for member in roster.staff))


def _student_row(student: Student) -> list[str]:
    if student.gender is not None and student.gender not in _GENDERS:
        raise ValueError(f"student {student.id!r}: gender must be F, M, X or None")
    try:
        grade = format_grade(student.grade)
    except ValueError as error:
        raise ValueError(f"student {student.id!r}: {error}") from None
    _check_row([student.id], required=1)  # an empty name is read back with a warning
    row = _check_row([student.id, student.first_name, student.middle_name], required=0)
    row += _check_row([student.last_name], required=0)
    row += [student.dob.isoformat() if student.dob else "", grade, student.gender or ""]
    row += _check_row(
        [
            student.school_id,
            student.sis_id,
            student.state_id,
            student.student_number,
            student.email,
            student.street,
            student.city,
            student.state,
            student.zip,
        ],
        required=0,
    )
    return row


def _staff_row(member: StaffMember) -> list[str]:
    return _check_row(
        [
            member.id,
            member.first_name,
            member.last_name,
            member.email,
            member.phone,
            member.school_id,
            member.sis_id,
        ],
        required=3,
    )


def _check_row(cells: Sequence[str | None], *, required: int) -> list[str]:
    """Cells as text; the first ``required`` must be non-blank, none may hold NUL."""
    row = ["" if value is None else value for value in cells]
    for index, value in enumerate(row):
        if index < required and not value.strip():
            raise ValueError("an id or name to write is empty; the reader would reject it")
        if "\x00" in value:
            raise ValueError("a value to write contains a NUL character")
    return row


def _write(path: Path, header: Sequence[str], rows: Iterable[list[str]]) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
