"""Domain values: students, their guardian contacts, staff and rosters.

All values are frozen. Parsing (dates, grades) happens in the readers, so
a ``Student`` always holds clean, typed values; names, phones and emails
are kept as given and normalised by :mod:`merge_engine.matching._normalize` when
matching, so a plan can always show what the source said.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from attrs import field, frozen

__all__ = [
    "Contact",
    "InputWarning",
    "Roster",
    "StaffMember",
    "Student",
]


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@frozen
class Contact:
    """One guardian account linked to one student (siblings share ``guardian_id``)."""

    guardian_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    relationship: str | None = None
    sis_id: str | None = None


@frozen
class Student:
    """One student record as the platform holds it.

    ``grade`` is an ordinal: InfantToddler -4, Preschool -3,
    PreKindergarten -2, TransitionalKindergarten -1, Kindergarten 0,
    1..13, PostGraduate 14; ``None`` for missing, Ungraded and Other.
    ``gender`` is ``"F"``, ``"M"``, ``"X"`` or ``None``.
    ``line`` is the first source line of the record (0 when not from a file).
    """

    id: str
    first_name: str
    last_name: str
    middle_name: str | None = None
    dob: dt.date | None = None
    grade: int | None = None
    gender: str | None = None
    school_id: str | None = None
    sis_id: str | None = None
    state_id: str | None = None
    student_number: str | None = None
    email: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    contacts: tuple[Contact, ...] = field(default=(), converter=_tuple)
    line: int = 0

    def __repr__(self) -> str:
        # Names and birth dates are PII: keep them out of reprs that end up in logs.
        return f"<Student {self.id} grade={self.grade} school={self.school_id}>"


@frozen
class StaffMember:
    """A staff account (teacher, administrator)."""

    id: str
    first_name: str
    last_name: str
    email: str | None = None
    phone: str | None = None
    school_id: str | None = None
    sis_id: str | None = None

    def __repr__(self) -> str:
        return f"<StaffMember {self.id} school={self.school_id}>"


@frozen
class InputWarning:
    """A value dropped or repaired while reading; recorded in the plan.

    ``message`` never contains the offending value when it could be PII.
    """

    path: str
    line: int
    column: str | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@frozen
class Roster:
    """Everything read from one side (archived or synced) of a district.

    ``repr`` shows counts only, like ``Student``'s: reprs end up in logs and
    tracebacks, which must hold no PII. The notebook view (``_repr_html_``)
    shows the first students with their names: it is rendered only for the
    person looking at the roster, who holds it anyway.
    """

    students: tuple[Student, ...] = field(converter=_tuple)
    staff: tuple[StaffMember, ...] = field(default=(), converter=_tuple)
    source: str = "<memory>"
    format: str = "native"
    warnings: tuple[InputWarning, ...] = field(default=(), converter=_tuple)
    has_dob_column: bool = True

    def __repr__(self) -> str:
        return (
            f"<Roster {self.format} {len(self.students)} students, "
            f"{len(self.staff)} staff, {len(self.warnings)} warnings>"
        )

    def __len__(self) -> int:
        return len(self.students)

    def _repr_html_(self) -> str:
        from .views._notebook import roster_html  # noqa: PLC0415

        return roster_html(self)

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per student (needs the ``pandas`` extra)."""
        from .views._notebook import roster_to_pandas  # noqa: PLC0415

        return roster_to_pandas(self)
