"""Encoding rosters into code arrays: the same codes as coding each value on its own."""

from __future__ import annotations

import datetime as dt
import re

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merge_engine.matching._features import (
    GRADE_MISSING,
    MISSING,
    Ragged,
    Vocabularies,
    Vocabulary,
    _guardian_givens,
    _guardian_names,
    encode_students,
)
from merge_engine.matching._normalize import (
    name_tokens,
    normalize_email,
    normalize_identifier,
    normalize_name,
    normalize_phone,
    normalize_street,
    normalize_zip,
    surname_key,
)
from merge_engine.model import Contact, Student


class TestGuardianNames:
    def test_given_name_and_surname_are_normalised_and_joined(self) -> None:
        """A guardian's name is ``given surname``, the surname without spaces; a guardian
        missing either has none."""

        assert ["name:ana delacruz", "", ""] == _guardian_names(
            ["Ana", "", "Bo"], ["De La Cruz", "Smith", ""]
        )


class TestGuardianGivens:
    def test_first_word_of_the_given_name(self) -> None:
        """The given name's first word, lower-cased, is the guardian's given name."""

        assert ["given:mary"] == _guardian_givens(["Mary Ann"], [""], ["Lopez"])

    def test_email_stands_in_for_a_missing_given_name(self) -> None:
        """Without a given name, the letters an email starts with are used."""

        assert ["given:edna", ""] == _guardian_givens(
            ["", ""], [" Edna.Chen@example.com", "42@example.com"], ["Chen", "Chen"]
        )

    def test_the_childs_own_surname_and_short_names_are_not_given_names(self) -> None:
        """A given name equal to the child's surname (typed in the wrong column) or of one
        letter says nothing."""

        assert ["", "", "given:jo"] == _guardian_givens(
            ["Smith", "J", "Jo"], ["", "", ""], ["Smith", "Smith", "Smith"]
        )


class TestVocabulary:
    def test_codes_number_new_values_in_order_and_reuse_known_ones(self) -> None:
        """``codes`` gives what ``code`` gives value by value."""
        one, many = Vocabulary(), Vocabulary()
        values = ["b", "", "a", "b", "c", "a"]
        one.code("z")
        many.code("z")

        expected = [one.code(v) for v in values]

        assert expected == many.codes(values)
        assert one.values == many.values
        assert MISSING == many.codes([""])[0]


# A reference encoding, value by value: what encode_students must give, however it
# batches, deduplicates and shares the work (column by column, vocabulary by vocabulary,
# in the order it numbers new values).


def _reference(
    students: list[Student], vocab: Vocabularies, *, region: str = "US"
) -> dict[str, object]:
    names, ids, places, contacts = vocab.names, vocab.identifiers, vocab.places, vocab.contacts

    def codes(vocabulary: Vocabulary, normals: list[str]) -> list[int]:
        return [vocabulary.code(v) for v in normals]

    def identifier(prefix: str, value: str | None) -> str:
        normal = normalize_identifier(value)
        return prefix + normal if normal else ""

    def ragged(per_student: list[list[int]]) -> Ragged:
        return Ragged.build([sorted(set(c) - {MISSING}) for c in per_student])

    tokens = [
        ([names.code(t) for t in name_tokens(s.last_name)[:3]] + [MISSING] * 3)[:3]
        for s in students
    ]
    links = [(s, c) for s in students for c in s.contacts]
    phones = codes(contacts, [normalize_phone(c.phone, region) for _, c in links])
    emails = codes(contacts, [normalize_email(c.email) for _, c in links])
    guardian_names = codes(
        contacts,
        [
            f"name:{normalize_name(c.first_name)} {surname_key(c.last_name)}"
            if normalize_name(c.first_name) and surname_key(c.last_name)
            else ""
            for _, c in links
        ],
    )
    givens = []
    for s, c in links:
        word = normalize_name(c.first_name).split(" ", 1)[0]
        if not word and c.email:
            found = re.match(r"[a-z]{3,}", c.email.strip().lower())
            word = found.group() if found else ""
        givens.append("" if len(word) < 2 or word == surname_key(s.last_name) else f"given:{word}")
    given_codes = codes(contacts, givens)
    accounts = codes(Vocabulary(), [c.guardian_id.strip() for _, c in links])

    def per_student(flat: list[int]) -> Ragged:
        lists: list[list[int]] = [[] for _ in students]
        owners = [i for i, s in enumerate(students) for _ in s.contacts]
        for owner, code in zip(owners, flat, strict=True):
            lists[owner].append(code)
        return ragged(lists)

    first = codes(names, [normalize_name(s.first_name) for s in students])
    first_token = codes(names, [normalize_name(s.first_name).split(" ", 1)[0] for s in students])
    middle = codes(names, [normalize_name(s.middle_name).split(" ", 1)[0] for s in students])
    last = codes(names, [normalize_name(s.last_name) for s in students])
    last_key = codes(names, [surname_key(s.last_name) for s in students])
    school = codes(places, [(s.school_id or "").strip() for s in students])
    sis = codes(ids, [identifier("sis:", s.sis_id) for s in students])
    state = codes(ids, [identifier("state:", s.state_id) for s in students])
    number = codes(ids, [identifier("num:", s.student_number) for s in students])
    email = codes(ids, [normalize_email(s.email) for s in students])
    street = codes(places, [normalize_street(s.street) for s in students])
    zip_code = codes(places, [normalize_zip(s.zip) for s in students])
    guardian_phones, guardian_emails = per_student(phones), per_student(emails)
    return {
        "ids": tuple(s.id for s in students),
        "first": first,
        "first_token": first_token,
        "middle": middle,
        "last": last,
        "last_key": last_key,
        "last_tokens": tokens,
        "dob": [
            s.dob.year * 10000 + s.dob.month * 100 + s.dob.day if s.dob else MISSING
            for s in students
        ],
        "grade": [GRADE_MISSING if s.grade is None else s.grade for s in students],
        "gender": [{"F": 1, "M": 2, "X": 3}.get(s.gender or "", 0) for s in students],
        "school": school,
        "sis_id": sis,
        "state_id": state,
        "student_number": number,
        "email": email,
        "street": street,
        "zip": zip_code,
        "guardian_phones": guardian_phones,
        "guardian_emails": guardian_emails,
        "guardian_names": per_student(guardian_names),
        "guardian_given": per_student(given_codes),
        "guardian_accounts": per_student(accounts),
        "has_contacts": [
            bool(np.diff(guardian_phones.indptr)[i] + np.diff(guardian_emails.indptr)[i])
            for i in range(len(students))
        ],
    }


