"""Hand-written guardian rosters: contact rows, students carrying them, student merges."""

from __future__ import annotations

from typing import Literal

from conftest import make_student

from merge_engine import Student
from merge_engine.model import Contact
from merge_engine.plan import Merge

HOME = "(212) 555-0147"
HOME_DOTS = "212.555.0147"
FAMILY_EMAIL = "quix.family@example.org"


def guardian(
    gid: str,
    first: str | None,
    last: str | None = "Quix",
    *,
    email: str | None = None,
    phone: str | None = None,
    rel: str | None = None,
    sis: str | None = None,
) -> Contact:
    """One contact row of guardian ``gid``."""
    return Contact(gid, first, last, email, phone, rel, sis)


def kid(student_id: str, *contacts: Contact, school: str = "sch1", last: str = "Quix") -> Student:
    """A student carrying the given guardian contacts."""
    return make_student(student_id, "Kid", last, school_id=school, contacts=contacts)


def merge(archived_id: str, synced_id: str, decision: Literal["auto", "review"] = "auto") -> Merge:
    """A student merge as the planner would make it (only the ids and decision matter here)."""
    if decision == "review":
        return Merge(archived_id, synced_id, 0.9, "review", 3.0, None, [])
    return Merge(archived_id, synced_id, 0.999, "auto", 12.0, None, [])
