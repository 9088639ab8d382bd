"""Hand-built planning cases embedded in a generated district (test_planner and others)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from conftest import DOB, FAST, contact, make_student, merges_by_archived

from merge_engine import Roster, Settings, Student, build_plan
from merge_engine.plan import MergePlan
from merge_engine.testing.synthetic import SyntheticDistrict

SCHOOL = "schX"
PHONE = "(212) 555-0147"
EMAIL = "pat.quixby@example.org"


def kid(
    student_id: str,
    first: str,
    *,
    last: str = "Quixby",
    dob: dt.date | None = DOB,
    grade: int = 3,
    synced: bool = False,
    **kw: Any,
) -> Student:
    """A Quixby child; synced records get the next grade and reformatted contacts."""
    phone, email, guardian = (
        (PHONE, EMAIL, "gq-a") if not synced else ("212.555.0147", "PAT.QUIXBY@example.org", "gq-s")
    )
    fields: dict[str, Any] = {
        "dob": dob,
        "grade": grade + 1 if synced else grade,
        "school_id": SCHOOL,
        "street": "17 Larkspur Lane",
        "zip": "10027",
        "contacts": [contact(guardian, phone, email, first_name="Pat", last_name="Quixby")],
        **kw,
    }
    return make_student(student_id, first, last, **fields)


def plan_with(
    background: SyntheticDistrict,
    archived: Sequence[Student],
    synced: Sequence[Student],
    *,
    config: Settings = FAST,
    synced_dob_column: bool = True,
) -> MergePlan:
    bg_synced = background.synced.students
    if not synced_dob_column:
        bg_synced = tuple(
            make_student(s.id, s.first_name, s.last_name, **_without_dob(s)) for s in bg_synced
        )
    return build_plan(
        Roster(background.archived.students + tuple(archived)),
        Roster(bg_synced + tuple(synced), has_dob_column=synced_dob_column),
        config,
    )


def _without_dob(s: Student) -> dict[str, Any]:
    return {
        "middle_name": s.middle_name,
        "grade": s.grade,
        "gender": s.gender,
        "school_id": s.school_id,
        "sis_id": s.sis_id,
        "state_id": s.state_id,
        "student_number": s.student_number,
        "email": s.email,
        "street": s.street,
        "zip": s.zip,
        "contacts": s.contacts,
    }


def targets(plan: MergePlan, archived_id: str) -> list[tuple[str, str]]:
    """(synced id, decision) of every merge of one archived record."""
    return [(m.synced_id, m.decision) for m in merges_by_archived(plan).get(archived_id, [])]