def _as_lists(value: object) -> object:
    if isinstance(value, Ragged):
        return (value.indptr.tolist(), value.values.tolist())
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


# Few distinct characters, so that values repeat, differ only in case, spacing or
# punctuation, or normalise to nothing.
_texts = st.one_of(
    st.none(),
    st.text(alphabet="aAbé -'.", max_size=6),
    st.sampled_from(["Ann", "ann ", "Mary Ann", "De La Cruz", "Smith", "jr", "O'Neil", "Jo"]),
)
_phones = st.one_of(
    st.none(),
    st.sampled_from(["", "408-555-0101", "(408) 555 0101", "+14085550101", "555-0101", "x12"]),
    st.text(alphabet="0123456789 +-x", max_size=12),
)
_emails = st.one_of(
    st.none(), st.sampled_from(["", "Edna.Chen@x.org", " edna.chen@x.org", "42@x.org", "jo@y"])
)
_identifiers = st.one_of(st.none(), st.text(alphabet="0012 -aB", max_size=5))


@st.composite
def _contacts(draw: st.DrawFn) -> Contact:
    return Contact(
        guardian_id=draw(st.sampled_from(["g1", "g2", " g1", "g3"])),
        first_name=draw(_texts),
        last_name=draw(_texts),
        email=draw(_emails),
        phone=draw(_phones),
    )


@st.composite
def _students(draw: st.DrawFn) -> list[Student]:
    # Contacts drawn from a small pool: a guardian shared by several children is one
    # object (as the readers make it), or an equal copy (as a library user may).
    pool = draw(st.lists(_contacts(), min_size=1, max_size=5))
    shared = st.sampled_from(pool)
    copied = shared.map(attrs.evolve)
    count = draw(st.integers(0, 8))
    return [
        Student(
            id=f"s{i}",
            first_name=draw(_texts) or "",
            last_name=draw(_texts) or "",
            middle_name=draw(_texts),
            dob=draw(st.none() | st.dates(dt.date(2000, 1, 1), dt.date(2020, 12, 31))),
            grade=draw(st.none() | st.integers(-4, 14)),
            gender=draw(st.sampled_from([None, "F", "M", "X"])),
            school_id=draw(st.sampled_from([None, "", "sch1", " sch1", "sch2"])),
            sis_id=draw(_identifiers),
            state_id=draw(_identifiers),
            student_number=draw(_identifiers),
            email=draw(_emails),
            street=draw(st.sampled_from([None, "", "1 Main Street", "1 main st", "2 Oak Av"])),
            zip=draw(st.sampled_from([None, "", "95014", "95014-1234", "2134"])),
            contacts=draw(st.lists(shared | copied, max_size=3)),
        )
        for i in range(count)
    ]


class TestEncodeStudents:
    @settings(max_examples=300, deadline=None)
    @given(archived=_students(), synced=_students())
    def test_same_codes_as_encoding_value_by_value(
        self, archived: list[Student], synced: list[Student]
    ) -> None:
        """Both sides encode to the codes (and the vocabularies to the values) that coding
        each record's values one by one gives: sharing a guardian's Contact between
        children, or skipping the search for distinct identifiers, changes nothing."""
        vocab, expected_vocab = Vocabularies.new(), Vocabularies.new()

        found = [encode_students(side, vocab) for side in (archived, synced)]
        expected = [_reference(side, expected_vocab) for side in (archived, synced)]

        for side, reference in zip(found, expected, strict=True):
            assert {name: _as_lists(value) for name, value in reference.items()} == {
                name: _as_lists(getattr(side, name)) for name in reference
            }
        for name in ("names", "identifiers", "places", "contacts"):
            assert getattr(expected_vocab, name).values == getattr(vocab, name).values


class TestSealedVocabularies:
    def test_sealed_vocabularies_keep_what_matching_reads(self) -> None:
        """Sealed, the vocabularies keep the name vocabulary as it was (still coding name
        variants), the identifier and place values, and the number of contact values."""
        vocab = Vocabularies.new()
        encode_students(
            [
                Student(
                    "s1",
                    "Ann",
                    "Lee",
                    sis_id="7",
                    street="1 Main St",
                    contacts=[Contact("g", phone="408-555-0101")],
                )
            ],
            vocab,
        )

        sealed = vocab.sealed()

        assert vocab.names is sealed.names
        assert vocab.identifiers.values == sealed.identifiers.values
        assert vocab.places.values == sealed.places.values
        assert len(vocab.contacts) == len(sealed.contacts) > 0
        with pytest.raises(TypeError):
            sealed.identifiers.code("sis:8")
        with pytest.raises(TypeError):
            sealed.contacts.lookup("+14085550101")
