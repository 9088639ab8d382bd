"""Columnar encoding of rosters: one integer array per normalised field.

Matching a district compares millions of candidate pairs, so each field
is normalised once per record and stored as integer codes into a shared
vocabulary. Comparisons then work on arrays of codes (and on the few
thousand distinct strings behind them), not on Python objects per pair.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from attrs import frozen

from ..model import Student
from ._arrays import sorted_order, unique
from ._normalize import (
    name_tokens,
    normalize_emails,
    normalize_identifiers,
    normalize_name,
    normalize_phones,
    normalize_streets,
    normalize_zip,
)

__all__ = ["MISSING", "EncodedSide", "Ragged", "Vocabularies", "Vocabulary", "encode_students"]

MISSING = -1
"""Code of an absent value in every code array."""

IntArray = npt.NDArray[np.int32]
_T = TypeVar("_T")
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

    def codes(self, values: list[str]) -> list[int]:
        """``code`` of each value, new values numbered in order (a comprehension of C calls:
        encoding numbers about a million values)."""
        index = self._index
        known = len(index)
        setdefault = index.setdefault
        found = [setdefault(v, len(index)) if v else MISSING for v in values]
        if len(index) > known:  # the new values, in the order they were numbered
            self.values.extend(itertools.islice(index, known, None))
        return found

    def lookup(self, value: str) -> int:
        """The code of a known value, ``MISSING`` when it never occurred."""
        return self._index.get(value, MISSING)

    def __len__(self) -> int:
        return len(self.values)

    def sealed(self, *, values: bool = True) -> Vocabulary:
        """This vocabulary, read-only, without its lookup index (and without ``values``
        unless asked): what matching reads of a vocabulary once both sides are encoded,
        without the index's int per value (or the values themselves)."""
        return _SealedVocabulary(self.values if values else None, len(self))


class _SealedVocabulary(Vocabulary):
    """A :meth:`Vocabulary.sealed` vocabulary: its size, maybe its values, no new codes."""

    def __init__(self, values: list[str] | None, size: int) -> None:
        super().__init__()
        self.values = values if values is not None else []
        self._size = size

    def code(self, value: str) -> int:
        raise TypeError("a sealed vocabulary takes no new values")

    def codes(self, values: list[str]) -> list[int]:
        raise TypeError("a sealed vocabulary takes no new values")

    def lookup(self, value: str) -> int:
        raise TypeError("a sealed vocabulary has no lookup index")

    def __len__(self) -> int:
        return self._size


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

    def sealed(self) -> Vocabularies:
        """These vocabularies once both sides are encoded: matching codes new names (name
        variants) but reads only the identifier and place values and the number of contact
        values, so those drop their lookup index (and the contact values) to save memory."""
        return Vocabularies(
            self.names,
            self.identifiers.sealed(),
            self.places.sealed(),
            self.contacts.sealed(values=False),
        )


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
    guardian_names: Ragged  # each guardian's given name and surname, both present
    #: Each guardian's given name alone (for an unnamed guardian, the name an email starts
    #: with: edna.chen@... is Edna), unless it is the child's own surname.
    guardian_given: Ragged
    #: Guardian account ids, coded per side (never compared across sides): one account
    #: linked to two records of one side is one household (or one child typed twice).
    guardian_accounts: Ragged
    has_contacts: npt.NDArray[np.bool_]
    has_dob_column: bool

    def __len__(self) -> int:
        return len(self.ids)


GRADE_MISSING = -99
_GENDER_CODES = {"F": 1, "M": 2, "X": 3}


def _codes(
    raw: Sequence[str | None],
    vocab: Vocabulary,
    normalise: Callable[[str], str] | None = None,
    *,
    many: Callable[[list[str]], list[str]] | None = None,
) -> IntArray:
    """Codes of normalised values, normalising each distinct raw value once.

    This is the hot loop of encoding (a district has hundreds of thousands
    of distinct identifiers and phones): ``many`` normalises all distinct
    values in one call where that is faster than ``normalise`` on each, and
    the vocabulary numbers them in one comprehension.
    """
    # The distinct raw values, in order of first occurrence.
    table: dict[str | None, int] = dict.fromkeys(raw, MISSING)
    table.pop(None, None)
    table.pop("", None)
    distinct: list[str] = list(table)  # type: ignore[arg-type]
    if many is not None:
        normals = many(distinct)
    else:
        assert normalise is not None
        normals = list(map(normalise, distinct))
    table = dict(zip(distinct, vocab.codes(normals), strict=True))
    table[None] = table[""] = MISSING
    return np.fromiter(map(table.__getitem__, raw), np.int32, count=len(raw))


