"""The content hashes a plan records of each student."""

from __future__ import annotations

import datetime as dt

from conftest import contact, make_student

from merge_engine._record_hash import student_hash, student_hashes
from merge_engine.testing.synthetic import generate_district


def test_hashes_of_many_students_equal_one_at_a_time() -> None:
    """student_hashes gives student_hash of each student, with and without contacts."""
    students = [
        *generate_district(300, seed=3).archived.students,
        make_student("k", "Ana", "Ruiz", grade=0, dob=dt.date(2015, 1, 2)),  # Kindergarten
        make_student("n", "Bo", "Li", contacts=[contact("g2"), contact("g1")]),
    ]
    untyped = [*students[:3], make_student("u", "Cy", "Ng", school_id=7)]  # type: ignore[arg-type]

    assert [student_hash(s) for s in students] == student_hashes(students)
    assert [student_hash(s, contacts=False) for s in students] == student_hashes(
        students, contacts=False
    )
    assert [student_hash(s) for s in untyped] == student_hashes(untyped)


def test_a_hash_covers_the_guardian_accounts_in_id_order() -> None:
    """The same record with its guardians listed in another order hashes the same."""
    one = make_student("n", "Bo", "Li", contacts=[contact("g2"), contact("g1")])
    other = make_student("n", "Bo", "Li", contacts=[contact("g1"), contact("g2")])
    alone = make_student("n", "Bo", "Li")

    assert student_hashes([one])[0] == student_hashes([other])[0]
    assert student_hashes([one])[0] != student_hashes([alone])[0]
