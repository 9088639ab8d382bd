"""Guardian accounts as columns: one pass over a roster's contact rows, values as integer codes.

Split from :mod:`merge_engine.accounts._guardians`, which matches accounts: a district
has hundreds of thousands of accounts, so matching reads each field as a
column of codes and compares each distinct pair of values once. The value
rules for hand-typed emails and placeholder phones live here because the
columns apply them while gathering.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from attrs import frozen

from ..matching._normalize import (
    normalize_emails,
    normalize_identifiers,
    normalize_name,
    normalize_phones,
)
from ..model import Roster

__all__ = ["GuardianAccount"]

I64 = npt.NDArray[np.int64]


@frozen
class GuardianAccount:
    """One guardian account as seen on one side, gathered from all its contact rows."""

    id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    sis_id: str
    relationships: tuple[str, ...]
    student_ids: tuple[str, ...]


_PLAIN_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def _email_parts(email: str) -> tuple[str, str]:
    """An address without its "@" and top-level domain, and that domain (``""`` if none)."""
    address = "".join(email.split())
    domain = address.rpartition("@")[2]
    body, dot, tld = domain.rpartition(".")
    if not (dot and body and tld.isalpha()):
        return address.replace("@", ""), ""
    return address[: -len(tld) - 1].replace("@", ""), tld


def _email_level(a: str, b: str) -> str:
    """Two normalised addresses compared, forgiving the slips of a hand-typed one.

    A hand-typed address may gain a space or a second "@", or lose its "@"
    or its top-level domain (``pat@example`` for ``pat@example.org``): none
    of these makes one person's address another's. Two well-formed
    addresses are the same only when equal.
    """
    if not a or not b:
        return "missing"
    if a == b:
        return "exact"
    if _PLAIN_EMAIL.fullmatch(a) and _PLAIN_EMAIL.fullmatch(b):
        return "different"
    (stem_a, tld_a), (stem_b, tld_b) = _email_parts(a), _email_parts(b)
    same = stem_a == stem_b and (tld_a == tld_b or not tld_a or not tld_b)
    return "exact" if same else "different"


# North American area codes and exchanges never start with 0 or 1: a number
# like 000-000-0000 is a placeholder typed into a required field.
_NO_NUMBER = re.compile(r"\+1(?:[01]\d{9}|\d{3}[01]\d{6})")


def _phone_key(phone: str) -> str:
    """A normalised number as compared: ``""`` for a number no one can have."""
    return "" if _NO_NUMBER.fullmatch(phone) else phone


_RAW = operator.attrgetter("first_name", "last_name", "email", "phone", "sis_id", "relationship")
_GUARDIAN_ID = operator.attrgetter("guardian_id")
_STUDENT_ID = operator.attrgetter("id")
_STUDENT_LAST = operator.attrgetter("last_name")
_CONTACTS = operator.attrgetter("contacts")


@functools.lru_cache(maxsize=4096)
def _relations(raw: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted({r.strip().lower() for r in raw} - {""}))


@functools.lru_cache(maxsize=4096)
def _one_relation(raw: str | None) -> tuple[str, ...]:
    return _relations(frozenset({raw})) if raw else ()


class _Coded:
    """One column as integer codes: equal values share a code (``values[code]`` is the value)."""

    __slots__ = ("_code", "_first", "_unified", "codes", "values")

    def __init__(self, column: Sequence[Any]) -> None:
        first: dict[Any, int] = {}  # value -> position of its first appearance
        seen = np.fromiter(map(first.setdefault, column, itertools.count()), np.int64, len(column))
        self.values = list(first)
        self._first = first
        self._code = np.full(len(column), -1, np.int64)
        self._code[np.fromiter(first.values(), np.int64, len(first))] = np.arange(len(first))
        self.codes: I64 = self._code[seen]
        # Another column's values in this one's code space, by that column (see _unify).
        self._unified: dict[int, tuple[_Coded, I64]] = {}

    @classmethod
    def joint(cls, old: Sequence[Any], new: Sequence[Any]) -> tuple[_Coded, _Coded]:
        """Both sides' column coded in one pass: each side its own codes, and the new side's
        values placed in the old side's code space already (see ``_unify``).

        One dictionary for both, so that no value is looked up again: half the
        cost of coding the two columns apart and then placing each new value.
        """
        first: dict[Any, int] = {}  # value -> position of its first appearance in old + new
        n_old, total = len(old), len(old) + len(new)
        seen = np.fromiter(
            map(first.setdefault, itertools.chain(old, new), itertools.count()), np.int64, total
        )
        values = list(first)
        position = np.fromiter(first.values(), np.int64, len(first))  # increasing
        n_old_values = int(np.searchsorted(position, n_old))  # the values first seen in old
        old_code = np.full(total, -1, np.int64)
        old_code[position[:n_old_values]] = np.arange(n_old_values)
        held = np.zeros(total, np.bool_)
        held[seen[n_old:]] = True
        new_position = np.flatnonzero(held)  # the new side's values, by first position
        new_code = np.full(total, -1, np.int64)
        new_code[new_position] = np.arange(len(new_position))
        new_values = list(map(values.__getitem__, np.searchsorted(position, new_position).tolist()))
        old_side = cls._made(first, old_code, old_code[seen[:n_old]], values[:n_old_values])
        new_side = cls._made(first, new_code, new_code[seen[n_old:]], new_values)
        in_old = old_code[new_position]
        unified = np.where(in_old >= 0, in_old, n_old_values + np.arange(len(new_position)))
        old_side._unified[id(new_side)] = (new_side, unified)
        return old_side, new_side

    @classmethod
    def _made(cls, first: dict[Any, int], code: I64, codes: I64, values: list[Any]) -> _Coded:
        made = cls.__new__(cls)
        made._first, made._code, made.codes, made.values = first, code, codes, values
        made._unified = {}
        return made

    def code_of(self, value: Any) -> int:
        """The code of ``value``, ``-1`` when no row has it."""
        position = self._first.get(value)
        return -1 if position is None else int(self._code[position])

    def codes_of(self, values: Sequence[Any]) -> I64:
        """The code of each value, ``-1`` when no row has it."""
        position = np.fromiter(
            map(self._first.get, values, itertools.repeat(-1)), np.int64, len(values)
        )
        if not len(self._code):  # no rows: nothing has a code
            return np.full(len(values), -1, np.int64)
        found: I64 = np.where(position >= 0, self._code[position], -1)
        return found


class _Columns:
    """One side's guardian accounts as parallel columns, in guardian-id order.

    The same values as :func:`guardian_accounts`, without an object per
    account: a district has hundreds of thousands of accounts, and
    matching reads each field as a column of integer codes (``coded``).
    Each (account, student) link is kept as integer arrays:
    ``row_account``, ``row_student`` (a code per student id:
    ``student_code``, and back: ``student_id``) and, when built from a
    roster, ``row_position`` (the index of the student record in it).
    """

    __slots__ = (
        "_child_surnames",
        "_coded",
        "_memo",
        "_plain",
        "_rows_by_account",
        "_students",
        "email",
        "first",
        "ids",
        "last",
        "phone",
        "relationships",
        "row_account",
        "row_position",
        "row_student",
        "sis",
        "student_code",
        "student_id",
        "student_last",
    )

    def __init__(
        self,
        ids: list[str],
        fields: tuple[list[str], list[str], list[str], list[str], list[str]],
        relationships: list[tuple[str, ...]],
        links: tuple[dict[str, int], list[str], I64, I64, I64 | None],
    ) -> None:
        self.ids = ids
        self.first, self.last, self.email, self.phone, self.sis = fields
        self.relationships = relationships
        self._coded: dict[str, _Coded] = {}
        self._plain: npt.NDArray[np.bool_] | None = None
        self.student_code, self.student_id, self.row_account, self.row_student = links[:4]
        self.row_position = links[4]
        self._students: list[tuple[str, ...]] | None = None
        self.student_last: list[str] = []  # each student code's raw surname (from a roster)
        self._child_surnames: dict[int, frozenset[str]] = {}
        self._rows_by_account: tuple[I64, I64] | None = None
        # Values planning derives once per side (or per pair of sides): see memo.
        self._memo: dict[str, tuple[object, Any]] = {}

    @classmethod
    def from_roster(cls, roster: Roster, phone_region: str = "US") -> _Columns:
        """Gather every contact row; the first non-empty value of each field wins.

        Phones without a country code are read in ``phone_region`` (the
        settings' ``phone_region``), as the students' own phones are.
        """
        # Every step is a C call over a whole column (a district has hundreds of thousands
        # of rows: a Python step per row was most of the cost).
        students = roster.students
        student_id: list[str] = list(map(_STUDENT_ID, students))
        student_last = [name or "" for name in map(_STUDENT_LAST, students)]
        # A student's code is the position of its id's first record: its own, ids being unique.
        student_code = dict(zip(student_id, itertools.count()))
        positions = np.arange(len(students), dtype=np.int64)
        codes = positions
        if len(student_code) < len(student_id):
            student_code = {}
            codes = np.array(list(map(student_code.setdefault, student_id, itertools.count())))
        contact_lists = list(map(_CONTACTS, students))
        per_student = np.fromiter(map(len, contact_lists), np.int64, len(contact_lists))
        rows = list(itertools.chain.from_iterable(contact_lists))
        del contact_lists
        # Each row's account, by the position of the account's first row.
        first_row: dict[str, int] = {}
        seen = list(map(first_row.setdefault, map(_GUARDIAN_ID, rows), itertools.count()))
        ids = sorted(first_row)
        firsts = list(map(first_row.__getitem__, ids))  # each account's first row, by id
        rank = np.zeros(len(rows), np.int64)
        rank[firsts] = np.arange(len(ids))
        row_account = rank[np.array(seen, np.int64)]
        links = (
            student_code,
            student_id,
            row_account,
            np.repeat(codes, per_student),
            np.repeat(positions, per_student),
        )
        if not ids:
            empty = cls([], ([], [], [], [], []), [], links)
            empty.student_last = student_last
            return empty
        values = list(map(_RAW, map(rows.__getitem__, firsts)))
        # Later rows unlike their account's first, in row order. A reader shares one Contact
        # among equal rows, so only the rows holding another object are compared.
        other = list(
            itertools.compress(
                itertools.count(), map(operator.is_not, rows, map(rows.__getitem__, seen))
            )
        )
        changed = [
            (i, w)
            for i, w in zip(
                row_account[other].tolist(), map(_RAW, map(rows.__getitem__, other)), strict=True
            )
            if w != values[i]
        ]
        relations: dict[int, set[str]] = {}  # accounts whose rows name several relationships
        for i, w in changed:
            v = values[i]
            if not all(v[:5]):
                values[i] = (*(a or b for a, b in zip(v[:5], w[:5], strict=True)), v[5])
            if w[5] and w[5] != v[5]:
                relations.setdefault(i, {v[5]} if v[5] else set()).add(w[5])
        first, last, email, phone, sis, relation = zip(*values, strict=True)
        relationships = list(map(_one_relation, relation))
        for i, raw in relations.items():
            relationships[i] = _relations(frozenset(raw))
        fields = (
            list(map(normalize_name, first)),
            list(map(normalize_name, last)),
            normalize_emails([e or "" for e in email]),
            # All at once, as the student encoder does (a Python call per number is
            # most of the cost: a district has hundreds of thousands).
            normalize_phones([p or "" for p in phone], phone_region),
            normalize_identifiers([s or "" for s in sis]),
        )
        columns = cls(ids, fields, relationships, links)
        columns.student_last = student_last
        return columns

    @classmethod
    def from_accounts(cls, accounts: Mapping[str, GuardianAccount]) -> _Columns:
        ids = sorted(accounts)
        rows = [accounts[gid] for gid in ids]
        fields = (
            [a.first_name for a in rows],
            [a.last_name for a in rows],
            [a.email for a in rows],
            [a.phone for a in rows],
            [a.sis_id for a in rows],
        )
        students = [a.student_ids for a in rows]
        student_code: dict[str, int] = {}
        row_student = [
            student_code.setdefault(sid, len(student_code))
            for sid in itertools.chain.from_iterable(students)
        ]
        per_account = np.fromiter(map(len, students), np.int64, len(students))
        row_account = np.repeat(np.arange(len(ids), dtype=np.int64), per_account)
        links = (student_code, list(student_code), row_account, np.array(row_student, np.int64))
        columns = cls(ids, fields, [a.relationships for a in rows], (*links, None))
        columns._students = students
        return columns

    def coded(self, column: str) -> _Coded:
        """One of the columns as integer codes (made on first use).

        ``phone_key`` is the phone as compared (:func:`_phone_key`).
        """
        found = self._coded.get(column)
        if found is None:
            found = self._coded[column] = _Coded(self._column(column))
        return found

    def coded_with(self, other: _Columns, columns: Iterable[str]) -> None:
        """Code ``columns`` of this side (the old one) and of ``other`` together (see
        :meth:`_Coded.joint`), those neither side has coded yet."""
        if other is self:
            return
        for column in columns:
            if column not in self._coded and column not in other._coded:
                self._coded[column], other._coded[column] = _Coded.joint(
                    self._column(column), other._column(column)
                )

    def _column(self, column: str) -> list[Any]:
        values: list[Any] = getattr(self, column) if column != "phone_key" else self._phone_keys()
        return values

    def memo(self, key: str, other: object, make: Callable[[], Any]) -> Any:
        """``make()``, made once per ``key`` and ``other`` (another side, or ``None``).

        District-wide values (how many adults of each sex carry a given name,
        which full names a side holds) are asked for by every decision pass.
        """
        found = self._memo.get(key)
        if found is not None and found[0] is other:
            return found[1]
        value = make()
        self._memo[key] = (other, value)
        return value

    def full_names(self) -> tuple[I64, int]:
        """Each account's given name and surname together as a code (equal names share one),
        and the code of the accounts missing either (``-1`` when none does)."""
        found: tuple[I64, int] = self.memo("full_names", None, self._full_names)
        return found

    def _full_names(self) -> tuple[I64, int]:
        first, last = self.coded("first"), self.coded("last")
        key = first.codes * len(last.values) + last.codes
        key[(first.codes == first.code_of("")) | (last.codes == last.code_of(""))] = -1
        distinct, codes = np.unique(key, return_inverse=True)
        empty = 0 if len(distinct) and distinct[0] < 0 else -1
        return codes.reshape(-1).astype(np.int64), empty

    def _phone_keys(self) -> list[str]:
        keys = list(self.phone)
        for i in itertools.compress(itertools.count(), map(_NO_NUMBER.fullmatch, keys)):
            keys[i] = ""
        return keys

    def child_surnames(self, account: int) -> frozenset[str]:
        """The normalised surnames (and their words) of the students linked to an account."""
        found = self._child_surnames.get(account)
        if found is None:
            if self.row_position is None or not self.student_last:
                found = frozenset()
            else:
                if self._rows_by_account is None:
                    order = np.argsort(self.row_account, kind="stable")
                    pointers = self._pointers(self.row_account, len(self.ids))
                    self._rows_by_account = (pointers, self.row_position[order])
                pointers, positions = self._rows_by_account
                rows = positions[pointers[account] : pointers[account + 1]].tolist()
                names = {normalize_name(self.student_last[p]) for p in rows}
                found = frozenset(names | {w for n in names for w in n.split()}) - {""}
            self._child_surnames[account] = found
        return found

    def plain_email(self) -> npt.NDArray[np.bool_]:
        """Whether each account's email is a well-formed address (see :func:`_email_level`)."""
        if self._plain is None:
            plain = map(bool, map(_PLAIN_EMAIL.fullmatch, self.email))
            self._plain = np.fromiter(plain, np.bool_, len(self.email))
        return self._plain

    @property
    def students(self) -> list[tuple[str, ...]]:
        """The student ids of each account, sorted."""
        if self._students is None:
            order = np.argsort(self.row_account, kind="stable")
            pointers = self._pointers(self.row_account, len(self.ids)).tolist()
            codes = self.row_student[order].tolist()
            sid = self.student_id
            self._students = [
                (sid[codes[start]],)
                if end - start == 1
                else tuple(sorted({sid[c] for c in codes[start:end]}))
                for start, end in itertools.pairwise(pointers)
            ]
        return self._students

    def accounts(self) -> dict[str, GuardianAccount]:
        return {
            a.id: a
            for a in map(
                GuardianAccount,
                self.ids,
                self.first,
                self.last,
                self.email,
                self.phone,
                self.sis,
                self.relationships,
                self.students,
            )
        }

    @staticmethod
    def _pointers(group: I64, size: int) -> I64:
        pointers = np.zeros(size + 1, np.int64)
        np.cumsum(np.bincount(group, minlength=size), out=pointers[1:])
        return pointers

    def by_student(self) -> tuple[I64, I64]:
        """Accounts per student code, as CSR: (pointers, account indices)."""
        order = np.argsort(self.row_student, kind="stable")
        return self._pointers(self.row_student, len(self.student_id)), self.row_account[order]

    def codes_of(self, student_ids: Sequence[str]) -> I64:
        """The code of each student id, ``-1`` for a student not on this side."""
        return np.fromiter(
            map(self.student_code.get, student_ids, itertools.repeat(-1)),
            np.int64,
            len(student_ids),
        )
