"""The content hashes a plan records of each student, to refuse a merge whose records changed.

Kept apart from the planner (and its numpy) because apply checks them too.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from ._digest import sha256_for
from .model import Student

__all__ = ["guardian_ids", "record_hashes", "student_hash", "student_hashes"]

_FIELDS = (
    "first_name", "middle_name", "last_name", "dob", "grade", "gender", "school_id", "sis_id",
    "state_id", "student_number", "email", "street", "city", "state", "zip",
)  # fmt: skip
_field_values = operator.attrgetter(*_FIELDS)


def student_hash(student: Student, *, contacts: bool = True) -> str:
    """A short content hash of a student record, to detect changes after planning.

    It covers the record's own fields and, unless ``contacts`` is false, the
    ids of its guardian accounts (in id order: a database may not keep the
    export's order). Guardian contact details are not part of it: they
    belong to the account, and a changed phone does not make another child.
    """
    parts = [str(value) if value else "" for value in _field_values(student)]
    if contacts:
        parts += sorted(c.guardian_id for c in student.contacts)
    return sha256_for(1)("\x1f".join(parts).encode()).hexdigest()[:16]


def student_hashes(students: Sequence[Student], *, contacts: bool = True) -> list[str]:
    """:func:`student_hash` of each student (a plan hashes every record of a district).

    Each record's fields are read in one C call and turned into text through a table
    (``None`` and grade 0 are empty, each distinct birth date and grade is made text
    once, strings stay as they are) instead of a Python call per field and record."""
    texts: dict[Any, str] = {None: "", 0: ""}
    for name in ("dob", "grade"):
        texts.update((v, str(v)) for v in set(map(operator.attrgetter(name), students)) if v)
    text = texts.get
    try:
        lines = ["\x1f".join(map(text, row, row)) for row in map(_field_values, students)]
    except TypeError:  # a field that is neither text nor one of the table's values
        return [student_hash(s, contacts=contacts) for s in students]
    if contacts:
        lines = [
            line + "".join(sorted("\x1f" + c.guardian_id for c in s.contacts))
            if s.contacts
            else line
            for line, s in zip(lines, students, strict=True)
        ]
    sha256 = sha256_for(len(students))
    return [sha256(line.encode()).hexdigest()[:16] for line in lines]


def guardian_ids(student: Student) -> tuple[str, ...]:
    """The student's guardian account ids, sorted (what a merge records of its synced student)."""
    return tuple(sorted({c.guardian_id for c in student.contacts}))


def record_hashes(archived: Student, synced: Student) -> dict[str, Any]:
    """The ``archived_hash``, ``synced_hash`` and ``synced_guardians`` a merge of the two records
    carries (for building a :class:`~merge_engine.plan.Merge` by hand)."""
    return {
        "archived_hash": student_hash(archived),
        "synced_hash": student_hash(synced, contacts=False),
        "synced_guardians": guardian_ids(synced),
    }