def _unique_codes(
    raw: Sequence[str | None], vocab: Vocabulary, many: Callable[[list[str]], list[str]]
) -> IntArray:
    """:func:`_codes` of a column whose values seldom repeat (identifiers, streets, each
    guardian's phone, email and account): every value is normalised and coded, skipping the
    search for distinct ones, which costs more than it saves there (at a million students,
    each pass over a dict of a million values is mostly cache misses). Only the rows with a
    value are (many have none); the vocabulary numbers new values in the same order (first
    occurrence)."""
    if all(raw):  # every row has a value (a synced roster's identifiers): no selection
        return np.array(vocab.codes(many(raw)), np.int32)  # type: ignore[arg-type]
    present = list(map(bool, raw))
    codes = np.full(len(raw), MISSING, np.int32)
    codes[np.flatnonzero(np.array(present, np.bool_))] = vocab.codes(
        many(list(itertools.compress(raw, present)))  # type: ignore[arg-type]
    )
    return codes


def _distinct(raw: Sequence[str | None]) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The distinct values of ``raw`` but ``None`` and ``""``, in order of first occurrence,
    and each row's index among them (``-1`` for ``None`` and ``""``)."""
    table: dict[str | None, int] = dict.fromkeys(raw, MISSING)
    table.pop(None, None)
    table.pop("", None)
    distinct: list[str] = list(table)  # type: ignore[arg-type]
    table = dict(zip(distinct, range(len(distinct)), strict=True))
    table[None] = table[""] = MISSING
    return distinct, np.fromiter(map(table.__getitem__, raw), np.int64, count=len(raw))


def _distinct_objects(items: list[_T]) -> tuple[list[_T], npt.NDArray[np.int64]]:
    """The distinct objects of ``items`` by identity, in order of first occurrence, and each
    item's index among them. Identities are sorted as integers, in C: hashing a frozen value
    is slow, and a dict of a million identities (the guardians of a million students) costs
    more than twice as much in cache misses."""
    keys = np.fromiter(map(id, items), np.uint64, count=len(items))
    by_key, ordered = sorted_order(keys)  # stable: each identity's first item comes first
    starts = np.ones(len(keys), np.bool_)
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    inverse = np.empty(len(keys), np.int64)
    inverse[by_key] = np.cumsum(starts) - 1
    first = by_key[starts]  # each identity's first item, in the order of the identities
    order, firsts = sorted_order(first)  # the distinct objects by first occurrence
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    index: npt.NDArray[np.int64] = rank[inverse]
    return list(map(items.__getitem__, firsts.tolist())), index


def _codes_of(
    distinct: list[str],
    rows: npt.NDArray[np.int64],
    vocab: Vocabulary,
    normalise: Callable[[str], str],
) -> IntArray:
    """:func:`_codes` of a column already split by :func:`_distinct`."""
    codes = np.array([*vocab.codes(list(map(normalise, distinct))), MISSING], np.int32)
    found: IntArray = codes[rows]  # a missing value's row is -1: the last code, MISSING
    return found


def _ragged(n: int, owners: npt.NDArray[np.int64], codes: IntArray) -> Ragged:
    """Per-record sorted sets of codes (missing codes dropped) as CSR."""
    keep = codes != MISSING
    pairs = unique((owners[keep] << 32) | codes[keep].astype(np.int64))
    rows = pairs >> 32
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return Ragged(indptr, (pairs & 0xFFFFFFFF).astype(np.int32))


def _prefixed(prefix: str) -> Callable[[list[str]], list[str]]:
    return functools.partial(normalize_identifiers, prefix=prefix)


def _coded(vocab: Vocabulary, normals: list[str]) -> IntArray:
    """The codes of values already normalised (``""`` is ``MISSING``)."""
    return np.array(vocab.codes(normals), np.int32)


def _each(values: list[str], normalise: Callable[[str], str]) -> list[str]:
    """``normalise`` of each value, each distinct value normalised once."""
    distinct = list(dict.fromkeys(values))
    table = dict(zip(distinct, map(normalise, distinct), strict=True))
    return list(map(table.__getitem__, values))


