"""Columnar encoding of rosters: one integer array per normalised field.

Matching a district compares millions of candidate pairs, so each field
is normalised once per record and stored as integer codes into a shared
vocabulary. Comparisons then work on arrays of codes (and on the few
thousand distinct strings behind them), not on Python objects per pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from attrs import frozen

from .model import Student
from .normalize import (
    name_tokens,
    normalize_email,
    normalize_identifier,
    normalize_name,
    normalize_phone,
    normalize_street,
    normalize_zip,
)

__all__ = ["MISSING", "EncodedSide", "Ragged", "Vocabularies", "Vocabulary", "encode_students"]

MISSING = -1
"""Code of an absent value in every code array."""

IntArray = npt.NDArray[np.int32]
MAX_SURNAME_TOKENS = 3


class Vocabulary:
    """Strings to dense integer codes, shared by both sides of a match."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self.values: list[str] = []

    def code(self, value: str) -> int:
        """The code of ``value``; ``MISSING`` for the empty string."""
        if not value:
            return MISSING
        found = self._index.get(value)
        if found is None:
            found = len(self.values)
            self._index[value] = found
            self.values.append(value)
        return found

    def lookup(self, value: str) -> int:
        """The code of a known value, ``MISSING`` when it never occurred."""
        return self._index.get(value, MISSING)

    def __len__(self) -> int:
        return len(self.values)


@frozen
class Vocabularies:
    """One vocabulary per kind of value, shared by the archived and synced sides."""

    names: Vocabulary
    identifiers: Vocabulary
    places: Vocabulary
    contacts: Vocabulary

    @classmethod
    def new(cls) -> Vocabularies:
        return cls(Vocabulary(), Vocabulary(), Vocabulary(), Vocabulary())


@frozen
class Ragged:
    """A list of code lists per record, stored as CSR (``indptr``, ``values``)."""

    indptr: npt.NDArray[np.int64]
    values: IntArray

    def owners(self) -> npt.NDArray[np.int64]:
        """The record index of every entry of ``values``."""
        counts = np.diff(self.indptr)
        return np.repeat(np.arange(len(counts), dtype=np.int64), counts)

    @classmethod
    def build(cls, lists: Sequence[Sequence[int]]) -> Ragged:
        lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        indptr = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        flat = [code for codes in lists for code in codes]
        return cls(indptr, np.asarray(flat, dtype=np.int32))


@frozen
class EncodedSide:
    """The normalised fields of one side, one array entry per student."""

    ids: tuple[str, ...]
    first: IntArray  # whole given name, normalised
    first_token: IntArray  # first word of the given name
    middle: IntArray
    last: IntArray  # whole surname, normalised, words separated by spaces
    last_key: IntArray  # surname without spaces (De La Cruz == DeLaCruz)
    last_tokens: IntArray  # (n, 3) surname words, MISSING-padded
    dob: IntArray  # yyyymmdd
    grade: npt.NDArray[np.int16]
    gender: npt.NDArray[np.int8]  # 0 missing, 1 F, 2 M, 3 X
    school: IntArray
    sis_id: IntArray
    state_id: IntArray
    student_number: IntArray
    email: IntArray
    street: IntArray
    zip: IntArray
    guardian_phones: Ragged
    guardian_emails: Ragged
    has_contacts: npt.NDArray[np.bool_]
    has_dob_column: bool

    def __len__(self) -> int:
        return len(self.ids)


GRADE_MISSING = -99
_GENDER_CODES = {"F": 1, "M": 2, "X": 3}


def encode_students(
    students: Sequence[Student],
    vocab: Vocabularies,
    *,
    has_dob_column: bool = True,
    phone_region: str = "US",
) -> EncodedSide:
    """Normalise every matching field of ``students`` into code arrays."""
    n = len(students)
    names = vocab.names
    idents = vocab.identifiers
    places = vocab.places
    contacts = vocab.contacts

    first = np.empty(n, np.int32)
    first_token = np.empty(n, np.int32)
    middle = np.empty(n, np.int32)
    last = np.empty(n, np.int32)
    last_key = np.empty(n, np.int32)
    last_tokens = np.full((n, MAX_SURNAME_TOKENS), MISSING, np.int32)
    dob = np.full(n, MISSING, np.int32)
    grade = np.full(n, GRADE_MISSING, np.int16)
    gender = np.zeros(n, np.int8)
    school = np.empty(n, np.int32)
    sis_id = np.empty(n, np.int32)
    state_id = np.empty(n, np.int32)
    student_number = np.empty(n, np.int32)
    email = np.empty(n, np.int32)
    street = np.empty(n, np.int32)
    zip_ = np.empty(n, np.int32)
    phone_lists: list[list[int]] = []
    email_lists: list[list[int]] = []
    has_contacts = np.zeros(n, np.bool_)

    for i, s in enumerate(students):
        given = normalize_name(s.first_name)
        first[i] = names.code(given)
        first_token[i] = names.code(given.split(" ", 1)[0])
        middle_name = normalize_name(s.middle_name)
        middle[i] = names.code(middle_name.split(" ", 1)[0])
        surname = normalize_name(s.last_name)
        last[i] = names.code(surname)
        last_key[i] = names.code(surname.replace(" ", ""))
        for j, token in enumerate(name_tokens(s.last_name)[:MAX_SURNAME_TOKENS]):
            last_tokens[i, j] = names.code(token)
        if s.dob is not None:
            dob[i] = s.dob.year * 10000 + s.dob.month * 100 + s.dob.day
        if s.grade is not None:
            grade[i] = s.grade
        gender[i] = _GENDER_CODES.get(s.gender or "", 0)
        school[i] = places.code((s.school_id or "").strip())
        sis_id[i] = idents.code("sis:" + normalize_identifier(s.sis_id) if s.sis_id else "")
        state_id[i] = idents.code("state:" + normalize_identifier(s.state_id) if s.state_id else "")
        student_number[i] = idents.code(
            "num:" + normalize_identifier(s.student_number) if s.student_number else ""
        )
        email[i] = idents.code(normalize_email(s.email))
        street[i] = places.code(normalize_street(s.street))
        zip_[i] = places.code(normalize_zip(s.zip))
        phones: list[int] = []
        emails: list[int] = []
        for c in s.contacts:
            phone = normalize_phone(c.phone, phone_region)
            if phone:
                phones.append(contacts.code(phone))
            mail = normalize_email(c.email)
            if mail:
                emails.append(contacts.code(mail))
        has_contacts[i] = bool(phones or emails)
        phone_lists.append(sorted(set(phones)))
        email_lists.append(sorted(set(emails)))

    return EncodedSide(
        ids=tuple(s.id for s in students),
        first=first,
        first_token=first_token,
        middle=middle,
        last=last,
        last_key=last_key,
        last_tokens=last_tokens,
        dob=dob,
        grade=grade,
        gender=gender,
        school=school,
        sis_id=sis_id,
        state_id=state_id,
        student_number=student_number,
        email=email,
        street=street,
        zip=zip_,
        guardian_phones=Ragged.build(phone_lists),
        guardian_emails=Ragged.build(email_lists),
        has_contacts=has_contacts,
        has_dob_column=has_dob_column,
    )
