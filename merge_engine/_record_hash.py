"""The content hashes a plan records of each student, to refuse a merge whose records changed.

Kept apart from the planner (and its numpy) because apply checks them too.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Sequence
from typing import Any

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
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def student_hashes(students: Sequence[Student], *, contacts: bool = True) -> list[str]:
    """:func:`student_hash` of each student, a field of all of them at a time (a plan hashes
    every record of a district: a Python call per field and record was most of the cost)."""
    columns = [
        [str(value) if value else "" for value in map(operator.attrgetter(name), students)]
        for name in _FIELDS
    ]
    texts = list(map("\x1f".join, zip(*columns, strict=True)))
    if contacts:
        texts = [
            text + "".join(sorted("\x1f" + c.guardian_id for c in s.contacts))
            for text, s in zip(texts, students, strict=True)
        ]
    sha256 = hashlib.sha256
    return [sha256(text.encode()).hexdigest()[:16] for text in texts]


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