def _guardian_names(firsts: list[str], lasts: list[str]) -> list[str]:
    """Each guardian's ``given surname`` (prefixed apart from phones and emails), or ``""``."""
    given, surname = _each(firsts, normalize_name), _each(lasts, _joined)
    return [
        f"name:{first} {last}" if first and last else ""
        for first, last in zip(given, surname, strict=True)
    ]


_EMAIL_WORD = re.compile(r"[a-z]{3,}")


def _guardian_givens(firsts: list[str], emails: list[str], child_lasts: list[str]) -> list[str]:
    """Each guardian's given name (``given:...``): the first word of the given name or, for a
    guardian typed without one, the letters an email starts with; ``""`` when there is none
    or it is the child's own surname."""
    return _guardian_givens_of(
        _guardian_words(firsts, emails),
        list(range(len(firsts))),
        _each(child_lasts, _joined),
    )


def _guardian_words(firsts: list[str], emails: list[str]) -> list[tuple[str, str]]:
    """Each guardian's given-name word (see :func:`_guardian_givens`) and its ``given:`` key
    (``""`` for a word under two letters), each key one string however many children share
    the guardian: the vocabulary then finds it by identity."""
    words = [
        word or (_email_word(email) if email else "")
        for word, email in zip(_each(firsts, _first_word), emails, strict=True)
    ]
    keys = {word: f"given:{word}" if len(word) >= 2 else "" for word in words}
    return [(word, keys[word]) for word in words]


def _guardian_givens_of(
    words: list[tuple[str, str]], guardians: list[int], child_lasts: list[str]
) -> list[str]:
    """The ``given:`` key of guardian ``guardians[k]`` for the child whose joined surname is
    ``child_lasts[k]``: ``""`` when it is that surname."""
    return [
        "" if word == last else key
        for (word, key), last in zip(map(words.__getitem__, guardians), child_lasts, strict=True)
    ]


def _given_codes(
    vocab: Vocabulary,
    words: list[tuple[str, str]],
    guardians: npt.NDArray[np.int64],
    child_lasts: list[str],
    child_rows: npt.NDArray[np.int64],
) -> IntArray:
    """The codes of :func:`_guardian_givens_of` (``guardians[k]``'s key for the child whose
    joined surname is ``child_lasts[child_rows[k]]``), worked out on word numbers in numpy:
    a district has a few thousand given-name words but a million guardian links. New keys
    are numbered in the order of their first link, as coding the list of keys would."""
    number: dict[str, int] = {}
    word_ids = np.array([number.setdefault(word, len(number)) for word, _ in words], np.int64)
    keys = list({word: key for word, key in words}.values())  # by word number
    has_key = np.array([bool(key) for key in keys] + [False], np.bool_)  # -1: no key
    same = np.array([number.get(last, -1) for last in child_lasts], np.int64)
    given = word_ids[guardians]
    given[given == same[child_rows]] = -1  # the child's own surname
    given[~has_key[given]] = -1
    by_word, words_in_order = sorted_order(given)  # stable: each word's first link first
    starts = np.ones(len(given), np.bool_)
    np.not_equal(words_in_order[1:], words_in_order[:-1], out=starts[1:])
    firsts = by_word[starts & (words_in_order >= 0)]
    ordered = given[np.sort(firsts)]  # each keyed word once, by its first link
    codes = np.full(len(keys) + 1, MISSING, np.int32)  # -1: the last entry, MISSING
    codes[ordered] = vocab.codes(list(map(keys.__getitem__, ordered.tolist())))
    result: IntArray = codes[given]
    return result


def _email_word(email: str) -> str:
    word = _EMAIL_WORD.match(email.strip().lower())
    return word.group() if word else ""


def _first_word(value: str) -> str:
    return normalize_name(value).split(" ", 1)[0]


def _joined(value: str) -> str:
    return normalize_name(value).replace(" ", "")


def _school(value: str) -> str:
    return value.strip()


def _stripped(values: list[str]) -> list[str]:
    return list(map(str.strip, values))


