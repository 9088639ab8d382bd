"""The SHA-256 a plan's record hashes use: the interpreter's own or OpenSSL's, same digests."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from merge_engine._digest import OPENSSL_FROM_RECORDS, sha256_for
from merge_engine._record_hash import student_hash, student_hashes
from merge_engine.testing.synthetic import generate_district


@given(st.binary(max_size=3000), st.binary(max_size=300))
def test_both_constructors_give_hashlibs_digest(data: bytes, more: bytes) -> None:
    for records in (1, OPENSSL_FROM_RECORDS):
        digest = sha256_for(records)(data)
        digest.update(more)

        assert digest.hexdigest() == hashlib.sha256(data + more).hexdigest()


def test_a_small_district_uses_the_interpreters_own_a_large_one_openssls() -> None:
    assert sha256_for(OPENSSL_FROM_RECORDS) is hashlib.sha256
    assert sha256_for(10) is not hashlib.sha256  # CPython is built with its own SHA-256


def test_record_hashes_are_the_same_whichever_serves() -> None:
    students = generate_district(200, seed=5).synced.students

    assert student_hashes(students) == [student_hash(s) for s in students]
    assert student_hashes(students, contacts=False) == [
        student_hash(s, contacts=False) for s in students
    ]