def encode_students(
    students: Sequence[Student],
    vocab: Vocabularies,
    *,
    has_dob_column: bool = True,
    phone_region: str = "US",
) -> EncodedSide:
    """Normalise every matching field of ``students`` into code arrays.

    Work is column-wise and each distinct raw value is normalised once:
    a district has far fewer distinct names than students.
    """
    n = len(students)
    names = vocab.names
    firsts = [s.first_name for s in students]
    lasts = [s.last_name for s in students]

    # Given names and surnames are coded several ways: each row is looked up once.
    first_values, first_rows = _distinct(firsts)
    last_values, last_rows = _distinct(lasts)

    # Each distinct surname's words coded once (in order of first occurrence), padded.
    padding = [MISSING] * MAX_SURNAME_TOKENS
    token_rows = np.array(
        [
            ([names.code(t) for t in name_tokens(value)[:MAX_SURNAME_TOKENS]] + padding)[
                :MAX_SURNAME_TOKENS
            ]
            for value in last_values
        ]
        + [padding],  # the row of a missing surname (index -1)
        np.int32,
    ).reshape(len(last_values) + 1, MAX_SURNAME_TOKENS)
    last_tokens = token_rows[last_rows]

    # Each distinct birth date as yyyymmdd once (a district has a few thousand).
    dobs = [s.dob for s in students]
    yyyymmdd = {d: d.year * 10000 + d.month * 100 + d.day if d else MISSING for d in set(dobs)}
    dob = np.fromiter(map(yyyymmdd.__getitem__, dobs), np.int32, count=n)
    grade = np.fromiter(
        (GRADE_MISSING if s.grade is None else s.grade for s in students), np.int16, count=n
    )
    gender = np.fromiter((_GENDER_CODES.get(s.gender or "", 0) for s in students), np.int8, count=n)

    linked = [s.contacts for s in students]
    owners = np.repeat(np.arange(n, dtype=np.int64), np.fromiter(map(len, linked), np.int64, n))
    # A guardian of several children is one shared Contact (the readers share equal rows):
    # its fields are normalised and coded once, then spread to every child by index.
    contacts, which = _distinct_objects(list(itertools.chain.from_iterable(linked)))
    guardian_phones = _ragged(
        n,
        owners,
        _unique_codes(
            [c.phone for c in contacts],
            vocab.contacts,
            functools.partial(normalize_phones, region=phone_region),
        )[which],
    )
    guardian_emails = _ragged(
        n,
        owners,
        _unique_codes([c.email for c in contacts], vocab.contacts, normalize_emails)[which],
    )
    contact_firsts = [c.first_name or "" for c in contacts]
    guardian_names = _ragged(
        n,
        owners,
        _coded(
            vocab.contacts,
            _guardian_names(contact_firsts, [c.last_name or "" for c in contacts]),
        )[which],
    )
    # Whether a guardian's given name is the child's surname is a question per child.
    child_lasts = [*map(_joined, last_values), ""]  # a missing surname's row is -1: ""
    guardian_given = _ragged(
        n,
        owners,
        _given_codes(
            vocab.contacts,
            _guardian_words(contact_firsts, [c.email or "" for c in contacts]),
            which,
            child_lasts,
            last_rows[owners],
        ),
    )
    guardian_accounts = _ragged(
        n, owners, _unique_codes([c.guardian_id for c in contacts], Vocabulary(), _stripped)[which]
    )
    has_contacts = (np.diff(guardian_phones.indptr) + np.diff(guardian_emails.indptr)) > 0

    return EncodedSide(
        ids=tuple(s.id for s in students),
        first=_codes_of(first_values, first_rows, names, normalize_name),
        first_token=_codes_of(first_values, first_rows, names, _first_word),
        middle=_codes([s.middle_name for s in students], names, _first_word),
        last=_codes_of(last_values, last_rows, names, normalize_name),
        last_key=_codes_of(last_values, last_rows, names, _joined),
        last_tokens=last_tokens,
        dob=dob,
        grade=grade,
        gender=gender,
        school=_codes([s.school_id for s in students], vocab.places, _school),
        sis_id=_unique_codes([s.sis_id for s in students], vocab.identifiers, _prefixed("sis:")),
        state_id=_unique_codes(
            [s.state_id for s in students], vocab.identifiers, _prefixed("state:")
        ),
        student_number=_unique_codes(
            [s.student_number for s in students], vocab.identifiers, _prefixed("num:")
        ),
        email=_unique_codes([s.email for s in students], vocab.identifiers, normalize_emails),
        street=_unique_codes([s.street for s in students], vocab.places, normalize_streets),
        zip=_codes([s.zip for s in students], vocab.places, normalize_zip),
        guardian_phones=guardian_phones,
        guardian_emails=guardian_emails,
        guardian_names=guardian_names,
        guardian_given=guardian_given,
        guardian_accounts=guardian_accounts,
        has_contacts=has_contacts,
        has_dob_column=has_dob_column,
    )
